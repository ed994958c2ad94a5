"""``mkctl logs`` on real Docker through a real kubelet, beside the real kubectl: the default
container notice, ``-c``, ``--tail``, ``--timestamps``, ``svc/NAME`` and ``pod/NAME`` picks,
``-f`` following new lines, and the errors."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from minik8s.api.resources import PODS, SERVICES
from tests.conftest import REPO
from tests.integration.mkctl_harness import mkctl_command, run_mkctl_process
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_for,
    wait_pod,
)

pytestmark = pytest.mark.docker


@pytest.fixture
def node_kubelet(kubelet_factory, test_images):
    return kubelet_factory()


async def test_logs_like_kubectl(client, namespace, node_kubelet, kubectl, apiserver_process) -> None:
    pod = pod_manifest("talk", node_kubelet.node, [
        {"name": "first", "command": ["sh", "-c", "echo one; echo two; echo three; sleep 3600"]},
        {"name": "second", "command": ["sh", "-c", "echo other; sleep 3600"]},
    ])
    pod["metadata"]["labels"] = {"app": "talk"}
    await client.create(PODS, pod, namespace=namespace)
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "talk"},
                                   "spec": {"selector": {"app": "talk"}, "ports": [{"port": 80}]}},
                        namespace=namespace)
    await wait_pod(client, namespace, "talk", is_running, what="Running", kubelet=node_kubelet)

    async def logged() -> bool:
        return "three" in kubectl("logs", "-n", namespace, "talk", "-c", "first").stdout
    await wait_for(logged, what="logged")

    def both(*args: str) -> subprocess.CompletedProcess[str]:
        k = kubectl("logs", "-n", namespace, *args)
        m = run_mkctl_process(apiserver_process, "logs", "-n", namespace, *args)
        assert (m.returncode, m.stdout, m.stderr) == (k.returncode, k.stdout, k.stderr), args
        return m

    assert both("talk").stderr == 'Defaulted container "first" out of: first, second\n'
    assert both("talk").stdout == "one\ntwo\nthree\n"
    assert both("talk", "-c", "second").stdout == "other\n"
    assert both("talk", "second").stdout == "other\n"
    assert both("pod/talk", "--tail=2", "-c", "first").stdout == "two\nthree\n"
    assert both("svc/talk", "-c", "second").stdout == "other\n"
    stamped = run_mkctl_process(apiserver_process, "logs", "-n", namespace, "talk", "-c", "first", "--timestamps").stdout
    assert [line.split(" ", 1)[1] for line in stamped.splitlines()] == ["one", "two", "three"]
    assert stamped.split(" ", 1)[0].endswith("Z")
    assert both("nope").returncode == 1
    assert both("talk", "-c", "ghost").returncode == 1


async def test_logs_follow(client, namespace, node_kubelet, apiserver_process) -> None:
    pod = pod_manifest("tick", node_kubelet.node, [{
        "name": "app", "command": ["sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.3; done"]}])
    await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "tick", is_running, what="Running", kubelet=node_kubelet)
    follow = subprocess.Popen([*mkctl_command(apiserver_process), "logs", "-f",
                               "--tail=1", "-n", namespace, "tick"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=REPO, env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"})
    try:
        lines = await asyncio.wait_for(asyncio.to_thread(lambda: [follow.stdout.readline() for _ in range(4)]), 30)
    finally:
        follow.kill()
        follow.wait()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4  # new lines arrive while following
