"""The imperative verbs on a real apiserver, output compared with the real kubectl's: create
(-f and the generators), run, expose, replace, delete (names, TYPE/NAME, -l, several types,
cascade), scale, set image, label and annotate."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.mkctl_harness import mk, ns, same  # noqa: F401 - fixtures

RS = """apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}, labels: {{app: {app}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {app}}}}}
  template:
    metadata: {{labels: {{app: {app}}}}}
    spec: {{containers: [{{name: c, image: busybox}}]}}
"""


@pytest.mark.parametrize("args", [
    ["create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80"],
    ["create", "deployment", "web", "--image=nginx:1.25", "--image=redis:7", "-o", "json"],
    ["create", "namespace", "x"],
    ["create", "configmap", "cfg", "--from-literal=a=b", "--from-literal=n=1"],
    ["create", "secret", "generic", "s", "--from-literal=user=admin", "--from-literal=pw=s3cr3t"],
    ["run", "web", "--image=nginx", "--port=80"],
    ["run", "job", "--image=busybox", "--restart=Never", "--labels=a=b,c=d", "--env=X=1", "--command", "--",
     "sh", "-c", "echo hi"],
])
def test_generators_dry_run_client_match_kubectl(mk, kubectl, ns: str, args: list[str]) -> None:
    output = [] if "-o" in args else ["-o", "yaml"]
    m = mk(*args, "-n", ns, "--dry-run=client", *output) if "--" not in args else \
        mk(*args[:args.index("--")], "-n", ns, "--dry-run=client", "-o", "yaml", *args[args.index("--"):])
    k = kubectl(*args, "-n", ns, "--dry-run=client", *output) if "--" not in args else \
        kubectl(*args[:args.index("--")], "-n", ns, "--dry-run=client", "-o", "yaml", *args[args.index("--"):])
    if "json" in args:  # kubectl prints its typed structs in field order; compare the documents
        assert json.loads(m.ok()) == json.loads(k.stdout)
    else:
        assert m.ok() == k.stdout


def test_create_from_files_and_generators(mk, kubectl, ns: str, tmp_path) -> None:
    (tmp_path / "app.conf").write_text("port=80\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "one").write_text("1")
    (tmp_path / "dir" / "two").write_text("2")
    cm = ["create", "configmap", "cfg", f"--from-file={tmp_path / 'app.conf'}", f"--from-file=k={tmp_path / 'app.conf'}",
          f"--from-file={tmp_path / 'dir'}", "-n", ns]
    assert mk(*cm).ok() == "configmap/cfg created\n"
    data = json.loads(kubectl("get", "cm", "cfg", "-n", ns, "-o", "json").stdout)["data"]
    assert data == {"app.conf": "port=80\n", "k": "port=80\n", "one": "1", "two": "2"}
    r = mk(*cm)
    assert (r.code, r.err) == (1, 'Error from server (AlreadyExists): configmaps "cfg" already exists\n')
    assert mk("create", "deployment", "web", "--image=nginx", "-n", ns).ok() == "deployment.apps/web created\n"
    assert mk("create", "secret", "generic", "s", "--from-literal=a=b", "-n", ns).ok() == "secret/s created\n"
    assert json.loads(kubectl("get", "secret", "s", "-n", ns, "-o", "json").stdout)["data"] == {"a": "Yg=="}
    f = tmp_path / "rs.yaml"
    f.write_text(RS.format(name="rs1", app="one"))
    assert mk("create", "-f", str(f), "-n", ns).ok() == "replicaset.apps/rs1 created\n"
    r = mk("create", "-f", str(f), "-n", ns)
    assert r.code == 1
    assert r.err == f'Error from server (AlreadyExists): error when creating "{f}": replicasets.apps "rs1" already exists\n'
    r = mk("create", "deployment", "bad", "-n", ns)
    assert r.code == 1 and "--image" in r.err


def test_run_and_expose(mk, kubectl, ns: str) -> None:
    assert mk("run", "web", "--image=nginx", "--port=80", "-n", ns).ok() == "pod/web created\n"
    assert mk("create", "deployment", "api", "--image=nginx", "--port=8080", "-n", ns).ok() == \
        "deployment.apps/api created\n"
    for args in (["expose", "deployment", "api", "--port=80", "--target-port=8080", "--type=NodePort"],
                 ["expose", "pod", "web", "--port=80", "--name=web-svc"], ["expose", "deploy/api", "--name=api2"]):
        k = kubectl(*args, "-n", ns, "--dry-run=client", "-o", "yaml")
        assert mk(*args, "-n", ns, "--dry-run=client", "-o", "yaml").ok() == k.stdout
    assert mk("expose", "deployment", "api", "--port=80", "--target-port=8080", "--type=NodePort", "-n", ns).ok() == \
        "service/api exposed\n"
    svc = json.loads(kubectl("get", "svc", "api", "-n", ns, "-o", "json").stdout)
    assert svc["spec"]["selector"] == {"app": "api"} and svc["spec"]["ports"][0]["nodePort"] > 0
    same(mk, kubectl, "expose", "pod", "web", "-n", ns, "--name=x", "--dry-run=client")
    r = mk("run", "x", "-n", ns)
    assert (r.code, r.err) == (1, 'error: required flag(s) "image" not set\n')


def test_replace(mk, kubectl, ns: str, tmp_path) -> None:
    f = tmp_path / "rs.yaml"
    f.write_text(RS.format(name="rs1", app="one"))
    mk("create", "-f", str(f), "-n", ns).ok()
    f.write_text(RS.format(name="rs1", app="one").replace("replicas: 1", "replicas: 4"))
    assert mk("replace", "-f", str(f), "-n", ns).ok() == "replicaset.apps/rs1 replaced\n"
    assert kubectl("get", "rs", "rs1", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "4"
    assert mk("replace", "--force", "-f", str(f), "-n", ns).ok() == \
        'replicaset.apps/rs1 deleted\nreplicaset.apps/rs1 replaced\n'


def test_delete_forms_and_messages(mk, kubectl, ns: str) -> None:
    text = "---\n".join(RS.format(name=f"rs{i}", app="x" if i < 3 else "z") for i in range(1, 5))
    assert kubectl("apply", "-f", "-", "-n", ns, input=text).returncode == 0
    assert kubectl("create", "configmap", "c1", "-n", ns).returncode == 0
    assert mk("delete", "rs", "rs1", "-n", ns).ok() == 'replicaset.apps "rs1" deleted\n'
    assert mk("delete", "replicasets,configmaps", "-l", "app=x", "-n", ns).ok() == 'replicaset.apps "rs2" deleted\n'
    assert mk("delete", "rs/rs3", "cm/c1", "-n", ns).ok() == 'replicaset.apps "rs3" deleted\nconfigmap "c1" deleted\n'
    r = same(mk, kubectl, "delete", "rs", "nope", "-n", ns)
    assert (r.code, r.err) == (1, 'Error from server (NotFound): replicasets.apps "nope" not found\n')
    same(mk, kubectl, "delete", "rs", "nope", "-n", ns, "--ignore-not-found")
    r = same(mk, kubectl, "delete", "rs", "-l", "app=none", "-n", ns)
    assert r.out == "No resources found\n"
    r = same(mk, kubectl, "delete", "rs", "-n", ns)
    assert r.err == "error: resource(s) were provided, but no name was specified\n"
    assert mk("delete", "rs", "rs4", "-n", ns, "--dry-run=server").ok() == \
        'replicaset.apps "rs4" deleted (server dry run)\n'
    # orphaning needs the garbage collector to remove the orphan finalizer: do not wait for it here
    assert mk("delete", "rs", "--all", "-n", ns, "--cascade=orphan", "--wait=false").ok() == \
        'replicaset.apps "rs4" deleted\n'
    finalizers = json.loads(kubectl("get", "rs", "rs4", "-n", ns, "-o", "json").stdout)["metadata"]["finalizers"]
    assert finalizers == ["orphan"]


def test_delete_from_file(mk, kubectl, ns: str, tmp_path) -> None:
    f = tmp_path / "rs.yaml"
    f.write_text(RS.format(name="a", app="a") + "---\n" + RS.format(name="b", app="b"))
    mk("apply", "-f", str(f), "-n", ns).ok()
    assert mk("delete", "-f", str(f), "-n", ns).ok() == 'replicaset.apps "a" deleted\nreplicaset.apps "b" deleted\n'
    r = mk("delete", "-f", str(f), "-n", ns)
    assert r.code == 1 and f'error when deleting "{f}"' in r.err


def test_scale_set_image_label_annotate(mk, kubectl, ns: str) -> None:
    mk("create", "deployment", "web", "--image=nginx:1.25", "-n", ns).ok()
    assert mk("scale", "deployment/web", "--replicas=3", "-n", ns).ok() == "deployment.apps/web scaled\n"
    assert mk("scale", "deploy", "web", "--replicas=5", "--current-replicas=3", "-n", ns).ok() == \
        "deployment.apps/web scaled\n"
    r = mk("scale", "deploy/web", "--replicas=1", "--current-replicas=3", "-n", ns)
    assert (r.code, r.err) == (1, "error: Expected replicas to be 3, was 5\n")
    assert kubectl("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}").stdout == "5"
    assert mk("set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns).ok() == \
        "deployment.apps/web image updated\n"
    assert mk("set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns).ok() == ""  # as kubectl: nothing
    r = mk("set", "image", "deployment/web", "ghost=x", "-n", ns)
    assert (r.code, r.err) == (1, 'error: unable to find container named "ghost"\n')
    assert kubectl("get", "deploy", "web", "-n", ns, "-o",
                   "jsonpath={.spec.template.spec.containers[0].image}").stdout == "nginx:1.26"
    for verb_args, expected in (
        (["label", "deploy", "web", "tier=fe"], "deployment.apps/web labeled\n"),
        (["label", "deploy", "web", "tier=fe"], "deployment.apps/web not labeled\n"),
        (["label", "deploy", "web", "tier-"], "deployment.apps/web unlabeled\n"),
        (["annotate", "deploy", "web", "note=hi"], "deployment.apps/web annotated\n"),
        (["annotate", "deploy", "web", "note-"], "deployment.apps/web annotated\n"),
    ):
        assert mk(*verb_args, "-n", ns).ok() == expected
    mk("label", "deploy", "web", "tier=fe", "-n", ns).ok()
    r = same(mk, kubectl, "label", "deploy", "web", "tier=be", "-n", ns)
    assert r.err == "error: 'tier' already has a value (fe), and --overwrite is false\n"
    same(mk, kubectl, "label", "deploy", "web", "a=b c", "-n", ns)
    # kubectl lists a Go map, in no fixed order: compare the lines as a set
    listed = kubectl("label", "deploy", "web", "--list", "-n", ns).stdout
    assert sorted(mk("label", "deploy", "web", "--list", "-n", ns).ok().splitlines()) == sorted(listed.splitlines())
    assert mk("label", "deploy", "web", "tier=be", "--overwrite", "-n", ns).ok() == "deployment.apps/web labeled\n"
    labels = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)["metadata"]["labels"]
    assert labels == {"app": "web", "tier": "be"}


@pytest.mark.parametrize("select", [["--all"], ["-l", "app=one"]])
def test_label_annotate_all_and_selector_with_changes_after_flags(mk, kubectl, tmp_path, select: list[str]) -> None:
    """``label TYPE --all KEY=VAL`` (and ``-l SEL KEY=VAL``): pflag takes the changes after the
    flags; mkctl once failed with "unexpected arguments". Each tool runs in its own namespace
    holding the same objects; the printed lines and the resulting labels must match."""
    spaces = {}
    for tool in ("mk", "kubectl"):
        space = f"mk-{tool[:2]}-{uuid.uuid4().hex[:8]}"
        spaces[tool] = space
        assert kubectl("create", "namespace", space).returncode == 0
        for name, app in (("rs1", "one"), ("rs2", "two")):
            f = tmp_path / f"{tool}-{name}.yaml"
            f.write_text(RS.format(name=name, app=app))
            assert kubectl("create", "-f", str(f), "-n", space).returncode == 0
    for change in (["tier=fe"], ["tier=be", "--overwrite"], ["tier-"]):
        for verb in ("label", "annotate"):
            m = mk(verb, "rs", *select, *change, "-n", spaces["mk"])
            k = kubectl(verb, "rs", *select, *change, "-n", spaces["kubectl"])
            assert (m.code, m.out, m.err) == (k.returncode, k.stdout, k.stderr)
    m = mk("label", "rs", *select, "x=1", "y=2", "-n", spaces["mk"]).ok()
    assert m == kubectl("label", "rs", *select, "x=1", "y=2", "-n", spaces["kubectl"]).stdout
    got = {tool: {i["metadata"]["name"]: (i["metadata"].get("labels"), i["metadata"].get("annotations"))
                  for i in json.loads(kubectl("get", "rs", "-n", space, "-o", "json").stdout)["items"]}
           for tool, space in spaces.items()}
    assert got["mk"] == got["kubectl"]
    assert got["mk"]["rs1"][0] == {"app": "one", "x": "1", "y": "2"}
    for space in spaces.values():
        kubectl("delete", "namespace", space, "--wait=false")
