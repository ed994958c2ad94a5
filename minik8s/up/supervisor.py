"""The supervisor: keeps each component of ``minik8s up`` running as a child process.

- Each component runs as ``python -m <module> <flags>`` in a session of its own (Ctrl-C in the
  terminal reaches only the supervisor, which then stops everyone in order), with its stdout
  and stderr appended to ``<data-dir>/logs/<name>.log`` and its effective command line logged.
- A component that exits is restarted after a back-off that doubles from 1 s to 60 s and goes
  back to 1 s once a run lasted 60 s (Kubernetes' crash-loop back-off, shortened). Exit code 2
  is argparse's "bad flags": restarting cannot fix it, so the component is marked failed.
  A component whose module is not installed is marked missing; the rest run on.
- :meth:`Supervisor.stop` sends SIGTERM wave by wave (:data:`~minik8s.up.components.STOP_WAVES`),
  waits, then SIGKILLs stragglers. Pods' containers are the kubelet's and stay running.
- Children get SIGTERM from the kernel if the supervisor itself dies (``PR_SET_PDEATHSIG``), so
  a killed supervisor leaves no orphans holding ports.
- The state of every component is mirrored into the data dir's state file
  (:mod:`minik8s.up.state`) for ``minik8s status`` and ``minik8s down``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minik8s.up import state as statefile
from minik8s.up.components import STOP_WAVES, Component, module_available

__all__ = ["Proc", "Supervisor", "next_backoff", "log_tail"]

log = logging.getLogger("minik8s.up")

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 60.0
STABLE_AFTER = 60.0
STOP_TIMEOUT = 10.0
EXIT_USAGE = 2  # argparse's exit code for bad flags

_PR_SET_PDEATHSIG = 1


def next_backoff(current: float, uptime: float, *, initial: float = INITIAL_BACKOFF,
                 maximum: float = MAX_BACKOFF, stable_after: float = STABLE_AFTER) -> tuple[float, float]:
    """``(wait now, wait after the next crash)`` for a component that ran ``uptime`` seconds
    and would have waited ``current``: a run of ``stable_after`` seconds resets the back-off."""
    wait = initial if uptime >= stable_after else current
    return wait, min(wait * 2, maximum)


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a component's log (for a message saying why it stopped)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclasses.dataclass
class Proc:
    """The supervisor's view of one component."""

    component: Component
    state: str = "pending"  # pending running backoff failed missing stopping stopped
    pid: int | None = None
    restarts: int = 0
    started_at: float | None = None  # wall clock of the current run
    last_exit: int | None = None
    message: str = ""
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None

    def to_json(self) -> dict[str, Any]:
        c = self.component
        return {"kind": c.kind, "node": c.node, "module": c.module, "command": shlex.join(c.command),
                "log": str(c.log_path), "state": self.state, "pid": self.pid, "restarts": self.restarts,
                "startedAt": self.started_at, "lastExit": self.last_exit, "message": self.message}


