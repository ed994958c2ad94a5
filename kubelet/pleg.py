"""The pod lifecycle event generator: which pods' containers changed in the runtime.

Two ways to know, as Kubernetes' kubelet has them:

- **Relisting** (the generic PLEG): list every sandbox and container of the node, compare
  with the last listing, and wake the pods whose objects appeared, changed state or went.
- **Following the runtime's event stream** (the evented PLEG): when the runtime streams its
  containers' changes (``runtime.streams_events``; Docker's ``/events``), each change wakes its
  pod at once, and the relist stays only as the safety net, at a long period (Kubernetes' 300 s).
  The stream is opened *before* a catch-up relist, so nothing that changes in between is
  missed. While the stream is down (the engine restarted, or refused it) the relist runs at
  the generic period again and the stream is reopened.

What a change means is the caller's business: the PLEG only calls ``on_change(pod_uid)``;
the kubelet's handler marks pod workers dirty (level-triggered: the sync re-reads the world).
A removal of what had already stopped wakes nobody (Kubernetes' ``isSyncPodWorthy`` skips
ContainerRemoved): it is the container GC's own work, or a pod sync's removal of old attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from kubelet import metrics
from kubelet.runtime import interface as ri
from minik8s import taskgroup

__all__ = ["Pleg", "EVENTED_RELIST_PERIOD"]

log = logging.getLogger(__name__)

# Kubernetes' eventedPlegRelistPeriod: the relist is only the safety net while events flow.
EVENTED_RELIST_PERIOD = 300.0
# The states in which an object's disappearance is news: it was running when last seen.
_ALIVE = frozenset((str(ri.ContainerState.RUNNING), str(ri.SandboxState.READY)))


class Pleg:
    """Relists ``runtime`` every ``relist_period`` seconds, or follows its event stream and
    relists every ``evented_relist_period`` (``evented=False``: relisting only)."""

    def __init__(self, runtime: ri.ContainerRuntime, *, node: str, on_change: Callable[[str], None],
                 relist_period: float, evented: bool = True,
                 evented_relist_period: float = EVENTED_RELIST_PERIOD) -> None:
        self.runtime = runtime
        self.node = node
        self.on_change = on_change
        self.relist_period = relist_period
        self.evented = evented and runtime.streams_events
        self.evented_relist_period = max(relist_period, evented_relist_period)
        self._snapshot: dict[str, tuple[str, str]] = {}  # runtime object id -> (pod uid, state)
        self._lock = asyncio.Lock()  # one relist at a time: each diffs against the last
        self._streaming = False
        self._period_changed = asyncio.Event()
        self.events_seen = 0  # container events taken from the stream (for tests and logs)

    @property
    def streaming(self) -> bool:
        """Whether changes come from the runtime's event stream right now."""
        return self._streaming

    @property
    def period(self) -> float:
        """The relist period now: long while the event stream is followed."""
        return self.evented_relist_period if self._streaming else self.relist_period

    async def relist(self) -> None:
        """Compare the runtime with the last listing; report the pods whose objects changed."""
        async with self._lock:
            started = time.monotonic()
            sandboxes, containers = await self.runtime.list_pod_resources(node=self.node)
            snapshot: dict[str, tuple[str, str]] = {s.id: (s.pod_uid, str(s.state)) for s in sandboxes}
            snapshot.update({c.id: (c.pod_uid, str(c.state)) for c in containers})
            changed = {uid for cid, (uid, state) in snapshot.items() if self._snapshot.get(cid) != (uid, state)}
            changed |= {uid for cid, (uid, state) in self._snapshot.items() if cid not in snapshot and state in _ALIVE}
            self._snapshot = snapshot
            metrics.PLEG_RELIST_DURATION.observe(time.monotonic() - started)
        for uid in changed:
            if uid:
                self.on_change(uid)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._relist_loop(), name=f"pleg relist {self.node}")]
        if self.evented:
            tasks.append(asyncio.create_task(self._event_loop(), name=f"pleg events {self.node}"))
        await taskgroup.run_together(tasks)

    async def _relist_loop(self) -> None:
        failing = False
        while True:
            self._period_changed.clear()
            with contextlib.suppress(TimeoutError):
                # Woken early when the stream goes down: the short period applies at once.
                await asyncio.wait_for(self._period_changed.wait(), self.period)
                if self._streaming:
                    continue  # the stream came (back): nothing to catch up on here
            try:
                await self.relist()
                if failing:
                    log.info("node %s: container runtime answers again", self.node)
                failing = False
            except ri.RuntimeError_ as e:
                if not failing:
                    log.warning("node %s: cannot list the container runtime: %s", self.node, e)
                failing = True

    async def _event_loop(self) -> None:
        said = False
        while True:
            try:
                events = await self.runtime.container_events(node=self.node)
            except ri.RuntimeError_ as e:
                if not said:
                    log.warning("node %s: cannot follow the runtime's container events (%s); relisting every %gs",
                                self.node, e, self.relist_period)
                    said = True
                await asyncio.sleep(self.relist_period)
                continue
            try:
                # Whatever changed before the stream opened is caught by one relist now;
                # what changes from here on is in the stream.
                await self.relist()
                self._streaming = True
                self._period_changed.set()
                if said:
                    log.info("node %s: following the runtime's container events again", self.node)
                    said = False
                async for event in events:
                    self.events_seen += 1
                    if event.pod_uid and event.type is not ri.ContainerEventType.DELETED:
                        self.on_change(event.pod_uid)
            except ri.RuntimeError_ as e:
                log.warning("node %s: the runtime's container event stream failed: %s", self.node, e)
            finally:
                was = self._streaming
                self._streaming = False
                if was:
                    self._period_changed.set()
                await events.aclose()
            if not said:
                log.warning("node %s: the runtime's container event stream ended; relisting every %gs until it "
                            "is back", self.node, self.relist_period)
                said = True
            await asyncio.sleep(self.relist_period)
