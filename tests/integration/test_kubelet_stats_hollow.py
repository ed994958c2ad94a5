"""The Summary API of a hollow node (``--runtime fake``): its pods and their containers are
listed with no CPU or memory figures, and the node has none either (the hollow runtime has no
processes to measure and invents nothing); the endpoint is authorized as ``nodes/stats``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from controllers.nodeipam import NodeIpamController
from kubelet.stats import SWEEP_INTERVAL_S
from minik8s import pki
from minik8s.api.resources import PODS
from tests.integration.controller_harness import running
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)

FAKE = ("--runtime", "fake")


@pytest.fixture
async def node_ipam(client) -> AsyncIterator[None]:
    async with running(client, lambda f: NodeIpamController(client, f)):
        yield


async def test_hollow_node_reports_no_figures(client, namespace, kubelet_factory, node_ipam) -> None:
    kubelet = kubelet_factory(extra_args=FAKE)
    await client.create(PODS, pod_manifest("hollow", kubelet.node, [{"name": "c"}, {"name": "d"}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "hollow", is_running, what="Running", kubelet=kubelet)
    # A summary is answered from the last sweep, at most SWEEP_INTERVAL_S old (cAdvisor's
    # housekeeping): one taken before the pod ran (the apiserver's metrics scrape asks every
    # kubelet) lists it without its containers until the next sweep.
    deadline = time.monotonic() + 3 * SWEEP_INTERVAL_S
    with kubelet.http() as http:
        while True:
            r = http.get("/stats/summary")
            assert r.status_code == 200, r.text
            summary = r.json()
            pod = next((p for p in summary["pods"] if p["podRef"]["name"] == "hollow"), None)
            if pod is not None and pod["containers"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    assert summary["node"]["nodeName"] == kubelet.node
    assert "cpu" not in summary["node"] and "memory" not in summary["node"]
    assert pod is not None, summary
    assert pod["podRef"]["namespace"] == namespace
    assert sorted(c["name"] for c in pod["containers"]) == ["c", "d"]
    assert all("cpu" not in c and "memory" not in c for c in pod["containers"])
    assert "cpu" not in pod and "memory" not in pod


async def test_summary_is_authorized_as_nodes_stats(kubelet_factory, apiserver_process, kubectl, tmp_path) -> None:
    """nodes/proxy is not enough; nodes/stats is."""
    kubelet = kubelet_factory(extra_args=(*FAKE, "--authorization-mode", "Webhook"))
    ca = pki.ensure_ca(apiserver_process.pki)
    dave = pki.ensure_client_cert(ca, tmp_path, "dave", "dave", ["proxy-users"])
    carol = pki.ensure_client_cert(ca, tmp_path, "carol", "carol", ["stats-readers"])
    grants = {f"proxy-{kubelet.node}": ("nodes/proxy", "proxy-users"),
              f"stats-{kubelet.node}": ("nodes/stats", "stats-readers")}
    try:
        for name, (resource, group) in grants.items():
            assert kubectl("create", "clusterrole", name, "--verb=get", f"--resource={resource}").returncode == 0
            assert kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}",
                           f"--group={group}").returncode == 0
        with kubelet.http(client_cert=(dave.cert_path, dave.key_path)) as as_dave:
            r = as_dave.get("/stats/summary")
            assert (r.status_code, r.text) == (403, "Forbidden (user=dave, verb=get, resource=nodes, subresource=stats)")
        with kubelet.http(client_cert=(carol.cert_path, carol.key_path)) as as_carol:
            r = as_carol.get("/stats/summary")
            assert r.status_code == 200 and r.json()["node"]["nodeName"] == kubelet.node
    finally:
        for name in grants:
            kubectl("delete", "clusterrolebinding", name)
            kubectl("delete", "clusterrole", name)
