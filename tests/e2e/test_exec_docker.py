"""``kubectl exec`` end to end: the real kubectl 1.32 (WebSocket, v5.channel.k8s.io) → the
apiserver's ``pods/{name}/exec`` → the kubelet's node API → a Docker exec, and back.

One pod per test, bound to a kubelet of the test's own: a long-running ``main`` container, a
``side`` one (``-c``) and, where needed, a ``done`` one that has exited.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from minik8s.api.resources import PODS
from tests.conftest import kubectl_args
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    container_status,
    is_ready,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)

pytestmark = pytest.mark.docker

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
# For -t: the size arrives just after the command starts (as with Kubernetes), so the command
# waits for it a while (busybox's stty fails on a 0x0 terminal, with status 0); then a typed line.
_TTY_SCRIPT = ('tty; i=0; until [ "$(stty size 2>/dev/null)" = "45 123" ] || [ $i -ge 100 ]; '
               'do sleep 0.1; i=$((i+1)); done; stty size; read line; echo "got:$line"; exit 4')


@pytest.fixture
def node_kubelet(kubelet_factory, test_images):
    return kubelet_factory()


async def _running_pod(client, namespace, kubelet, *, with_done: bool = False) -> str:
    containers = [{"name": "main", "command": SLEEP}, {"name": "side", "command": SLEEP}]
    if with_done:
        containers.append({"name": "done", "command": ["true"]})
    await client.create(PODS, pod_manifest("box", kubelet.node, containers, restartPolicy="Never"),
                        namespace=namespace)
    if with_done:
        await wait_pod(client, namespace, "box",
                       lambda p: "terminated" in (container_status(p, "done").get("state") or {}),
                       what="with 'done' terminated", kubelet=kubelet)
    else:
        await wait_pod(client, namespace, "box", is_ready, what="Ready", kubelet=kubelet)
    return "box"


async def test_exec_output_exit_codes_container_choice_and_stdin(client, namespace, node_kubelet, kubectl) -> None:
    pod = await _running_pod(client, namespace, node_kubelet)

    out = kubectl("exec", "-n", namespace, pod, "-c", "main", "--", "echo", "hi")
    assert (out.returncode, out.stdout, out.stderr) == (0, "hi\n", "")

    # stdout and stderr arrive on their own channels; the exit code is kubectl's.
    out = kubectl("exec", "-n", namespace, pod, "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert out.returncode == 3, out
    assert out.stdout == "out\n"
    assert "err\n" in out.stderr and "command terminated with exit code 3" in out.stderr

    # -c picks the container: each has its own hostname-free identity, so tell them by a file.
    assert kubectl("exec", "-n", namespace, pod, "-c", "side", "--", "sh", "-c", "echo s > /tmp/who").returncode == 0
    assert kubectl("exec", "-n", namespace, pod, "-c", "side", "--", "cat", "/tmp/who").stdout == "s\n"
    out = kubectl("exec", "-n", namespace, pod, "-c", "main", "--", "cat", "/tmp/who")
    assert out.returncode == 1 and "No such file" in out.stderr

    # Without -c kubectl defaults to the first container and says so.
    out = kubectl("exec", "-n", namespace, pod, "--", "sh", "-c", "test -e /tmp/who || echo main")
    assert out.stdout == "main\n" and 'Defaulted container "main"' in out.stderr

    # stdin is relayed and its end reaches the command (v5's close signal), so cat returns.
    data = "hello\n" + "x" * 200_000 + "\nbye\n"
    out = kubectl("exec", "-i", "-n", namespace, pod, "-c", "main", "--", "cat", input=data, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == data


async def test_exec_errors_read_as_kubernetes_prints_them(client, namespace, node_kubelet, kubectl) -> None:
    pod = await _running_pod(client, namespace, node_kubelet, with_done=True)

    out = kubectl("exec", "-n", namespace, "nope", "--", "true")
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'

    out = kubectl("exec", "-n", namespace, pod, "-c", "ghost", "--", "true")
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error from server (BadRequest): container ghost is not valid for pod {pod}"

    # A container of the pod that is not running: the kubelet's refusal.
    out = kubectl("exec", "-n", namespace, pod, "-c", "done", "--", "true")
    assert out.returncode == 1
    assert out.stderr.strip() == 'error: unable to upgrade connection: container not found ("done")'

    # A command that cannot start: the runtime's words and a non-zero code.
    out = kubectl("exec", "-n", namespace, pod, "-c", "main", "--", "/no/such/binary")
    assert out.returncode != 0
    assert "no such file" in (out.stdout + out.stderr).lower()


async def test_exec_with_a_terminal(client, namespace, node_kubelet, kubectl_path, apiserver_process, tmp_path) -> None:
    pod = await _running_pod(client, namespace, node_kubelet)
    # kubectl -t needs a terminal: script(1) gives it one, sized so the resize channel shows.
    script = _TTY_SCRIPT
    kubectl_cmd = shlex.join([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache"),
                              "exec", "-it", "-n", namespace, pod, "-c", "main", "--", "sh", "-c", script])
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}
    # What is typed reaches the container's terminal (Enter is a carriage return there).
    proc = subprocess.run(["script", "-qefc", f"stty cols 123 rows 45; {kubectl_cmd}", "/dev/null"],
                          input="typed\r", capture_output=True, text=True, env=env, timeout=60)
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert "/dev/pts/0" in lines, proc.stdout
    assert "45 123" in proc.stdout, proc.stdout
    assert "got:typed" in lines, proc.stdout
    assert proc.returncode == 4, proc.stdout