class Supervisor:
    """Starts components on request and keeps them running until :meth:`stop`.

    ``initial_backoff``, ``max_backoff``, ``stable_after`` and ``stop_timeout`` are for tests."""

    def __init__(self, data_dir: Path, *, info: dict[str, Any] | None = None,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 stable_after: float = STABLE_AFTER, stop_timeout: float = STOP_TIMEOUT,
                 available: Callable[[str], bool] = module_available) -> None:
        self.data_dir = data_dir
        self.info = dict(info or {})
        self.procs: dict[str, Proc] = {}
        self._initial, self._max, self._stable = initial_backoff, max_backoff, stable_after
        self._stop_timeout = stop_timeout
        self._available = available
        self._stopping = asyncio.Event()
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._started_wall = time.time()

    # -- starting -----------------------------------------------------------------------

    def start(self, component: Component) -> Proc:
        """Begin keeping ``component`` running (returns at once)."""
        if component.name in self.procs:
            raise ValueError(f"component {component.name} is already supervised")
        proc = Proc(component)
        self.procs[component.name] = proc
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_states(), name="state writer")
        proc.task = asyncio.create_task(self._keep_running(proc), name=f"supervise {component.name}")
        self._changed()
        return proc

    async def _keep_running(self, proc: Proc) -> None:
        c = proc.component
        if c.program and shutil.which(c.program[0]) is None:
            proc.state = "missing"
            proc.message = f"{c.program[0]} is not installed"
            log.error("%s: %s is not installed; running without it", c.name, c.program[0])
            self._changed()
            return
        if not c.program and not self._available(c.module):
            proc.state = "missing"
            proc.message = f"module {c.module} is not installed"
            log.error("%s: not part of this installation (no module %s); running without it "
                      "(--disable-%s silences this)", c.name, c.module, "node" if c.kind == "kubelet" else c.kind)
            self._changed()
            return
        backoff = self._initial
        await asyncio.to_thread(c.log_path.parent.mkdir, parents=True, exist_ok=True)
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                process = await self._spawn(c)
            except OSError as e:
                proc.state, proc.message = "failed", f"cannot start: {e}"
                log.error("%s: cannot start: %s", c.name, e)
                self._changed()
                return
            proc.process, proc.pid, proc.state = process, process.pid, "running"
            proc.started_at, proc.message = time.time(), ""
            self._changed()
            code = await process.wait()
            proc.last_exit, proc.process = code, None
            if self._stopping.is_set():
                break
            uptime = time.monotonic() - started
            tail = await asyncio.to_thread(log_tail, c.log_path, 3)
            if code == EXIT_USAGE and uptime < self._stable:
                proc.state, proc.pid = "failed", None
                proc.message = f"exited with code 2 (bad flags): {tail.splitlines()[-1] if tail else ''}"
                log.error("%s: exited with code 2: its flags are wrong, so it is not restarted; log %s:\n%s",
                          c.name, c.log_path, tail)
                self._changed()
                return
            wait, backoff = next_backoff(backoff, uptime, initial=self._initial, maximum=self._max,
                                         stable_after=self._stable)
            proc.state, proc.pid, proc.restarts = "backoff", None, proc.restarts + 1
            proc.message = f"exited with code {code}; restarting in {wait:g}s"
            log.warning("%s exited with code %s after %.1fs; restarting in %gs (log %s):\n%s",
                        c.name, code, uptime, wait, c.log_path, tail)
            self._changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
        proc.state, proc.pid = "stopped", None
        self._changed()

    async def _spawn(self, c: Component) -> asyncio.subprocess.Process:
        cmd = c.command
        log.info("starting %s: %s", c.name, shlex.join(cmd))
        header = f"\n--- minik8s: {time.strftime('%Y-%m-%d %H:%M:%S')} starting {shlex.join(cmd)}\n"

        def open_log() -> int:
            fd = os.open(c.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.write(fd, header.encode())
            return fd

        fd = await asyncio.to_thread(open_log)
        try:
            return await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=fd, stderr=fd,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            os.close(fd)

    # -- stopping -----------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every component, wave by wave: SIGTERM, wait, then SIGKILL."""
        self._stopping.set()
        kinds_done: set[str] = set()
        waves = [list(w) for w in STOP_WAVES]
        waves.append([p.component.kind for p in self.procs.values() if p.component.kind not in
                      {k for w in STOP_WAVES for k in w}])
        for wave in waves:
            procs = [p for p in self.procs.values() if p.component.kind in wave and p.component.kind not in kinds_done]
            await asyncio.gather(*(self._stop_one(p) for p in procs))
            kinds_done.update(wave)
        tasks = [p.task for p in self.procs.values() if p.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for p in self.procs.values():
            if p.state not in ("missing", "failed"):
                p.state, p.pid = "stopped", None
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await asyncio.to_thread(statefile.write_state, self.data_dir, self.snapshot(running=False))

    async def _stop_one(self, proc: Proc) -> None:
        process = proc.process
        if process is None or process.returncode is not None:
            return
        proc.state = "stopping"
        self._changed()
        log.info("stopping %s (pid %d)", proc.component.name, process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._stop_timeout)
        except TimeoutError:
            log.warning("%s did not stop within %gs of SIGTERM; killing it", proc.component.name, self._stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def kill_all(self) -> None:
        """SIGKILL every live component at once (a second Ctrl-C: the user will not wait)."""
        self._stopping.set()
        for p in self.procs.values():
            if p.process is not None and p.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.process.kill()

    # -- state ----------------------------------------------------------------------------

    def snapshot(self, *, running: bool = True) -> dict[str, Any]:
        return {**self.info, "pid": os.getpid(), "running": running, "startedAt": self._started_wall,
                "components": {name: p.to_json() for name, p in self.procs.items()}}

    def _changed(self) -> None:
        self._dirty.set()

    async def _write_states(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await asyncio.to_thread(statefile.write_state, self.data_dir, self.snapshot())
            except OSError as e:  # a full disk must not take the cluster down with it
                log.warning("cannot write the state file: %s", e)
