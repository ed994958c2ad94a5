"""``minik8s up``'s start-up, which runs in a child the supervisor forks (minik8s/up/startup.py):
the supervisor process itself never loads the REST client or cryptography, a start-up that
fails ends ``up`` with code 1 and its reason (credentials that cannot be written; an apiserver
that exits with bad flags, seen through the state file), and nothing is left running."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minik8s.up import state
from tests.conftest import REPO, pick_free_port

MINIK8S = [sys.executable, "-m", "minik8s.up.main"]


def _up(data_dir, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MINIK8S, "up", "--data-dir", str(data_dir), "--port", str(pick_free_port()),
                           "--disable-node", f"--scheduler-arg=secure-port={pick_free_port()}",
                           f"--controller-manager-arg=secure-port={pick_free_port()}", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_supervisor_imports_neither_the_rest_client_nor_cryptography():
    code = ("import sys; import minik8s.up.main, minik8s.up.cluster, minik8s.up.supervisor; "
            "print(sorted(m for m in ('cryptography', 'aiohttp', 'minik8s.client.rest', 'minik8s.pki', 'pydantic', "
            "'docker') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_credentials_that_cannot_be_written_end_up_with_their_reason(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "pki").write_text("not a directory")
    r = _up(data)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "minik8s cannot issue its credentials" in r.stderr
    assert not state.is_running(data)
    assert (state.read_state(data) or {}).get("components", {}) == {}  # nothing was started


@pytest.mark.parametrize("layout", [("--single-process",), ()], ids=["one-process", "process-per-component"])
def test_an_apiserver_with_bad_flags_ends_up_and_nothing_stays(tmp_path, layout):
    data = tmp_path / "data"
    r = _up(data, "--apiserver-arg=no-such-flag=1", *layout)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "minik8s cannot start: apiserver: exited with code 2" in r.stderr, r.stderr
    assert "no-such-flag" in (data / "logs" / "apiserver.log").read_text()  # argparse's words, in its own log
    assert not state.is_running(data)
    st = state.read_state(data) or {}
    assert st["running"] is False and all(c["pid"] is None for c in st["components"].values()), st
