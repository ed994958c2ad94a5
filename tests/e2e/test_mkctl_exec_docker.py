"""``mkctl exec`` end to end, as ``test_exec_docker.py`` drives kubectl: the same pod, the same
answers, the same errors, a terminal under script(1).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.e2e.test_exec_docker import _TTY_SCRIPT, _running_pod, node_kubelet  # noqa: F401 - fixture
from tests.kubelet_harness import kubelet_factory  # noqa: F401 - fixtures

pytestmark = pytest.mark.docker
_MKCTL = "import sys\nfrom minik8s.cli import main\nsys.exit(main.run(sys.argv[1:]))"


async def test_mkctl_exec(client, namespace, node_kubelet, apiserver_process, tmp_path) -> None:
    pod = await _running_pod(client, namespace, node_kubelet, with_done=True)
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}

    def mkctl(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _MKCTL, "--kubeconfig", str(apiserver_process.kubeconfig),
                               "-n", namespace, *args],
                              input=input, capture_output=True, text=True, env=env, timeout=60, cwd=REPO)

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
    driver = shlex.join([sys.executable, "-c", _MKCTL, "--kubeconfig", str(apiserver_process.kubeconfig),
                         "-n", namespace, "exec", "-it",
                         pod, "-c", "main", "--", "sh", "-c", _TTY_SCRIPT])
    proc = subprocess.run(["script", "-qefc", f"stty cols 123 rows 45; {driver}", "/dev/null"],
                          input="typed\r", capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert "/dev/pts/0" in lines and "45 123" in proc.stdout and "got:typed" in lines, proc.stdout
    assert proc.returncode == 4, proc.stdout
