"""The kubelet's evented PLEG on the real Docker engine: it learns of container changes from
Docker's event stream, not from relisting.

The kubelet runs with its safety-net relist and its pod resync both at 600 s, so within the
test's bounds nothing but the event stream can tell it that a container died. A container
killed behind the kubelet's back (``docker kill``) must be restarted and reported, and the
kubelet's own metrics must show that it relisted only at start-up and when the stream opened.
"""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from minik8s.api.resources import PODS
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    container_status,
    is_ready,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)

pytestmark = pytest.mark.docker

# Exits at once on SIGTERM; a SIGKILL from outside is a crash the kubelet must notice.
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def _relists(text: str) -> float:
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
               if s.name == "kubelet_pleg_relist_duration_seconds_count")


async def test_a_container_killed_outside_is_seen_through_the_event_stream(
        client, namespace, kubelet_factory, test_images, docker_client) -> None:
    k = kubelet_factory(extra_args=("--relist-period", "1", "--evented-relist-period", "600",
                                    "--sync-frequency", "600"))
    await client.create(PODS, pod_manifest("victim", k.node, [{"name": "app", "command": SLEEPER}]),
                        namespace=namespace)
    first = await wait_pod(client, namespace, "victim", is_ready, what="Ready", kubelet=k)
    old_id = container_status(first, "app")["containerID"].removeprefix("docker://")

    docker_client.containers.get(old_id).kill()

    def restarted(pod: dict) -> bool:
        st = container_status(pod, "app")
        return st.get("restartCount") == 1 and "running" in st.get("state", {}) and is_ready(pod)
    again = await wait_pod(client, namespace, "victim", restarted, what="restarted after the kill", kubelet=k)
    st = container_status(again, "app")
    assert st["containerID"].removeprefix("docker://") != old_id
    assert st["lastState"]["terminated"]["exitCode"] == 137  # SIGKILL, as Docker reports it
    with k.http() as node:
        r = node.get("/metrics")
    assert r.status_code == 200, r.text
    # One relist at start-up and one as the stream opened (the catch-up): no periodic relisting.
    assert _relists(r.text) <= 2, r.text
    # SIGTERM stops it, with its event stream open. The stream's reader thread sits in a
    # blocking read of a quiet engine; a close dropped on the way out leaves that pool thread
    # holding the interpreter (the harness's own stop, which kills after 10 s, hid it).
    assert k.proc is not None
    k.proc.terminate()
    try:
        code = k.proc.wait(60)  # far above any stop
    except subprocess.TimeoutExpired:
        pytest.fail(f"the kubelet did not exit on SIGTERM:\n{k.log_tail()}")
    assert code == 0, k.log_tail()
