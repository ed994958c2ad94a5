"""The import budget of the commands users type most (issue #18): each imports at most its own
verb's module, the one-shot client and kubeconfig reading, and none of aiohttp, asyncio,
pydantic, the API models or the other verbs. A module added to one of these paths must be
added here, on purpose; one dropped from it needs no change."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import ApiServer
from tests.mkctl_imports import heavy_in, imported_by, ours

# printing tables and objects, and the small shared helpers printing uses (label selectors,
# meta/v1 times, ages)
PRINTING = {"minik8s.cli.printers", "minik8s.labels", "minik8s.timestamps", "minik8s.duration"}
# every command that talks to a server
SESSION = {"minik8s", "minik8s.api", "minik8s.api.resources", "minik8s.cli", "minik8s.cli.discovery",
           "minik8s.cli.exits", "minik8s.cli.main", "minik8s.cli.resources", "minik8s.cli.session",
           "minik8s.client", "minik8s.client.blockyaml", "minik8s.client.connection", "minik8s.client.http1", "minik8s.client.kubeconfig",
           "minik8s.client.oneshot", "minik8s.client.verbs", "minik8s.errors"}


@pytest.fixture(scope="module")
def pod(api_http) -> tuple[str, str]:
    ns = f"budget-{uuid.uuid4().hex[:6]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert api_http.post(f"/api/v1/namespaces/{ns}/pods", json=body).status_code == 201
    return ns, "p"


def budget(server: ApiServer, *args: str, code: int = 0, reads_yaml: bool = False) -> set[str]:
    got, modules = imported_by(*args, env={"KUBECONFIG": str(server.kubeconfig)})
    assert got == code
    assert heavy_in(modules) == []
    # the kubeconfig is plain block YAML: read without PyYAML (only manifests need it)
    assert ("yaml" in modules) == reads_yaml
    return modules


def test_version(apiserver_process: ApiServer) -> None:
    modules = budget(apiserver_process, "version")
    assert "minik8s.cli.misc" in modules
    assert ours(modules) <= SESSION | PRINTING | {"minik8s.cli.misc"}
    assert len(modules) <= 66, sorted(modules)  # 58 when this budget was set


def test_get(apiserver_process: ApiServer, pod: tuple[str, str]) -> None:
    for args in (("get", "nodes"), ("get", "pods", "-A"), ("get", "pods", "-n", pod[0], "-o", "wide")):
        modules = budget(apiserver_process, *args)
        assert "minik8s.cli.get" in modules
        assert ours(modules) <= SESSION | PRINTING | {"minik8s.cli.get", "minik8s.cli.common"}, args
        assert len(modules) <= 67, sorted(modules)  # 59 when this budget was set


def test_describe(apiserver_process: ApiServer, pod: tuple[str, str]) -> None:
    modules = budget(apiserver_process, "describe", "pod", pod[1], "-n", pod[0])
    assert "minik8s.cli.describe" in modules
    assert ours(modules) <= SESSION | PRINTING | {"minik8s.cli.describe", "minik8s.qos", "minik8s.quantity"}
    assert len(modules) <= 74, sorted(modules)  # 66 when this budget was set


def test_logs(apiserver_process: ApiServer, pod: tuple[str, str]) -> None:
    # the pod is on no node, so the server refuses (BadRequest) after the pod was read
    modules = budget(apiserver_process, "logs", pod[1], "-n", pod[0], code=1)
    assert "minik8s.cli.logs" in modules
    assert ours(modules) <= SESSION | PRINTING | {"minik8s.cli.logs", "minik8s.cli.deployments"}


def test_apply(apiserver_process: ApiServer, pod: tuple[str, str], tmp_path: Path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: budget, namespace: {pod[0]}}}
spec:
  selector: {{matchLabels: {{app: budget}}}}
  template:
    metadata: {{labels: {{app: budget}}}}
    spec: {{containers: [{{name: web, image: nginx}}]}}
""")
    created = budget(apiserver_process, "apply", "-f", str(manifest), reads_yaml=True)
    unchanged = budget(apiserver_process, "apply", "-f", str(manifest), reads_yaml=True)  # the three-way patch path
    apply_modules = PRINTING | {"minik8s.cli.apply", "minik8s.cli.common", "minik8s.cli.manifests",
                                "minik8s.cli.patchmeta", "minik8s.cli.threeway", "minik8s.patch3way"}
    assert "minik8s.cli.patchmeta" in unchanged  # the three-way patch was computed
    assert ours(created) <= SESSION | apply_modules and ours(unchanged) <= SESSION | apply_modules
