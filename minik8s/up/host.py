"""The one process that runs the components of ``minik8s up`` (``python -m minik8s.up.host``),
as k3s runs its apiserver, scheduler, controller-manager, kubelet and proxy in one process:
one Python interpreter and one copy of the libraries they share instead of one per component
(issue #15: the idle footprint), chosen with ``minik8s up --single-process``; by default each
component is a process of its own, as the design has it.

Each component runs its entry point, ``<module>.main(argv)`` with the same flags its process
would get, in a thread of its own with its own event loop, so a component blocking its loop
stalls no other's. Each keeps its supervisor semantics in here: a component whose ``main``
returns or raises is restarted after the same back-off as a process
(:func:`~minik8s.up.supervisor.next_backoff`), exit code 2 (bad flags) marks it failed, and a
stop request stops it through the handler it registered (:func:`minik8s.process.add_stop_handler`).
What the host cannot give is crash isolation between components: a crash of the interpreter
(or a SIGKILL) ends them all, and the supervisor restarts the host with every component.

Its log lines and what it writes to stdout/stderr go to the component's own log file
(``<data-dir>/logs/<name>.log``), routed by the component each thread and task belongs to.

The control channel is the supervisor's pipe: JSON lines on stdin (``{"op": "start", ...}``,
``{"op": "stop", "name": ...}``) and JSON reports on the original stdout (``{"name", "state",
"restarts", "lastExit", "message", "startedAt"}``). End of stdin (the supervisor is gone) or
SIGTERM stops every component, in the supervisor's stop order, and ends the host.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

from minik8s import process
from minik8s.up.components import STOP_WAVES
from minik8s.up.supervisor import EXIT_USAGE, INITIAL_BACKOFF, MAX_BACKOFF, STABLE_AFTER, next_backoff

__all__ = ["Host", "main"]

#: The component the running code belongs to (set in its thread; its tasks and to_thread calls inherit it).
_component: contextvars.ContextVar[str] = contextvars.ContextVar("minik8s_component", default="")
#: How long each stop wave may take before the host ends anyway (the supervisor kills at 10 s).
STOP_WAVE_TIMEOUT = 3.0


class _Files:
    """Each component's log file, opened once for appending (the supervisor's layout)."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()

    def open(self, name: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if name not in self._files:
                self._files[name] = open(path, "a", buffering=1, encoding="utf-8", errors="replace")

    def current(self) -> TextIO:
        return self._files.get(_component.get(), self.fallback)

    def of(self, name: str) -> TextIO:
        return self._files.get(name, self.fallback)


class _Routed:
    """``sys.stdout``/``sys.stderr`` of the host: a write goes to the log of the component it
    comes from (argparse's errors, a thread's traceback), the host's own to its log."""

    def __init__(self, files: _Files) -> None:
        self._files = files

    def write(self, text: str) -> int:
        return self._files.current().write(text)

    def flush(self) -> None:
        self._files.current().flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._files.fallback.fileno()


class _RoutingHandler(logging.Handler):
    """Writes each record to its component's log, at the level that component was given."""

    def __init__(self, files: _Files) -> None:
        super().__init__()
        self._files = files
        self.levels: dict[str, int] = {}
        self.setFormatter(logging.Formatter(process.LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        name = _component.get()
        if record.levelno < self.levels.get(name, logging.INFO):
            return
        try:
            self._files.of(name).write(self.format(record) + "\n")
        except Exception:  # a log line must never take a component down
            self.handleError(record)


def _log_level(argv: list[str]) -> int:
    """The ``--log-level`` a component was given (its flag), INFO when none."""
    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
    for i, arg in enumerate(argv):
        if arg.startswith("--log-level="):
            return levels.get(arg.split("=", 1)[1].lower(), logging.INFO)
        if arg == "--log-level" and i + 1 < len(argv):
            return levels.get(argv[i + 1].lower(), logging.INFO)
    return logging.INFO


class _Component(threading.Thread):
    """One component kept running in a thread, with a process's restart semantics."""

    def __init__(self, host: Host, spec: dict[str, Any]) -> None:
        super().__init__(name=spec["name"], daemon=True)
        self.host = host
        self.spec = spec
        self.stopping = threading.Event()
        self.stopped = threading.Event()
        self.request = process.StopRequest()
        self.restarts = 0

    def stop(self) -> None:
        if self.stopping.is_set() or self.stopped.is_set():
            return
        self.stopping.set()
        self.request.fire()

    def run(self) -> None:
        _component.set(self.spec["name"])
        backoff = self.host.initial_backoff
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                self.request = process.StopRequest()
                if self.stopping.is_set():
                    break
                self.host.report(self.spec["name"], "running", restarts=self.restarts, startedAt=time.time())
                code = self._run_once()
                uptime = time.monotonic() - started
                if self.stopping.is_set():
                    self.host.report(self.spec["name"], "stopped", restarts=self.restarts, lastExit=code)
                    break
                tail = f"exited with code {code}"
                if code == EXIT_USAGE and uptime < self.host.stable_after:
                    self.host.report(self.spec["name"], "failed", restarts=self.restarts, lastExit=code,
                                     message=f"{tail} (bad flags); see its log")
                    return
                wait, backoff = next_backoff(backoff, uptime, initial=self.host.initial_backoff,
                                             maximum=self.host.max_backoff, stable_after=self.host.stable_after)
                self.restarts += 1
                self.host.report(self.spec["name"], "backoff", restarts=self.restarts, lastExit=code,
                                 message=f"{tail}; restarting in {wait:g}s")
                self.stopping.wait(wait)
            else:
                self.host.report(self.spec["name"], "stopped", restarts=self.restarts)
        finally:
            self.stopped.set()

    def _run_once(self) -> int:
        spec = self.spec
        out = self.host.files.of(spec["name"])
        out.write(f"\n--- minik8s: {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec['name']} in the host "
                  f"process (pid {os.getpid()}): {shlex.join(['python', '-m', spec['module'], *spec['argv']])}\n")
        process.set_stop_request(self.request)
        try:
            importlib.import_module(spec["module"]).main(list(spec["argv"]))
            return 0
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                return e.code or 0
            out.write(f"{e.code}\n")  # sys.exit("message"): what the interpreter would print
            return 1
        except BaseException:
            out.write(traceback.format_exc())
            return 1
        finally:
            process.set_stop_request(None)
            out.flush()


class Host:
    """The components of one supervisor, each in its thread. ``initial_backoff``,
    ``max_backoff`` and ``stable_after`` are for tests."""

    def __init__(self, reports: TextIO, files: _Files, handler: _RoutingHandler, *,
                 initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF,
                 stable_after: float = STABLE_AFTER) -> None:
        self._reports = reports
        self._report_lock = threading.Lock()
        self.files = files
        self.handler = handler
        self.components: dict[str, _Component] = {}
        self.initial_backoff, self.max_backoff, self.stable_after = initial_backoff, max_backoff, stable_after

    def report(self, name: str, state: str, **fields: Any) -> None:
        line = json.dumps({"name": name, "state": state, "pid": os.getpid(), **fields})
        with self._report_lock:
            try:
                self._reports.write(line + "\n")
                self._reports.flush()
            except (OSError, ValueError):  # the supervisor is gone: stdin's end stops us next
                pass

    def start(self, spec: dict[str, Any]) -> None:
        name = spec["name"]
        if name in self.components and self.components[name].is_alive():
            return
        self.files.open(name, Path(spec["log"]))
        self.handler.levels[name] = _log_level(list(spec["argv"]))
        # the root logger passes what the most verbose component wants; each file filters its own
        root = logging.getLogger()
        root.setLevel(min(root.level or logging.WARNING, self.handler.levels[name]))
        comp = _Component(self, spec)
        self.components[name] = comp
        comp.start()

    def stop(self, names: list[str], timeout: float = STOP_WAVE_TIMEOUT) -> None:
        comps = [self.components[n] for n in names if n in self.components]
        for c in comps:
            c.stop()
        deadline = time.monotonic() + timeout
        for c in comps:
            c.stopped.wait(max(0.0, deadline - time.monotonic()))

    def stop_all(self) -> None:
        """Every component, in the supervisor's stop order (control loops, nodes, apiserver)."""
        kinds = [list(w) for w in STOP_WAVES]
        known = {k for w in kinds for k in w}
        kinds.append([c.spec["kind"] for c in self.components.values() if c.spec["kind"] not in known])
        for wave in kinds:
            self.stop([n for n, c in self.components.items() if c.spec["kind"] in wave])


def _serve(host: Host, commands: TextIO) -> None:
    for line in commands:
        try:
            cmd = json.loads(line)
            if cmd["op"] == "start":
                host.start(cmd["component"])
            elif cmd["op"] == "stop":
                threading.Thread(target=host.stop, args=([cmd["name"]],), daemon=True).start()
        except (ValueError, KeyError, TypeError) as e:
            print(f"minik8s host: bad command {line!r}: {e}", file=sys.__stderr__, flush=True)


def main(argv: list[str] | None = None) -> None:
    del argv  # no flags: what to run comes over stdin
    # the reports keep the real stdout; print() and tracebacks go to the components' logs
    reports = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    fallback = sys.stderr
    files = _Files(fallback)
    sys.stdout = sys.stderr = _Routed(files)
    handler = _RoutingHandler(files)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    host = Host(reports, files, handler)
    done = threading.Event()

    def on_term(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    def control() -> None:
        _serve(host, sys.__stdin__ or open(os.devnull))
        done.set()  # end of stdin: the supervisor is gone

    threading.Thread(target=control, name="control", daemon=True).start()
    while not done.wait(1.0):
        pass
    host.stop_all()
    reports.close()
    fallback.flush()
    os._exit(0)  # threads of components that did not stop in time must not hold the exit up


if __name__ == "__main__":
    main()
