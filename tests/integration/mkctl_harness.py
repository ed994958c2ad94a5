"""What the mkctl integration tests share: running mkctl in-process against the test
apiserver (its exit status, stdout and stderr, with no kubeconfig or discovery cache of the
developer's leaking in or being written), a namespace per test, and the comparison with the
real kubectl."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import io
import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest

from minik8s.cli import main
from tests.conftest import REPO, ApiServer


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    def ok(self) -> str:
        assert self.code == 0, f"mkctl failed ({self.code}): {self.err}"
        return self.out


# mkctl's discovery cache for this test process ($KUBECACHEDIR), as the kubectl fixture has its
# own --cache-dir: never the developer's ~/.kube/cache.
CACHE_DIR = tempfile.mkdtemp(prefix="mkctl-test-cache-")


def run_mkctl(*args: str, input: str | None = None, kubeconfig: str | None = None) -> Result:
    """``mkctl ARGS`` in this process; ``kubeconfig`` becomes ``$KUBECONFIG`` (default: none)."""
    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in ("KUBECONFIG", "KUBECACHEDIR")}
    os.environ["KUBECONFIG"] = kubeconfig or "/nonexistent/mkctl-test-kubeconfig"
    os.environ["KUBECACHEDIR"] = CACHE_DIR
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(input or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main.run(list(args))
    finally:
        sys.stdin = old_stdin
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return Result(code, out.getvalue(), err.getvalue())


def mkctl_command(server: ApiServer) -> list[str]:
    """The command line of ``mkctl`` as its own process, reaching ``server`` through its kubeconfig."""
    return [sys.executable, "-m", "minik8s.cli.main", "--kubeconfig", str(server.kubeconfig)]


def run_mkctl_process(server: ApiServer, *args: str, input: str | None = None, timeout: float = 30,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mkctl`` as its own process (for exit paths and streams that must be real)."""
    full_env = {**os.environ, "KUBECONFIG": "/nonexistent/mkctl-test-kubeconfig", "KUBECACHEDIR": CACHE_DIR,
                **(env or {})}
    return subprocess.run([*mkctl_command(server), *args], input=input,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=full_env)


Mk = Callable[..., Result]


@pytest.fixture
def mk(apiserver_process: ApiServer) -> Mk:
    """``mk(*args, input=None)``: mkctl against the session apiserver (its kubeconfig)."""
    def run(*args: str, input: str | None = None) -> Result:
        return run_mkctl(*args, input=input, kubeconfig=str(apiserver_process.kubeconfig))

    return run


@pytest.fixture
def ns(kubectl) -> Iterator[str]:
    name = f"mk-{uuid.uuid4().hex[:8]}"
    r = kubectl("create", "namespace", name)
    assert r.returncode == 0, r.stderr
    yield name


_AGE = re.compile(r"(?<![\w.-])\d+(?:[smhdy]\d*)+(?![\w.-])")


def same(mk: Mk, kubectl, *args: str, input: str | None = None, stderr: bool = True) -> Result:
    """Run both; stdout (and stderr, exit status) must be identical. Returns mkctl's result.

    An AGE column is computed by the server at each request, so the two runs may straddle a
    second ("0s" / "1s"): when only ages differ, both run again (a real difference stays)."""
    for _ in range(3):
        k = kubectl(*args, input=input)
        m = mk(*args, input=input)
        if m.out == k.stdout or _AGE.sub("<age>", m.out) != _AGE.sub("<age>", k.stdout):
            break
    assert m.out == k.stdout, f"stdout differs for {args}:\n" + "\n".join(difflib.unified_diff(
        m.out.splitlines(), k.stdout.splitlines(), "mkctl", "kubectl", lineterm=""))
    assert m.code == k.returncode, f"exit status differs for {args}: {m.code} vs {k.returncode}: {m.err} / {k.stderr}"
    if stderr:
        assert m.err == k.stderr, f"stderr differs for {args}:\n--- mkctl\n{m.err}\n--- kubectl\n{k.stderr}"
    return m
