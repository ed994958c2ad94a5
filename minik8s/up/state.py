"""The supervisor's footprint in the data dir, so ``minik8s status`` and ``minik8s down`` work
from another shell.

- ``minik8s.lock``: held (``flock``) by the running supervisor for its whole life. The kernel
  drops it when the process dies however it dies, so "is it running?" never trusts a stale
  pid that may have been reused.
- ``minik8s.state.json``: the supervisor's pid, mode, server, kubeconfig and, per component,
  its pid, state, restarts, command line and log. Rewritten atomically on every change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "STATE_NAME", "Lock", "is_running", "read_state", "write_state"]

LOCK_NAME = "minik8s.lock"
STATE_NAME = "minik8s.state.json"


class Lock:
    """The supervisor's exclusive lock on a data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def is_running(data_dir: Path) -> bool:
    """Whether a supervisor holds the data dir's lock right now."""
    if not (data_dir / LOCK_NAME).exists():
        return False
    probe = Lock(data_dir)
    try:
        if probe.acquire():
            probe.release()
            return False
    except OSError:  # unreadable dir: we cannot tell, so we say what we can see
        return False
    return True


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The last state the supervisor wrote, or None when there is none (or it is unreadable)."""
    try:
        with open(data_dir / STATE_NAME) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_state(data_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".state-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=1)  # components keep their start order
        os.replace(tmp, data_dir / STATE_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
