"""Soak: a kubelet's memory stays bounded while pods churn and logs and status stream, and is
given back after (issue #14; the apiserver's soak is tests/integration/test_apiserver_soak.py,
whose RSS reading this reuses).

On a real Docker engine, for LOAD_SECONDS: CHURNERS workers each create a pod on the node, wait
for it to run, delete it and wait for it to be gone, over and over; STREAMS clients follow the
logs of a chatty pod through the apiserver (the kubelet's log endpoint), reconnecting every few
seconds as clients do; the chatty pod's exec readiness probe runs every second, so its status is
written steadily. The kubelet's RSS is sampled every second.

The bound asserted: RSS never goes more than PEAK_MB above where it stood once the node ran its
first pod, and settles within SETTLED_MB of it once the load stops (figures and the command in
tests/perf/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from minik8s import errors
from minik8s.api.resources import PODS
from tests.integration.test_apiserver_soak import rss_mb
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_ready,
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)

pytestmark = pytest.mark.docker

LOAD_SECONDS = 40.0
SETTLE_SECONDS = 20.0
CHURNERS = 3
STREAMS = 4
STREAM_SECONDS = 5.0
PEAK_MB = 40
SETTLED_MB = 25

# ~200-byte lines, a few hundred a second: the log endpoint streams megabytes meanwhile.
CHATTY = ["sh", "-c", "p=$(printf '%0180d' 0); i=0; while :; do i=$((i+1)); echo \"line $i $p\"; "
                      "usleep 2000; done"]


async def _churn(client, namespace: str, node: str, stop: asyncio.Event, counts: dict) -> None:
    while not stop.is_set():
        name = f"churn-{uuid.uuid4().hex[:6]}"
        pod = pod_manifest(name, node, [{"name": "c", "command": ["sleep", "3600"]}])
        pod["spec"]["terminationGracePeriodSeconds"] = 0
        await client.create(PODS, pod, namespace=namespace)
        await wait_pod(client, namespace, name, is_running, what="Running", timeout=60)
        await client.delete(PODS, name, namespace=namespace, grace_period_seconds=0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                await client.get(PODS, name, namespace=namespace)
            except errors.NotFound:
                break
            await asyncio.sleep(0.2)
        counts["pods"] += 1


async def _stream(client, namespace: str, stop: asyncio.Event, counts: dict) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods/chatty/log"
    while not stop.is_set():
        resp = await client.request("GET", path, params={"follow": "true", "tailLines": "100"}, stream=True,
                                    timeout=None)
        try:
            async with asyncio.timeout(STREAM_SECONDS):
                async for chunk in resp.aiter_bytes():
                    counts["log_bytes"] += len(chunk)
                    if stop.is_set():
                        break
        except TimeoutError:
            pass
        finally:
            await resp.aclose()


async def _load(client, namespace: str, node: str, pid: int) -> tuple[dict, float]:
    stop = asyncio.Event()
    counts = {"pods": 0, "log_bytes": 0}
    tasks = [asyncio.create_task(_churn(client, namespace, node, stop, counts)) for _ in range(CHURNERS)]
    tasks += [asyncio.create_task(_stream(client, namespace, stop, counts)) for _ in range(STREAMS)]
    peak = 0.0
    deadline = time.monotonic() + LOAD_SECONDS
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            peak = max(peak, rss_mb(pid))
            for t in tasks:
                if t.done() and t.exception() is not None:
                    raise t.exception()
    finally:
        stop.set()
        await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    errs = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    assert not errs, errs
    return counts, peak


async def test_kubelet_rss_is_bounded_while_pods_churn_and_logs_stream(client, namespace, kubelet_factory,
                                                                       test_images) -> None:
    kubelet = kubelet_factory()
    assert kubelet.proc is not None
    pid = kubelet.proc.pid
    chatty = pod_manifest("chatty", kubelet.node, [{
        "name": "app", "command": CHATTY,
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}])
    await client.create(PODS, chatty, namespace=namespace)
    await wait_pod(client, namespace, "chatty", is_ready, what="Ready", kubelet=kubelet)
    await asyncio.sleep(2.0)
    start = rss_mb(pid)
    counts, peak = await _load(client, namespace, kubelet.node, pid)
    assert counts["pods"] >= 2 * CHURNERS and counts["log_bytes"] > 1024 * 1024, counts  # the load did happen
    settled = rss_mb(pid)
    deadline = time.monotonic() + SETTLE_SECONDS
    while settled - start > SETTLED_MB and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        settled = rss_mb(pid)
    print(f"kubelet RSS start {start:.0f} MB, peak {peak:.0f} MB, settled {settled:.0f} MB; "
          f"{counts['pods']} pods churned, {counts['log_bytes'] / 2**20:.0f} MiB of logs streamed")
    with contextlib.suppress(errors.ApiError):
        await client.delete(PODS, "chatty", namespace=namespace, grace_period_seconds=0)
    assert peak - start < PEAK_MB, f"kubelet RSS peaked {peak - start:.0f} MB above its start ({start:.0f} MB)"
    assert settled - start < SETTLED_MB, f"kubelet RSS stayed {settled - start:.0f} MB above its start ({start:.0f} MB)"
