"""CustomResourceDefinitions with the real kubectl (and RBAC on the new resource): apply the
CRD, wait for Established, then get (printer columns, -o wide, short name, category ``all``),
apply and re-apply a custom object (merge patch; ``unchanged``), edit, scale, explain, delete;
a user granted only ``get``/``list`` on the new resource lists it and cannot create one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import kubectl_args
from tests.integration.crd_helpers import CRDS, sprocket_crd, unique_group, wait_gone
from tests.integration.test_rbac_enforced import run_kubectl


@pytest.fixture
def group(kubectl, api_http, tmp_path):
    g = unique_group()
    path = tmp_path / "crd.yaml"
    path.write_text(yaml.safe_dump(sprocket_crd(g)))
    r = kubectl("apply", "-f", str(path))
    assert r.returncode == 0 and f"customresourcedefinition.apiextensions.k8s.io/sprockets.{g} created" in r.stdout, \
        r.stderr
    r = kubectl("wait", "--for", "condition=Established", f"crd/sprockets.{g}", "--timeout=20s")
    assert r.returncode == 0, r.stderr
    yield g
    api_http.delete(f"{CRDS}/sprockets.{g}")


def manifest(tmp_path: Path, group: str, name: str, **spec) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": {"name": name},
                                    "spec": {"image": "nginx:1", **spec}}))
    return str(path)


def test_get_apply_edit_scale_delete(kubectl, kubectl_path, apiserver_process, group, tmp_path):
    m = manifest(tmp_path, group, "alpha", replicas=2)
    r = kubectl("apply", "-f", m)
    assert r.returncode == 0 and f"sprocket.{group}/alpha created" in r.stdout, r.stderr
    r = kubectl("apply", "-f", m)
    assert r.returncode == 0 and f"sprocket.{group}/alpha unchanged" in r.stdout, r.stderr
    r = kubectl("apply", "-f", manifest(tmp_path, group, "alpha", replicas=3))
    assert r.returncode == 0 and f"sprocket.{group}/alpha configured" in r.stdout, r.stderr

    r = kubectl("get", f"sprockets.{group}")
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "IMAGE", "REPLICAS", "AGE"]
    assert row.split()[:3] == ["alpha", "nginx:1", "3"]
    wide = kubectl("get", f"sprockets.{group}", "-o", "wide").stdout.splitlines()[0].split()
    assert wide == ["NAME", "IMAGE", "REPLICAS", "PHASE", "AGE"]
    assert kubectl("get", f"spr.{group}", "alpha", "-o", "name").stdout.strip() == f"sprocket.{group}/alpha"

    env = {**os.environ, "HOME": str(tmp_path), "KUBE_EDITOR": "sed -i s/nginx:1/nginx:2/"}
    r = subprocess.run([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache"), "edit",
                        f"sprocket.{group}/alpha"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and "edited" in r.stdout, r.stderr
    got = json.loads(kubectl("get", f"sprocket.{group}", "alpha", "-o", "json").stdout)
    assert got["spec"]["image"] == "nginx:2" and got["metadata"]["generation"] == 3

    r = kubectl("scale", f"sprocket.{group}/alpha", "--replicas=5")
    assert r.returncode == 0 and "scaled" in r.stdout, r.stderr
    assert json.loads(kubectl("get", f"sprocket.{group}", "alpha", "-o", "json").stdout)["spec"]["replicas"] == 5

    r = kubectl("apply", "-f", manifest(tmp_path, group, "bad", replicas=99))
    assert r.returncode != 0
    assert 'The Sprocket "bad" is invalid: spec.replicas: Invalid value: 99: spec.replicas in body should be ' \
           "less than or equal to 10" in r.stderr

    r = kubectl("delete", f"sprocket.{group}", "alpha")
    assert r.returncode == 0 and f'sprocket.{group} "alpha" deleted' in r.stdout, r.stderr


def test_explain_walks_the_crd_schema(kubectl, group):
    r = kubectl("explain", "sprockets.spec", f"--api-version={group}/v1")
    assert r.returncode == 0, r.stderr
    assert "KIND:       Sprocket" in r.stdout and f"GROUP:      {group}" in r.stdout
    for field in ("image", "replicas", "size", "ports"):
        assert field in r.stdout
    r = kubectl("explain", "sprockets.spec.replicas", f"--api-version={group}/v1")
    assert r.returncode == 0 and "integer" in r.stdout, r.stderr


def test_get_all_includes_the_category(kubectl, group, tmp_path):
    assert kubectl("apply", "-f", manifest(tmp_path, group, "cat")).returncode == 0
    r = kubectl("get", "all", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert f"sprocket.{group}/cat" in r.stdout.split()


def test_rbac_on_the_new_resource(apiserver_process, api_http, kubectl_path, group, tmp_path):
    ns = "default"
    user = f"sprocket-reader-{group[9:17]}"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": f"read-{user}", "namespace": ns},
            "rules": [{"apiGroups": [group], "resources": ["sprockets"], "verbs": ["get", "list", "watch"]}]}
    assert api_http.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", json=role).status_code == 201
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": f"read-{user}", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"read-{user}"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
    assert api_http.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                         json=binding).status_code == 201
    assert api_http.post(f"/apis/{group}/v1/namespaces/{ns}/sprockets", json={
        "apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": {"name": "seen"},
        "spec": {"image": "x"}}).status_code == 201
    kc = apiserver_process.kubeconfig_for(user)
    r = run_kubectl(kubectl_path, kc, tmp_path, "get", f"sprockets.{group}", "-n", ns, "-o", "name")
    assert r.returncode == 0 and f"sprocket.{group}/seen" in r.stdout, r.stderr
    r = run_kubectl(kubectl_path, kc, tmp_path, "apply", "-n", ns, "-f", manifest(tmp_path, group, "mine"))
    assert r.returncode != 0 and "forbidden" in r.stderr.lower()
    r = run_kubectl(kubectl_path, kc, tmp_path, "get", f"sprockets.{group}", "-n", "kube-system")
    assert r.returncode != 0 and "forbidden" in r.stderr.lower()


def test_deleting_the_crd_with_kubectl_removes_objects_and_resource(kubectl, api_http, group, tmp_path):
    assert kubectl("apply", "-f", manifest(tmp_path, group, "gone")).returncode == 0
    r = kubectl("delete", "crd", f"sprockets.{group}", "--timeout=30s")
    assert r.returncode == 0, r.stderr
    wait_gone(api_http, f"{CRDS}/sprockets.{group}")
    r = kubectl("get", f"sprockets.{group}")
    assert r.returncode != 0


def test_server_side_apply_api_resources_and_get_crd(kubectl, group, tmp_path):
    m = manifest(tmp_path, group, "ssa", replicas=2)
    r = kubectl("apply", "--server-side", "-f", m)
    assert r.returncode == 0 and f"sprocket.{group}/ssa serverside-applied" in r.stdout, r.stderr
    r = kubectl("apply", "--server-side", "-f", manifest(tmp_path, group, "ssa", replicas=4))
    assert r.returncode == 0, r.stderr
    got = json.loads(kubectl("get", f"sprocket.{group}", "ssa", "-o", "json", "--show-managed-fields").stdout)
    assert got["spec"]["replicas"] == 4
    assert [m["manager"] for m in got["metadata"]["managedFields"]] == ["kubectl"]
    r = kubectl("api-resources", f"--api-group={group}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split() == ["sprockets", "spr", f"{group}/v1", "true", "Sprocket"]
    r = kubectl("get", "crd", f"sprockets.{group}")
    assert r.returncode == 0 and r.stdout.splitlines()[0].split() == ["NAME", "CREATED", "AT"], r.stdout
    managed = got["metadata"]["managedFields"][0]
    assert managed["operation"] == "Apply"
    assert managed["fieldsV1"]["f:spec"] == {"f:image": {}, "f:replicas": {}}


def test_get_watch_prints_rows_with_the_crd_columns(kubectl, group, tmp_path):
    assert kubectl("apply", "-f", manifest(tmp_path, group, "watched", replicas=2)).returncode == 0
    r = kubectl("get", f"sprockets.{group}", "-w", "--request-timeout=2s")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "REPLICAS", "AGE"], r.stdout + r.stderr
    assert lines[1].split()[:3] == ["watched", "nginx:1", "2"]
    r = kubectl("get", f"sprockets.{group}", "-A")
    assert r.stdout.splitlines()[0].split() == ["NAMESPACE", "NAME", "IMAGE", "REPLICAS", "AGE"]
    assert r.stdout.splitlines()[1].split()[:2] == ["default", "watched"]
