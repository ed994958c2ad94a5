"""Running a supervised minik8s, for ``up`` and ``join`` alike: hold the data dir's lock, fork
the start-up (:mod:`~minik8s.up.startup`: credentials, readiness order, progress, the banner),
start the components it asks for, then keep everything running until Ctrl-C / SIGTERM and
stop it in order. A second Ctrl-C kills what is still stopping.

The supervisor is this process, and it lives as long as the cluster: it imports only what
supervising needs (no REST client, no cryptography). Start-up, which needs both, runs in a
child forked before either is loaded, and its memory goes with it (issue #15).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import traceback
from typing import TextIO

from minik8s import taskgroup
from minik8s.up import components
from minik8s.up.config import UpConfig
from minik8s.up.state import Lock
from minik8s.up.supervisor import Supervisor, die_with_parent, log

__all__ = ["run"]


def run(cfg: UpConfig, *, out: TextIO = sys.stdout) -> int:
    """Run until a signal; returns the process exit code. Preflight must have passed."""
    lock = Lock(cfg.data_dir)
    if not lock.acquire():
        log.error("minik8s is already running from %s", cfg.data_dir)
        return 1
    try:
        read_end, write_end = os.pipe()
        child = os.fork()  # before any thread or event loop exists in this process
        if child == 0:  # pragma: no cover - the child's coverage is not collected
            os.close(read_end)
            os._exit(_startup_child(cfg, write_end, out))
        os.close(write_end)
        return asyncio.run(_supervise(cfg, read_end, child))
    finally:
        lock.release()


def _startup_child(cfg: UpConfig, channel: int, out: TextIO) -> int:
    code = 1
    try:
        die_with_parent()
        # Ctrl-C reaches the whole terminal's process group: the supervisor decides, and stops us
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from minik8s.up import startup

        code = asyncio.run(startup.run(cfg, channel, out=out))
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            out.flush()
            sys.stderr.flush()
    return code


async def _follow_startup(sup: Supervisor, channel: int, child: int) -> int:
    """Start what the start-up child asks for until it exits; its exit code."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(channel, "rb"))
    try:
        while line := await reader.readline():
            for spec in json.loads(line).get("start", ()):
                sup.start(components.from_json(spec))
        _, status = await asyncio.to_thread(os.waitpid, child, 0)
        return os.waitstatus_to_exitcode(status)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)
        await asyncio.to_thread(os.waitpid, child, 0)
        raise
    finally:
        transport.close()


async def _supervise(cfg: UpConfig, channel: int, child: int) -> int:
    sup = Supervisor(cfg.data_dir, info={
        "mode": cfg.mode, "server": cfg.server_url, "dataDir": str(cfg.data_dir), "nodes": cfg.node_names(),
        "kubeconfig": str(cfg.kubeconfig_path) if cfg.mode == "up" else None})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: killing every component now", signal.Signals(signum).name)
            sup.kill_all()
            return
        log.info("%s: stopping minik8s (pods' containers keep running)", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    code = 0
    try:
        startup = asyncio.create_task(_follow_startup(sup, channel, child), name="startup")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait([startup, stopper], return_when=asyncio.FIRST_COMPLETED)
        if startup.done():
            exc = startup.exception()
            if exc is not None or startup.result() != 0:
                if exc is not None:
                    log.error("minik8s cannot start: %s", exc)
                code = 1  # the start-up logged why
            else:
                await stopper
        else:
            await taskgroup.cancel_and_wait([startup])
        stopper.cancel()
    finally:
        await sup.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    log.info("minik8s stopped")
    return code
