"""``minik8s down``: stop the minik8s running from a data dir, from any shell.

The supervisor is sent SIGTERM (the same as Ctrl-C in its terminal) and does the ordered stop
itself; ``down`` waits for it to let go of the data dir's lock. Should the supervisor be gone
but components it started still live (it was SIGKILLed before they noticed), ``down`` stops
those itself, after checking each pid still runs the command the state file recorded.
Pods' containers stay: the next ``minik8s up`` adopts them.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from minik8s.up import state as statefile
from minik8s.up.status import pid_alive

__all__ = ["run", "stop_leftovers"]

WAIT = 60.0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _exited(pid: int) -> bool:
    return not pid_alive(pid)


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def stop_leftovers(data_dir: Path, out: TextIO, *, timeout: float = 10.0) -> int:
    """SIGTERM (then SIGKILL) components of a dead supervisor; returns how many were stopped."""
    st = statefile.read_state(data_dir) or {}
    pids: list[tuple[str, int]] = []
    for name, c in (st.get("components") or {}).items():
        pid = c.get("pid")
        module = c.get("module") or ""
        # The pid may have been reused by something else since: match the recorded module.
        if pid and pid_alive(pid) and module and f"-m {module}" in _cmdline(pid):
            pids.append((name, pid))
    for name, pid in pids:
        out.write(f"stopping leftover {name} (pid {pid})\n")
        os.kill(pid, signal.SIGTERM)
    for name, pid in pids:
        if not _wait(functools.partial(_exited, pid), timeout):
            out.write(f"{name} (pid {pid}) ignored SIGTERM; killing it\n")
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def run(data_dir: Path, out: TextIO, *, timeout: float = WAIT) -> int:
    if not statefile.is_running(data_dir):
        if stop_leftovers(data_dir, out):
            out.write("minik8s stopped\n")
            return 0
        out.write(f"minik8s is not running (data dir {data_dir})\n")
        return 0
    pid = (statefile.read_state(data_dir) or {}).get("pid")
    if not pid:
        out.write(f"minik8s holds {data_dir} but its state file names no pid; stop it where it runs\n")
        return 1
    out.write(f"stopping minik8s (pid {pid}) ...\n")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not _wait(lambda: not statefile.is_running(data_dir), timeout):
        out.write(f"minik8s (pid {pid}) is still stopping after {timeout:g}s; its log: {data_dir / 'logs'}\n")
        return 1
    out.write("minik8s stopped (pods' containers keep running; the next `minik8s up` adopts them)\n")
    return 0
