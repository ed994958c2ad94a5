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
- An *embedded* component runs in a thread of the one host process (:mod:`minik8s.up.host`),
  which the supervisor starts with the first of them and keeps running like any component. The
  host restarts a component that exits (same back-off, code 2 fails it) and reports each
  change on its stdout; the supervisor mirrors that into the component's state (its pid is the
  host's). Stopping one is asked over the host's stdin, wave by wave as for processes; when the
  host process itself exits, each of its components counts a restart and starts again with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minik8s import taskgroup
from minik8s.up import state as statefile
from minik8s.up.components import STOP_WAVES, Component, host_component, module_available

__all__ = ["Proc", "Supervisor", "die_with_parent", "next_backoff", "log_tail"]

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


def die_with_parent() -> None:
    """SIGTERM this process when its parent dies (run in a child between fork and exec)."""
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
    #: embedded: restarts of the host process while this component ran in it
    host_restarts: int = 0

    def to_json(self) -> dict[str, Any]:
        c = self.component
        out = {"kind": c.kind, "node": c.node, "module": c.module, "command": shlex.join(c.command),
               "log": str(c.log_path), "state": self.state, "pid": self.pid, "restarts": self.restarts,
               "startedAt": self.started_at, "lastExit": self.last_exit, "message": self.message}
        if c.embedded:
            out["host"] = "host"  # the component whose process runs this one
        return out


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
        self._host: Proc | None = None  # the process running the embedded components
        self._host_reader: asyncio.Task[None] | None = None
        self._host_news = asyncio.Event()  # set on each report of the host, and when it exits
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._started_wall = time.time()

    # -- starting -----------------------------------------------------------------------

    def start(self, component: Component) -> Proc:
        """Begin keeping ``component`` running (returns at once)."""
        if component.name in self.procs:
            raise ValueError(f"component {component.name} is already supervised")
        proc = Proc(component)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_states(), name="state writer")
        if component.embedded:
            self._start_embedded(proc)  # the host first: it is listed before what it runs
        self.procs[component.name] = proc
        if not component.embedded:
            proc.task = asyncio.create_task(self._keep_running(proc), name=f"supervise {component.name}")
        self._changed()
        return proc

    # -- embedded components (minik8s.up.host) ------------------------------------------

    def _start_embedded(self, proc: Proc) -> None:
        c = proc.component
        if not self._available(c.module):
            proc.state = "missing"
            proc.message = f"module {c.module} is not installed"
            log.error("%s: not part of this installation (no module %s); running without it "
                      "(--disable-%s silences this)", c.name, c.module, "node" if c.kind == "kubelet" else c.kind)
            return
        if self._host is None:
            host = Proc(host_component(c.log_path.parent))
            self._host = self.procs[host.component.name] = host
            host.task = asyncio.create_task(self._keep_running(host), name="supervise host")
        elif self._host.process is not None:
            self._send_host({"op": "start", "component": self._spec(c)})

    @staticmethod
    def _spec(c: Component) -> dict[str, Any]:
        return {"name": c.name, "kind": c.kind, "module": c.module, "argv": list(c.argv), "log": str(c.log_path)}

    def _embedded(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.component.embedded and p.state != "missing"]

    def _send_host(self, command: dict[str, Any]) -> None:
        process = self._host.process if self._host else None
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write((json.dumps(command) + "\n").encode())

    def _host_started(self, process: asyncio.subprocess.Process) -> None:
        """The host (re)started: it runs every embedded component not stopped by request."""
        for p in self._embedded():
            if p.state == "failed" and p.host_restarts == 0 and p.last_exit == EXIT_USAGE:
                continue  # bad flags stay bad in a new host
            p.state, p.pid, p.message = "pending", process.pid, ""
            self._send_host({"op": "start", "component": self._spec(p.component)})
        if self._host_reader is not None:
            self._host_reader.cancel()
        self._host_reader = asyncio.create_task(self._read_host(process), name="host reports")

    async def _read_host(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                report = json.loads(line)
                proc = self.procs[report["name"]]
            except (ValueError, KeyError, TypeError):
                log.warning("host: unexpected report %r", line[:200])
                continue
            proc.state = report["state"]
            proc.pid = report.get("pid") if proc.state in ("running", "backoff") else None
            proc.restarts = proc.host_restarts + int(report.get("restarts") or 0)
            if "lastExit" in report:
                proc.last_exit = report["lastExit"]
            if report.get("startedAt"):
                proc.started_at = report["startedAt"]
            proc.message = report.get("message") or ""
            if proc.state == "backoff":
                log.warning("%s %s (log %s)", proc.component.name, proc.message, proc.component.log_path)
            elif proc.state == "failed":
                log.error("%s: %s; it is not restarted; log %s:\n%s", proc.component.name, proc.message,
                          proc.component.log_path, await asyncio.to_thread(log_tail, proc.component.log_path, 3))
            self._host_news.set()
            self._changed()

    def _host_exited(self, code: int, wait: float | None) -> None:
        """Every component the host ran ended with it; ``wait`` is the back-off before it
        starts again (None: it will not)."""
        self._host_news.set()
        for p in self._embedded():
            if p.state in ("stopped", "failed") and self._stopping.is_set():
                continue
            if p.state == "failed":
                continue
            p.pid, p.last_exit = None, code
            if wait is None or self._stopping.is_set():
                p.state = "stopped"
                continue
            p.host_restarts += 1
            p.restarts += 1
            p.state, p.message = "backoff", f"its host process exited with code {code}; restarting in {wait:g}s"

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
            if proc is self._host:
                self._host_started(process)
            self._changed()
            code = await process.wait()
            proc.last_exit, proc.process = code, None
            if self._stopping.is_set():
                if proc is self._host:
                    self._host_exited(code, None)
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
            if proc is self._host:
                self._host_exited(code, wait)
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
        # the host's stdin and stdout are the supervisor's control channel (minik8s.up.host)
        pipe = c.kind == "host"
        try:
            return await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.PIPE if pipe else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if pipe else fd, stderr=fd,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True, preexec_fn=die_with_parent)
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
        if self._host_reader is not None:
            tasks.append(self._host_reader)
        await taskgroup.cancel_and_wait(tasks)
        for p in self.procs.values():
            if p.state not in ("missing", "failed"):
                p.state, p.pid = "stopped", None
        if self._writer is not None:
            await taskgroup.cancel_and_wait([self._writer])
        await asyncio.to_thread(statefile.write_state, self.data_dir, self.snapshot(running=False))

    async def _stop_one(self, proc: Proc) -> None:
        if proc.component.embedded:
            await self._stop_embedded(proc)
            return
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

    async def _stop_embedded(self, proc: Proc) -> None:
        if proc.state in ("stopped", "failed", "missing") or self._host is None or self._host.process is None:
            return
        proc.state = "stopping"
        self._changed()
        log.info("stopping %s (in the host process, pid %s)", proc.component.name, self._host.pid)
        self._send_host({"op": "stop", "name": proc.component.name})
        deadline = time.monotonic() + self._stop_timeout
        while proc.state == "stopping" and (left := deadline - time.monotonic()) > 0:
            self._host_news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._host_news.wait(), left)
        if proc.state == "stopping":
            log.warning("%s did not stop within %gs; its host process stops next", proc.component.name,
                        self._stop_timeout)

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
