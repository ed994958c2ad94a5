"""mkctl patch and taint on a real apiserver, each step compared with the real kubectl doing the
same to a twin object: the printed lines, exit status and error texts, and the object left behind."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.mkctl_harness import mk, ns  # noqa: F401 - fixtures


def _both(mk, kubectl, args_k: list[str], args_m: list[str], *, input: str | None = None) -> tuple[str, str]:
    """Run kubectl with ``args_k`` and mkctl with ``args_m`` (the same command on twin objects):
    exit status, stdout and stderr must match once the twins' names are made equal."""
    k = kubectl(*args_k, input=input)
    m = mk(*args_m, input=input)
    assert m.code == k.returncode, f"{args_m}: exit {m.code} vs kubectl {k.returncode}: {m.err} / {k.stderr}"
    return k.stdout + k.stderr.replace("kubectl", "mkctl"), m.out + m.err


def _strip(obj: dict) -> dict:
    meta = obj["metadata"]
    for k in ("name", "uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
        meta.pop(k, None)
    meta.get("labels", {}).pop("kubernetes.io/hostname", None)
    obj.pop("status", None)
    return obj


def test_patch_types_outputs_and_errors_match_kubectl(mk, kubectl, ns: str, tmp_path) -> None:
    for name in ("k", "m"):
        assert kubectl("create", "deployment", name, "--image=nginx:1.25", "-n", ns).returncode == 0
    patch_file = tmp_path / "p.yaml"
    patch_file.write_text("spec:\n  template:\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n")
    steps = [
        ["-p", '{"spec":{"replicas":2}}'],
        ["-p", '{"spec":{"replicas":2}}'],  # the same again: (no change)
        ["--type", "merge", "-p", "metadata: {labels: {tier: web}}"],
        ["--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":3}]', "-o", "name"],
        ["--patch-file", str(patch_file)],
        ["--subresource", "scale", "--type", "merge", "-p", '{"spec":{"replicas":1}}'],
        ["--dry-run=server", "-p", '{"spec":{"replicas":5}}'],
        ["--dry-run=client", "--type", "merge", "-p", '{"spec":{"replicas":6}}'],
        ["--type", "json", "-p", '[{"op":"remove","path":"/spec/nope"}]'],
        [],
        ["-p", "{}", "--patch-file", str(patch_file)],
        ["--type", "foo", "-p", "{}"],
    ]
    for step in steps:
        k, m = _both(mk, kubectl, ["patch", "deployment", "k", "-n", ns, *step],
                     ["patch", "deployment", "m", "-n", ns, *step])
        assert m == k.replace("/k ", "/m ").replace('"k"', '"m"').replace("/k\n", "/m\n"), step
    live = [_strip(json.loads(kubectl("get", "deploy", n, "-n", ns, "-o", "json").stdout)) for n in ("k", "m")]
    assert json.dumps(live[0]["spec"]).replace('"k"', '"m"') == json.dumps(live[1]["spec"])
    assert live[1]["spec"]["replicas"] == 1
    assert live[1]["metadata"]["labels"]["tier"] == "web"
    assert live[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    for step in (["deployment", "-p", "{}"], ["-p", "{}"], ["deployment", "nope", "-p", "{}"]):
        k, m = _both(mk, kubectl, ["patch", *step, "-n", ns], ["patch", *step, "-n", ns])
        assert m == k, step


def test_patch_yaml_output_is_the_patched_object(mk, ns: str) -> None:
    assert mk("create", "configmap", "c", "--from-literal=a=1", "-n", ns).code == 0
    out = mk("patch", "cm", "c", "-n", ns, "--type", "merge", "-p", '{"data":{"b":"2"}}', "-o", "json").ok()
    assert json.loads(out)["data"] == {"a": "1", "b": "2"}


@pytest.fixture
def twin_nodes(kubectl):
    """Two pairs of nodes (one for kubectl, one for mkctl), labelled per pair; deleted after."""
    tag = uuid.uuid4().hex[:6]
    names = {who: [f"tn-{tag}-{who}{i}" for i in (1, 2)] for who in ("k", "m")}
    for who, pair in names.items():
        for n in pair:
            body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {"twin": f"{tag}-{who}"}}}
            assert kubectl("create", "-f", "-", input=json.dumps(body)).returncode == 0
    yield tag, names
    kubectl("delete", "node", *names["k"], *names["m"], "--wait=false")


def test_taint_matches_kubectl(mk, kubectl, twin_nodes) -> None:
    tag, names = twin_nodes
    k1, m1 = names["k"][0], names["m"][0]
    steps = [
        ["a=b:NoSchedule"],
        ["a=b:NoSchedule"],                         # exists, no --overwrite
        ["a=c:NoSchedule", "--overwrite"],          # modified
        ["x=1:NoExecute", "y:PreferNoSchedule"],
        ["x-"],
        ["a:NoSchedule-"],
        ["a:NoSchedule-"],                          # not found
        ["q=1:NoSchedule", "-o", "name"],
        ["q=1:NoSchedule", "s=1:NoSchedule"],       # q exists
        ["w=2:NoSchedule", "--dry-run=client"],
        ["w=2:NoSchedule", "--dry-run=server"],
        ["r=1:NoSchedule", "r=2:NoSchedule"],       # duplicated
        ["r=1:NoSchedule", "r-"],                   # add and remove the same
        ["k=v"], ["=v:NoSchedule"], ["a=b:Bogus"], ["bad"],
    ]
    for step in steps:
        k, m = _both(mk, kubectl, ["taint", "nodes", k1, *step], ["taint", "nodes", m1, *step])
        assert m == k.replace(k1, m1), step
    taints = [json.loads(kubectl("get", "node", n, "-o", "json").stdout)["spec"].get("taints") for n in (k1, m1)]
    assert taints[0] == taints[1] and {t["key"] for t in taints[1]} == {"y", "q"}
    for step in (["-l", f"twin={tag}-WHO", "z=1:NoSchedule"], ["-l", f"twin={tag}-WHO", "z-"]):
        k, m = _both(mk, kubectl, ["taint", "nodes", *[s.replace("WHO", "k") for s in step]],
                     ["taint", "nodes", *[s.replace("WHO", "m") for s in step]])
        assert m == k.replace(f"{tag}-k", f"{tag}-m"), step
    k2, m2 = names["k"][1], names["m"][1]
    k, m = _both(mk, kubectl, ["taint", "node", k2, f"node/{k1}", "pair=1:NoSchedule"],
                 ["taint", "node", m2, f"node/{m1}", "pair=1:NoSchedule"])
    assert m == k.replace(k1, m1).replace(k2, m2)
    for step in (["pods", k1, "a=b:NoSchedule"], [f"node/{k1}", "a-"], ["nodes", "t-"], ["nodes", "nope", "a=b:NoSchedule"]):
        k, m = _both(mk, kubectl, ["taint", *step], ["taint", *step])
        assert m == k, step
