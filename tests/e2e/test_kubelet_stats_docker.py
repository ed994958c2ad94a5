"""The kubelet's Summary API (``/stats/summary``) on the real Docker engine: a pod whose one
container burns a CPU and whose other sleeps is reported with the burner's rate near a core
and the sleeper's near none, memory working sets from the container cgroups, the node's
figures, and one engine sweep per housekeeping interval however often it is asked."""

from __future__ import annotations

import asyncio

import pytest

from minik8s.api.resources import PODS
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_for,
    wait_pod,
)

BURN = ["sh", "-c", "while :; do :; done"]
SLEEP = ["sh", "-c", "sleep 3600"]


def _summary(kubelet) -> dict:
    with kubelet.http() as http:
        r = http.get("/stats/summary")
    assert r.status_code == 200, r.text
    return r.json()


def _pod(summary: dict, name: str) -> dict:
    return next(p for p in summary["pods"] if p["podRef"]["name"] == name)


@pytest.mark.docker
async def test_summary_reports_a_cpu_burner_and_a_sleeper(client, namespace, kubelet_factory, test_images) -> None:
    kubelet = kubelet_factory(extra_args=("--housekeeping-interval", "1"))
    pod = pod_manifest("burner", kubelet.node, [{"name": "burn", "command": BURN}, {"name": "idle", "command": SLEEP}])
    await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "burner", is_running, what="Running", kubelet=kubelet)

    first = _summary(kubelet)
    await asyncio.sleep(2.5)  # two housekeeping intervals: the next sweep has a rate
    second = _summary(kubelet)

    node = second["node"]
    assert node["nodeName"] == kubelet.node
    assert node["cpu"]["usageCoreNanoSeconds"] > 0 and "usageNanoCores" in node["cpu"]
    assert 0 < node["memory"]["workingSetBytes"] <= node["memory"]["usageBytes"]

    before, after = _pod(first, "burner"), _pod(second, "burner")
    assert after["podRef"]["namespace"] == namespace and after["podRef"]["uid"] == pod_uid(await client.get(
        PODS, "burner", namespace=namespace))
    containers = {c["name"]: c for c in after["containers"]}
    assert set(containers) == {"burn", "idle"}
    burn, idle = containers["burn"], containers["idle"]
    # A busy loop on a 2-core machine shared with other tests: well above a tenth of a core.
    assert burn["cpu"]["usageNanoCores"] > 100_000_000, burn
    assert idle["cpu"]["usageNanoCores"] < 20_000_000, idle
    assert burn["cpu"]["usageCoreNanoSeconds"] > {c["name"]: c for c in before["containers"]}["burn"]["cpu"][
        "usageCoreNanoSeconds"]
    for c in (burn, idle):
        assert 0 < c["memory"]["workingSetBytes"] <= c["memory"]["usageBytes"]
        assert c["memory"]["time"] and c["startTime"]
    # The pod adds its containers and its sandbox.
    assert after["cpu"]["usageCoreNanoSeconds"] >= burn["cpu"]["usageCoreNanoSeconds"] + idle["cpu"][
        "usageCoreNanoSeconds"]
    assert after["memory"]["workingSetBytes"] >= burn["memory"]["workingSetBytes"]


def pod_uid(pod: dict) -> str:
    return pod["metadata"]["uid"]


@pytest.mark.docker
async def test_summary_sweeps_once_per_interval(client, namespace, kubelet_factory, test_images) -> None:
    """Ten requests within one (long) interval answer the same readings: one sweep."""
    kubelet = kubelet_factory(extra_args=("--housekeeping-interval", "60"))
    await client.create(PODS, pod_manifest("quiet", kubelet.node, [{"name": "c", "command": SLEEP}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "quiet", is_running, what="Running", kubelet=kubelet)
    times = set()
    for _ in range(10):
        c = _pod(_summary(kubelet), "quiet")["containers"][0]
        times.add((c["cpu"]["time"], c["cpu"]["usageCoreNanoSeconds"]))
    assert len(times) == 1
