"""``mkctl apply`` on a real apiserver, taking turns with the real kubectl on the same objects:
created / unchanged (no request) / configured, pruning of removed fields, multi-document files
and directories, dry runs, server-side apply, and errors naming file and document."""

from __future__ import annotations

import json

from tests.integration.mkctl_harness import mk, ns  # noqa: F401 - fixtures

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, team: a}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        env: [{name: A, value: "1"}, {name: B, value: "<x&y>"}]
        ports: [{containerPort: 80}]
      - name: side
        image: busybox
"""
SVC = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def get_json(kubectl, ns: str, *what: str) -> dict:
    r = kubectl("get", *what, "-n", ns, "-o", "json", "--show-managed-fields")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_created_unchanged_configured(mk, kubectl, ns: str) -> None:
    assert mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok() == "deployment.apps/web created\n"
    assert mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok() == "deployment.apps/web unchanged\n"
    rv = get_json(kubectl, ns, "deploy", "web")["metadata"]["resourceVersion"]
    assert mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok() == "deployment.apps/web unchanged\n"
    assert get_json(kubectl, ns, "deploy", "web")["metadata"]["resourceVersion"] == rv  # nothing was sent
    changed = DEPLOY.replace("nginx:1.25", "nginx:1.26")
    assert mk("apply", "-n", ns, "-f", "-", input=changed).ok() == "deployment.apps/web configured\n"
    d = get_json(kubectl, ns, "deploy", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]


def test_kubectl_and_mkctl_take_turns(mk, kubectl, ns: str) -> None:
    def k(text: str) -> str:
        r = kubectl("apply", "-n", ns, "-f", "-", input=text)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def m(text: str) -> str:
        return mk("apply", "-n", ns, "-f", "-", input=text).ok()

    assert m(DEPLOY) == "deployment.apps/web created\n"
    assert k(DEPLOY) == "deployment.apps/web unchanged\n"  # kubectl reads mkctl's annotation as its own
    one_container = DEPLOY.replace("nginx:1.25", "nginx:1.26").split("      - name: side")[0]
    assert k(one_container) == "deployment.apps/web configured\n"
    assert m(one_container) == "deployment.apps/web unchanged\n"
    assert m(DEPLOY) == "deployment.apps/web configured\n"  # side container back, image back
    assert k(DEPLOY) == "deployment.apps/web unchanged\n"
    d = get_json(kubectl, ns, "deploy", "web")
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["nginx", "side"]
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_removed_fields_are_pruned_and_others_fields_kept(mk, kubectl, ns: str) -> None:
    mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok()
    # another writer's label stays; the manifest's own removed label and env var go
    assert kubectl("label", "deploy", "web", "-n", ns, "owner=ops").returncode == 0
    pruned = DEPLOY.replace(", team: a", "").replace(', {name: B, value: "<x&y>"}', "")
    assert mk("apply", "-n", ns, "-f", "-", input=pruned).ok() == "deployment.apps/web configured\n"
    d = get_json(kubectl, ns, "deploy", "web")
    assert d["metadata"]["labels"] == {"app": "web", "owner": "ops"}
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert mk("apply", "-n", ns, "-f", "-", input=pruned).ok() == "deployment.apps/web unchanged\n"


def test_directory_multi_document_and_recursion(mk, kubectl, ns: str, tmp_path) -> None:
    (tmp_path / "app.yaml").write_text(DEPLOY + "---\n" + SVC)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "cm.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}}')
    out = mk("apply", "-n", ns, "-f", str(tmp_path)).ok()
    assert out == "deployment.apps/web created\nservice/web created\n"
    out = mk("apply", "-n", ns, "-R", "-f", str(tmp_path)).ok()
    assert out == "deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/cfg created\n"
    r = kubectl("apply", "-n", ns, "-R", "-f", str(tmp_path))
    assert r.stdout == "deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/cfg unchanged\n", r.stderr


def test_dry_runs_change_nothing(mk, kubectl, ns: str) -> None:
    assert mk("apply", "-n", ns, "--dry-run=client", "-f", "-", input=SVC).ok() == "service/web created (dry run)\n"
    assert mk("apply", "-n", ns, "--dry-run=server", "-f", "-", input=SVC).ok() == \
        "service/web created (server dry run)\n"
    assert kubectl("get", "svc", "web", "-n", ns).returncode == 1
    out = mk("apply", "-n", ns, "--dry-run=server", "-o", "yaml", "-f", "-", input=SVC).ok()
    assert "clusterIP:" in out and "kind: Service" in out


def test_server_side_apply(mk, kubectl, ns: str) -> None:
    assert mk("apply", "--server-side", "-n", ns, "-f", "-", input=SVC).ok() == "service/web serverside-applied\n"
    managers = {m["manager"] for m in get_json(kubectl, ns, "svc", "web")["metadata"]["managedFields"]}
    assert "kubectl" in managers


def test_errors_name_the_file_and_document(mk, ns: str, tmp_path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(SVC + "---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {bogusField: 1}\n")
    r = mk("apply", "-n", ns, "-f", str(f))
    assert r.code == 1
    assert r.out == "service/web created\n"
    assert r.err.startswith(f'Error from server (BadRequest): error when creating "{f}"')
    assert 'unknown field "spec.bogusField"' in r.err
    f.write_text(SVC + "---\nkind: Service\nmetadata: {name: why}\n")
    r = mk("apply", "-n", ns, "-f", str(f))
    assert r.code == 1
    assert r.err.startswith(f'error: error validating "{f}" (document 2): error validating data: apiVersion not set')
    r = mk("apply", "-n", ns, "-f", "-", input="apiVersion: v9\nkind: Widget\nmetadata: {name: w}\n")
    assert r.code == 1 and 'no matches for kind "Widget" in version "v9"' in r.err
    r = mk("apply", "-n", "other", "-f", "-", input=SVC.replace("name: web}", f"name: web, namespace: {ns}}}"))
    assert r.code == 1 and f'the namespace from the provided object "{ns}" does not match the namespace "other"' \
        in r.err
    r = mk("apply", "-n", ns, "-f", "-", input=SVC.replace("targetPort: 8080", "targetPort: -5"))
    assert r.code == 1 and r.err.startswith('The Service "web" is invalid: ')
