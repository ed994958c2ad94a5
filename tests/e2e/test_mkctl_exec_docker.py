"""``mkctl exec`` end to end, as ``test_exec_docker.py`` drives kubectl: the same pod, the same
answers, the same errors, a terminal under script(1).

mkctl runs with ResourceWarnings turned into errors: a connection it leaves open when its event
loop ends (the exec WebSocket's TLS connection did, aio-libs/aiohttp#1925) is reported on its
stderr at exit, and every run checks that stderr for one. Whether the process ended before the
TLS close finished was a race (half the runs), so the client's WebSocket is also checked in
this process, where it is certain: once ``close()`` returns, its connection is gone.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys

import pytest

from minik8s.cli.exec import PROTOCOL
from tests.conftest import REPO
from tests.e2e.test_exec_docker import _TTY_SCRIPT, _running_pod, node_kubelet  # noqa: F401 - fixture
from tests.kubelet_harness import kubelet_factory  # noqa: F401 - fixtures

pytestmark = pytest.mark.docker
_MKCTL = "import sys\nfrom minik8s.cli import main\nsys.exit(main.run(sys.argv[1:]))"
# Python's options for every mkctl run: any ResourceWarning (an unclosed socket, transport or
# session) becomes an error, which Python prints to stderr when it cannot raise it (at exit).
_STRICT = ("-W", "error::ResourceWarning")


def _connections_to(port: int) -> int:
    """How many TCP sockets this process holds open to ``port`` (its fds' inodes in /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/self/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as f:
            for row in list(f)[1:]:
                cols = row.split()
                if cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


def _no_leak(out: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert "ResourceWarning" not in out.stderr and "Unclosed" not in out.stderr, out.stderr
    return out


async def test_mkctl_exec(client, namespace, node_kubelet, apiserver_process, tmp_path) -> None:
    pod = await _running_pod(client, namespace, node_kubelet, with_done=True)
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}

    def mkctl(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return _no_leak(subprocess.run([sys.executable, *_STRICT, "-c", _MKCTL,
                                        "--kubeconfig", str(apiserver_process.kubeconfig), "-n", namespace, *args],
                                       input=input, capture_output=True, text=True, env=env, timeout=60, cwd=REPO))

    out = mkctl("exec", pod, "-c", "main", "--", "echo", "hi")
    assert (out.returncode, out.stdout, out.stderr) == (0, "hi\n", "")
    out = mkctl("exec", pod, "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (out.returncode, out.stdout) == (3, "out\n")
    assert out.stderr == "err\ncommand terminated with exit code 3\n"
    out = mkctl("exec", pod, "--", "hostname")
    assert out.returncode == 0 and 'Defaulted container "main" out of: main, side, done' in out.stderr
    data = "line\n" * 20_000
    out = mkctl("exec", "-i", pod, "-c", "side", "--", "wc", "-l", input=data)
    assert (out.returncode, out.stdout.strip()) == (0, "20000"), out.stderr
    # The same errors kubectl prints.
    out = mkctl("exec", "nope", "--", "true")
    assert (out.returncode, out.stderr.strip()) == (1, 'Error from server (NotFound): pods "nope" not found')
    out = mkctl("exec", pod, "-c", "ghost", "--", "true")
    assert out.stderr.strip() == f"Error from server (BadRequest): container ghost is not valid for pod {pod}"
    out = mkctl("exec", pod, "-c", "done", "--", "true")
    assert out.stderr.strip() == 'error: unable to upgrade connection: container not found ("done")'

    # -t with a terminal (script(1) makes one): raw mode, the size, typed input.
    driver = shlex.join([sys.executable, *_STRICT, "-c", _MKCTL, "--kubeconfig", str(apiserver_process.kubeconfig),
                         "-n", namespace, "exec", "-it",
                         pod, "-c", "main", "--", "sh", "-c", _TTY_SCRIPT])
    proc = subprocess.run(["script", "-qefc", f"stty cols 123 rows 45; {driver}", "/dev/null"],
                          input="typed\r", capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert "/dev/pts/0" in lines and "45 123" in proc.stdout and "got:typed" in lines, proc.stdout
    assert "ResourceWarning" not in proc.stdout, proc.stdout  # script(1) joins stderr to stdout
    assert proc.returncode == 4, proc.stdout

    # The client's WebSocket (what mkctl exec speaks through), in this process: after close()
    # nothing of its TLS connection is left, not even a socket whose shutdown is under way.
    before = _connections_to(apiserver_process.port)
    async with apiserver_process.client() as c:
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/exec"
        ws = await c.websocket(path, params=[("command", "true"), ("container", "main"), ("stdout", "true")],
                               protocols=(PROTOCOL,))
        assert _connections_to(apiserver_process.port) == before + 1
        async with ws:
            status = [m async for m in ws if m[:1] == b"\x03"]
        assert status and b"Success" in status[0]
        assert _connections_to(apiserver_process.port) == before
