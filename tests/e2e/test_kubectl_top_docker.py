"""``kubectl top`` (the real kubectl) against metrics.k8s.io on real Docker: an apiserver
scraping every 2 s (``--metric-resolution``), a kubelet sweeping every second; a pod burning
a CPU and an idle pod in one namespace, one in another. Checked: the printed columns and
figures of ``top nodes``, ``top pods``, ``--containers``, ``-A``, ``-l``; the NodeMetrics and
PodMetrics objects (window, timestamp, usage) and the ``v1beta1.metrics.k8s.io`` APIService.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from minik8s import quantity
from minik8s.api.resources import NAMESPACES, PODS
from tests.e2e.metrics_harness import metrics_cluster  # noqa: F401 - fixture
from tests.kubelet_harness import is_running, pod_manifest, wait_for, wait_pod

pytestmark = pytest.mark.docker

BURN = ["sh", "-c", "while :; do :; done"]
SLEEP = ["sh", "-c", "sleep 3600"]


def _rows(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


async def test_kubectl_top_nodes_and_pods(metrics_cluster, kubectl) -> None:
    server, kubelet = metrics_cluster
    client = server.client()
    try:
        for ns in ("top-a", "top-b"):
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        burner = pod_manifest("burner", kubelet.node, [{"name": "burn", "command": BURN},
                                                       {"name": "idle", "command": SLEEP}])
        burner["metadata"]["labels"] = {"app": "burn"}
        await client.create(PODS, burner, namespace="top-a")
        await client.create(PODS, pod_manifest("quiet", kubelet.node, [{"name": "c", "command": SLEEP}]),
                            namespace="top-a")
        await client.create(PODS, pod_manifest("other", kubelet.node, [{"name": "c", "command": SLEEP}]),
                            namespace="top-b")
        for ns, name in (("top-a", "burner"), ("top-a", "quiet"), ("top-b", "other")):
            await wait_pod(client, ns, name, is_running, what="Running", kubelet=kubelet)

        async def served() -> bool:
            p = await asyncio.to_thread(kubectl, "top", "pods", "-A", server=server)
            return p.returncode == 0 and all(n in p.stdout for n in ("burner", "quiet", "other"))
        await wait_for(served, what="metrics of the three pods", timeout=40)

        nodes = kubectl("top", "nodes", server=server)
        assert nodes.returncode == 0, nodes.stderr
        rows = _rows(nodes.stdout)
        assert rows[0] == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        row = next(r for r in rows[1:] if r[0] == kubelet.node)
        assert re.fullmatch(r"\d+m", row[1]) and re.fullmatch(r"\d+%", row[2])
        assert re.fullmatch(r"\d+Mi", row[3]) and re.fullmatch(r"\d+%", row[4])

        pods = kubectl("top", "pods", "-n", "top-a", server=server)
        assert pods.returncode == 0, pods.stderr
        rows = _rows(pods.stdout)
        assert rows[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        by_name = {r[0]: r for r in rows[1:]}
        assert set(by_name) == {"burner", "quiet"}
        # a busy loop on a shared 2-core machine: well above a tenth of a core; sleep: almost none
        assert int(by_name["burner"][1].rstrip("m")) > 100, pods.stdout
        assert int(by_name["quiet"][1].rstrip("m")) < 50, pods.stdout
        assert re.fullmatch(r"\d+Mi", by_name["quiet"][2])

        containers = kubectl("top", "pods", "burner", "-n", "top-a", "--containers", server=server)
        assert containers.returncode == 0, containers.stderr
        rows = _rows(containers.stdout)
        assert rows[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert sorted(r[1] for r in rows[1:]) == ["burn", "idle"]

        everywhere = kubectl("top", "pods", "-A", server=server)
        rows = _rows(everywhere.stdout)
        assert rows[0] == ["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert {(r[0], r[1]) for r in rows[1:]} >= {("top-a", "burner"), ("top-a", "quiet"), ("top-b", "other")}

        labelled = kubectl("top", "pods", "-n", "top-a", "-l", "app=burn", server=server)
        assert [r[0] for r in _rows(labelled.stdout)[1:]] == ["burner"]

        with server.http() as http:
            pm = http.get("/apis/metrics.k8s.io/v1beta1/namespaces/top-a/pods/burner").json()
            nm = http.get(f"/apis/metrics.k8s.io/v1beta1/nodes/{kubelet.node}").json()
            missing = http.get("/apis/metrics.k8s.io/v1beta1/namespaces/top-a/pods/nope")
            apiservice = http.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io").json()
        assert pm["kind"] == "PodMetrics" and pm["metadata"]["labels"] == {"app": "burn"}
        assert re.fullmatch(r"[\d.]+m?s", pm["window"]) and pm["timestamp"].endswith("Z")
        assert {c["name"] for c in pm["containers"]} == {"burn", "idle"}
        burn = next(c for c in pm["containers"] if c["name"] == "burn")
        assert quantity.parse_quantity(burn["usage"]["cpu"]) > 0.1
        assert quantity.parse_bytes(burn["usage"]["memory"]) > 0
        assert nm["kind"] == "NodeMetrics" and quantity.parse_quantity(nm["usage"]["cpu"]) > 0.1
        assert missing.status_code == 404 and missing.json()["message"] == \
            'pods.metrics.k8s.io "top-a/nope" not found'
        assert {c["type"]: c["status"] for c in apiservice["status"]["conditions"]} == {"Available": "True"}
    finally:
        await client.close()
