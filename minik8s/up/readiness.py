"""Waiting, with progress, for components to become healthy: the apiserver's ``/readyz`` and
each local node registered and Ready. Start-up follows readiness (k3s' "waiting for ..."):
nothing that needs the apiserver starts before it answers.

Progress is one line when the wait begins, one every few seconds while it lasts (saying what
is still missing, and why when a component exited), and one when it is over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Protocol

from minik8s import errors
from minik8s.api.resources import NODES
from minik8s.client.rest import ApiClient
from minik8s.up.supervisor import Proc, log, log_tail

__all__ = ["ComponentFailed", "Components", "node_condition", "wait_apiserver", "wait_nodes"]


class Components(Protocol):
    """What the waits read of the components: the supervisor, or its state file (start-up)."""

    @property
    def procs(self) -> Mapping[str, Proc]: ...

POLL = 0.2
REPORT_EVERY = 5.0
#: An apiserver that crashed this many times before ever answering will not: stop trying.
GIVE_UP_AFTER = 3


class ComponentFailed(Exception):
    """Raised when a component the wait depends on can never become healthy (failed, missing)."""


def node_condition(node: dict[str, Any], ctype: str = "Ready") -> tuple[str, str]:
    """``(status, reason-or-message)`` of a node condition; ``("Unknown", "")`` when absent."""
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status", "Unknown"), c.get("message") or c.get("reason") or ""
    return "Unknown", ""


def _check_alive(proc: Proc | None, *, give_up_after: int | None = None) -> str:
    """Raise when ``proc`` cannot recover (failed, missing, or it exited ``give_up_after``
    times before becoming healthy); else a note for the progress line ("" when fine)."""
    if proc is None:
        return ""
    hopeless = proc.state in ("failed", "missing") or (
        give_up_after is not None and proc.restarts >= give_up_after)
    if hopeless:
        tail = log_tail(proc.component.log_path, 8)
        what = proc.message if proc.state in ("failed", "missing") else \
            f"exited {proc.restarts} times before becoming ready (last exit code {proc.last_exit})"
        raise ComponentFailed(f"{proc.component.name}: {what}; log {proc.component.log_path}"
                              + (f":\n{tail}" if tail else ""))
    if proc.state == "backoff":
        return f" ({proc.component.name} {proc.message})"
    return ""


async def wait_apiserver(client: ApiClient, sup: Components | None, *, name: str = "apiserver",
                         timeout: float | None = None) -> float:
    """Poll ``/readyz`` until it answers 200; returns the seconds waited."""
    start = time.monotonic()
    next_report = start + REPORT_EVERY
    log.info("waiting for apiserver at %s/readyz", client.server)
    last_error = ""
    while True:
        try:
            r = await client.request("GET", "/readyz", timeout=2.0)
            if r.status_code == 200:
                took = time.monotonic() - start
                log.info("apiserver is ready (%.1fs)", took)
                return took
        except errors.ConnectionFailed as e:
            last_error = str(e)
        except errors.ApiError as e:
            last_error = f"/readyz: {e}"
        note = _check_alive(sup.procs.get(name) if sup else None, give_up_after=GIVE_UP_AFTER)
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            raise TimeoutError(f"apiserver at {client.server} not ready after {timeout:g}s: {last_error}")
        if now >= next_report:
            log.info("still waiting for apiserver (%.0fs)%s", now - start, note or (f": {last_error}" if last_error else ""))
            next_report = now + REPORT_EVERY
        await asyncio.sleep(POLL)


async def wait_nodes(client: ApiClient, names: list[str], sup: Components | None = None, *,
                     timeout: float | None = None) -> bool:
    """Wait until every node in ``names`` is registered and Ready, saying which are not yet.
    Returns False when ``timeout`` ran out first (``up`` keeps running: a node may come late)."""
    if not names:
        return True
    start = time.monotonic()
    next_report = start + REPORT_EVERY
    log.info("waiting for node%s %s to register and become Ready", "s" if len(names) > 1 else "", ", ".join(names))
    ready: set[str] = set()
    kubelets = {p.component.node: p for p in (sup.procs.values() if sup else ()) if p.component.kind == "kubelet"}
    while True:
        waiting: list[str] = []
        for name in names:
            if name in ready:
                continue
            try:
                node = await client.get(NODES, name)
            except errors.NotFound:
                waiting.append(f"{name}: not registered yet{_check_alive(kubelets.get(name))}")
                continue
            except errors.MiniK8sError as e:
                waiting.append(f"{name}: {e}")
                continue
            status, why = node_condition(node)
            if status == "True":
                ready.add(name)
                log.info("node %s is Ready (%.1fs)", name, time.monotonic() - start)
            else:
                waiting.append(f"{name}: registered, Ready={status}{' (' + why + ')' if why else ''}"
                               f"{_check_alive(kubelets.get(name))}")
        if not waiting:
            return True
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            log.warning("not every node is Ready after %.0fs: %s", now - start, "; ".join(waiting))
            return False
        if now >= next_report:
            log.info("still waiting (%.0fs): %s", now - start, "; ".join(waiting))
            next_report = now + REPORT_EVERY
        await asyncio.sleep(POLL)
