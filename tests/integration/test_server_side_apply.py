"""Server-side apply against a real apiserver, driven by the real kubectl (``apply --server-side``)
and by plain HTTP where kubectl hides the wire (status codes, Status bodies, /status)."""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import pytest

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
"""
APPLY = "application/apply-patch+yaml"


@pytest.fixture
def ns(api_http: httpx.Client) -> str:
    name = f"ssa-{uuid.uuid4().hex[:8]}"
    r = api_http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                            "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"kubectl failed ({r.returncode}): {r.stderr}"
    return r.stdout


def ssa(kubectl, ns: str, manifest: str, *args: str) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", "--server-side", "-n", ns, "-f", "-", *args, input=manifest)


def get(api: httpx.Client, ns: str, name: str = "web") -> dict:
    r = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def managers(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


def test_apply_twice_then_change_a_field(kubectl, api_http, ns):
    assert ok(ssa(kubectl, ns, DEPLOY)).strip() == "deployment.apps/web serverside-applied"
    first = get(api_http, ns)
    fields = managers(first)[("kubectl", "Apply")]
    assert fields["f:spec"]["f:replicas"] == {}
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:env"] == {
        'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}},
        'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}}}
    assert first["spec"]["revisionHistoryLimit"] == 10  # defaulted on create, owned by nobody
    assert "f:revisionHistoryLimit" not in fields["f:spec"]

    ok(ssa(kubectl, ns, DEPLOY))
    assert get(api_http, ns)["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]

    ok(ssa(kubectl, ns, DEPLOY.replace("nginx:1.25", "nginx:1.26")))
    after = get(api_http, ns)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert after["metadata"]["generation"] == 2


def test_conflict_with_another_manager_then_force(kubectl, api_http, ns):
    ok(ssa(kubectl, ns, DEPLOY))
    scaled = DEPLOY.replace("replicas: 2", "replicas: 5")
    r = ssa(kubectl, ns, scaled, "--field-manager=ci")
    assert r.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in r.stderr
    assert get(api_http, ns)["spec"]["replicas"] == 2

    ok(ssa(kubectl, ns, scaled, "--field-manager=ci", "--force-conflicts"))
    obj = get(api_http, ns)
    assert obj["spec"]["replicas"] == 5
    owners = managers(obj)
    assert "f:replicas" in owners[("ci", "Apply")]["f:spec"]
    assert "f:replicas" not in owners[("kubectl", "Apply")]["f:spec"]
    # kubectl's own apply of the old value now conflicts with ci in turn.
    r = ssa(kubectl, ns, DEPLOY)
    assert r.returncode != 0 and 'conflict with "ci": .spec.replicas' in r.stderr


def test_removing_fields_from_the_file_removes_them(kubectl, api_http, ns):
    ok(ssa(kubectl, ns, DEPLOY))
    trimmed = (DEPLOY.replace("labels: {app: web, tier: front}", "labels: {app: web}")
               .replace(', {name: B, value: "2"}', "").replace("  replicas: 2\n", ""))
    ok(ssa(kubectl, ns, trimmed))
    obj = get(api_http, ns)
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    assert obj["spec"]["replicas"] == 1  # gone from the object, so defaulted again
    fields = managers(obj)[("kubectl", "Apply")]
    assert "f:replicas" not in fields["f:spec"] and "f:tier" not in fields["f:metadata"]["f:labels"]


def test_fields_another_manager_applies_are_kept(kubectl, api_http, ns):
    ok(ssa(kubectl, ns, DEPLOY))
    ok(ssa(kubectl, ns, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                        "  labels: {tier: front}\n", "--field-manager=labeller"))
    ok(ssa(kubectl, ns, DEPLOY.replace("labels: {app: web, tier: front}", "labels: {app: web}")))
    assert get(api_http, ns)["metadata"]["labels"] == {"app": "web", "tier": "front"}


def test_upgrade_from_client_side_apply(kubectl, api_http, ns):
    assert "created" in ok(kubectl("apply", "-n", ns, "-f", "-", input=DEPLOY))
    # Same values: nothing conflicts with what client-side apply set.
    ok(ssa(kubectl, ns, DEPLOY))
    # kubectl may take over what its client-side apply set, even to change it.
    ok(ssa(kubectl, ns, DEPLOY.replace("replicas: 2", "replicas: 3")))
    obj = get(api_http, ns)
    assert obj["spec"]["replicas"] == 3
    assert "f:replicas" in managers(obj)[("kubectl", "Apply")]["f:spec"]
    last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 3


def test_update_takes_ownership_from_the_applier(kubectl, api_http, ns):
    ok(ssa(kubectl, ns, DEPLOY))
    ok(kubectl("scale", "deploy/web", "-n", ns, "--replicas=4"))
    obj = get(api_http, ns)
    assert obj["spec"]["replicas"] == 4
    assert "f:replicas" not in managers(obj)[("kubectl", "Apply")]["f:spec"]
    updaters = [f for (m, op), f in managers(obj).items() if op == "Update"]
    assert any("f:replicas" in f.get("f:spec", {}) for f in updaters)


# ---- the wire ----------------------------------------------------------------------------------


def patch(api: httpx.Client, ns: str, body: dict | str, params: dict, *, sub: str = "") -> httpx.Response:
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/web{sub}"
    content = body if isinstance(body, str) else json.dumps(body)
    return api.patch(url, content=content, params=params, headers={"Content-Type": APPLY})


def test_apply_over_http_create_conflict_status_and_field_manager(api_http, ns):
    import yaml

    config = yaml.safe_load(DEPLOY)
    r = patch(api_http, ns, DEPLOY, {})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    assert r.json()["message"] == ('PatchOptions.meta.k8s.io "" is invalid: '
                                   'fieldManager: Required value: is required for apply patch')

    r = patch(api_http, ns, DEPLOY, {"fieldManager": "a", "dryRun": "All"})
    assert r.status_code == 201
    assert api_http.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").status_code == 404

    r = patch(api_http, ns, DEPLOY, {"fieldManager": "a"})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["managedFields"][0]["manager"] == "a"

    config["spec"]["replicas"] = 9
    r = patch(api_http, ns, config, {"fieldManager": "b"})
    assert r.status_code == 409
    status = r.json()
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "a"',
                                            "field": ".spec.replicas"}]
    r = patch(api_http, ns, config, {"fieldManager": "b", "force": "true"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 9

    # /status: only status is applied, and owned under the status subresource.
    status_config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                     "spec": {"replicas": 1}, "status": {"replicas": 3, "readyReplicas": 2}}
    r = patch(api_http, ns, status_config, {"fieldManager": "ctrl"}, sub="/status")
    assert r.status_code == 200, r.text
    obj = r.json()
    assert obj["status"]["readyReplicas"] == 2 and obj["spec"]["replicas"] == 9
    ctrl = [e for e in obj["metadata"]["managedFields"] if e["manager"] == "ctrl"]
    assert ctrl[0]["subresource"] == "status" and list(ctrl[0]["fieldsV1"]) == ["f:status"]

    # On the main resource status is not applied.
    r = patch(api_http, ns, {**config, "status": {"replicas": 0}}, {"fieldManager": "b"})
    assert r.status_code == 200 and r.json()["status"]["replicas"] == 3


def test_apply_refuses_bad_configs(api_http, ns):
    dup = DEPLOY.replace('{name: B, value: "2"}', '{name: A, value: "2"}')
    r = patch(api_http, ns, dup, {"fieldManager": "a"})
    assert r.status_code == 422, r.text
    assert r.json()["details"]["causes"][0]["field"] == "spec.template.spec.containers[name=\"nginx\"].env"
    r = patch(api_http, ns, "metadata: {name: web}\n", {"fieldManager": "a"})
    assert r.status_code == 400
    r = patch(api_http, ns, DEPLOY.replace("replicas: 2", "replicas: 2\n  bogus: 1"),
              {"fieldManager": "a", "fieldValidation": "Strict"})
    assert r.status_code == 400 and 'unknown field "spec.bogus"' in r.json()["message"]
