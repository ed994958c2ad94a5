"""The example operator (``examples/operator/``) end to end on real Docker: a ``minik8s up``
cluster, the CRD and a WebApp applied with the real kubectl, the operator run as its README
says; it makes the WebApp's ConfigMap and Deployment (owned by the WebApp), the cluster runs
the pods, and the operator writes the WebApp's status (Ready, 2/2). Scaling the WebApp through
its scale subresource (``kubectl scale``) reaches the Deployment and the status again; deleting
the WebApp lets the garbage collector delete its Deployment and ConfigMap.

The cluster is this module's own (its own data dir, ports and node name).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import REPO
from tests.minik8s_up_harness import kubectl_for, up_cluster, wait_until

pytestmark = pytest.mark.docker

EXAMPLE = REPO / "examples" / "operator"


@pytest.fixture(scope="module")
def up(tmp_path_factory, docker_client, test_images):
    with up_cluster(tmp_path_factory, docker_client, "op") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kubectl(up, kubectl_path, tmp_path_factory):
    return kubectl_for(up, kubectl_path, tmp_path_factory.mktemp("kubectl-home"))


def get_json(kubectl, *args: str) -> dict | None:
    out = kubectl("get", *args, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def test_operator_reconciles_a_webapp_into_a_deployment_and_writes_its_status(up, kubectl, tmp_path):
    r = kubectl("apply", "-f", str(EXAMPLE / "crd.yaml"))
    assert r.returncode == 0, r.stderr
    r = kubectl("wait", "--for", "condition=Established", "crd/webapps.demo.minik8s.io", "--timeout=30s")
    assert r.returncode == 0, r.stderr
    ns = f"op-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", ns).returncode == 0
    log = open(tmp_path / "operator.log", "w")
    operator = subprocess.Popen([sys.executable, str(EXAMPLE / "webapp_operator.py"), "--kubeconfig",
                                 str(up.kubeconfig)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    def diag():
        return (tmp_path / "operator.log").read_text()[-3000:]
    try:
        r = kubectl("apply", "-n", ns, "-f", str(EXAMPLE / "webapp.yaml"))
        assert r.returncode == 0 and "webapp.demo.minik8s.io/hello created" in r.stdout, r.stderr
        app = wait_until(lambda: (a := get_json(kubectl, "webapp", "hello", "-n", ns)) and
                         (a.get("status") or {}).get("phase") == "Ready" and a, "the WebApp Ready", diag=diag)
        assert app["status"] == {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "phase": "Ready"}
        cm = get_json(kubectl, "configmap", "hello-config", "-n", ns)
        assert cm["data"] == {"message": "hello from a WebApp"}
        dep = get_json(kubectl, "deployment", "hello", "-n", ns)
        ref = dep["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == \
            ("WebApp", "hello", app["metadata"]["uid"], True)
        pods = get_json(kubectl, "pods", "-n", ns, "-l", "demo.minik8s.io/webapp=hello")["items"]
        assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
        logs = kubectl("logs", "-n", ns, pods[0]["metadata"]["name"])
        assert logs.stdout.strip() == "hello from a WebApp", logs.stderr

        out = kubectl("get", "webapps", "-n", ns)
        assert out.stdout.split("\n")[0].split() == ["NAME", "IMAGE", "DESIRED", "READY", "PHASE", "AGE"]
        assert out.stdout.split("\n")[1].split()[:5] == ["hello", "minik8s/busybox:latest", "2", "2", "Ready"]

        r = kubectl("scale", "-n", ns, "webapp/hello", "--replicas=1")
        assert r.returncode == 0, r.stderr
        wait_until(lambda: (get_json(kubectl, "deployment", "hello", "-n", ns) or {}).get("spec", {})
                   .get("replicas") == 1, "the Deployment scaled to 1", diag=diag)
        app = wait_until(lambda: (a := get_json(kubectl, "webapp", "hello", "-n", ns)) and
                         a["status"].get("observedGeneration") == 2 and a["status"].get("phase") == "Ready"
                         and a["status"].get("replicas") == 1 and a, "the WebApp Ready at 1", diag=diag)
        assert app["status"]["readyReplicas"] == 1

        # the WebApp's children go with it: the garbage collector follows their ownerReferences
        r = kubectl("delete", "-n", ns, "webapp", "hello")
        assert r.returncode == 0, r.stderr
        wait_until(lambda: get_json(kubectl, "deployment", "hello", "-n", ns) is None and
                   get_json(kubectl, "configmap", "hello-config", "-n", ns) is None,
                   "the Deployment and ConfigMap collected", diag=diag)
    finally:
        operator.terminate()
        try:
            operator.wait(10)
        except subprocess.TimeoutExpired:
            operator.kill()
        log.close()
        kubectl("delete", "namespace", ns, "--wait=false")
    assert operator.returncode == 0, diag()
