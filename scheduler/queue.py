"""The scheduling queue: which pending pod the scheduler tries next, and when a failed one
is tried again. Kubernetes' ``PriorityQueue`` (``pkg/scheduler/internal/queue``).

Three places a pending pod can wait, plus "in flight" while a cycle (or its binding) has it::

    add ──► activeQ ──pop──► in flight ──done──► (gone: bound)
              ▲   ▲              │
              │   │   FitError ──┼──► unschedulableQ ──cluster event that could help──┐
              │   │              │        │  (or 5 min without one)                  │
              │   └── backoffQ ◄─┴────────┴──────── still backing off ◄───────────────┘
              └──────── backoff over

* **activeQ** is a heap ordered by ``spec.priority`` (higher first), then by the time the pod
  entered the queue (earlier first).
* **backoffQ** holds pods waiting out their per-pod backoff: 1 s doubling per attempt, at most
  10 s (Kubernetes' podInitialBackoffSeconds / podMaxBackoffSeconds). A timer moves each to
  activeQ when its backoff ends.
* **unschedulableQ** holds pods no node could take. They are moved back only by a cluster
  event that could change the answer for them: :meth:`move_all_to_active_or_backoff` gets the
  event together with the plugins it may help, and moves a pod only if one of the plugins
  that rejected it (``FitError.unschedulable_plugins``) is among them. A pod that waited 5
  minutes is moved regardless (the periodic leftover flush, every 30 s).
* A pod that failed while a move request happened during its cycle goes to backoffQ instead of
  unschedulableQ, so the event that might have helped it is not lost (``moveRequestCycle``).

Updates of a queued pod replace it in place; an update of an unschedulable pod that changes
more than its status (its spec, labels...) moves it as an event would. A pod in flight is only
remembered in its latest form, never queued twice.

Time comes from a :class:`~minik8s.workqueue.Clock` (keyword-only ``clock``), so tests drive
backoff with :class:`~minik8s.workqueue.FakeClock`. Not thread-safe: one asyncio loop owns it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import logging
from collections.abc import Iterable
from typing import Any

from minik8s.api import typed
from minik8s.workqueue import Clock, RealClock, ShutDown
from scheduler.framework import PodInfo, pod_key
from scheduler.plugins.node_affinity import NAME as NODE_AFFINITY
from scheduler.plugins.node_ports import NAME as NODE_PORTS
from scheduler.plugins.node_ready import NAME as NODE_READY
from scheduler.plugins.node_resources_fit import FIT_NAME as NODE_RESOURCES_FIT
from scheduler.plugins.node_unschedulable import NAME as NODE_UNSCHEDULABLE
from scheduler.plugins.taint_toleration import NAME as TAINT_TOLERATION
from scheduler.plugins.volume_binding import NAME as VOLUME_BINDING

__all__ = [
    "ClusterEvent",
    "QueuedPodInfo",
    "SchedulingQueue",
    "ShutDown",
    "NODE_ADD",
    "ASSIGNED_POD_DELETE",
    "UNSCHEDULABLE_TIMEOUT",
    "node_update_event",
    "pod_updated",
]

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
# Kubernetes' podMaxInUnschedulablePodsDuration and its flush period.
UNSCHEDULABLE_TIMEOUT = 300.0
_LEFTOVER_FLUSH_PERIOD = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A change in the cluster, and the filter plugins whose verdict it may change
    (``None``: any of them, as for a new node)."""

    name: str
    plugins: frozenset[str] | None = None

    def may_help(self, rejectors: frozenset[str]) -> bool:
        # A pod no plugin is on record for (no nodes at all, an unexpected error) may be helped
        # by anything, as in Kubernetes.
        if self.plugins is None or not rejectors:
            return True
        return not self.plugins.isdisjoint(rejectors)


NODE_ADD = ClusterEvent("NodeAdd")
# Freed resources, host ports and ReadWriteOncePod claims are what a deleted (or finished) pod
# gives back.
ASSIGNED_POD_DELETE = ClusterEvent("AssignedPodDelete", frozenset({NODE_RESOURCES_FIT, NODE_PORTS, VOLUME_BINDING}))
UNSCHEDULABLE_TIMEOUT_EVENT = ClusterEvent("UnschedulableTimeout")
FORCE_ACTIVATE = ClusterEvent("ForceActivate")
# A claim, volume or class changed: only pods the VolumeBinding plugin turned away can gain.
VOLUME_CHANGE = ClusterEvent("PersistentVolumeChange", frozenset({VOLUME_BINDING}))


def _conditions(node: typed.Node) -> dict[str, str]:
    return {c.get("type") or "": c.get("status") or "" for c in (node.get("status") or {}).get("conditions") or ()}


def node_update_event(old: typed.Node, new: typed.Node) -> ClusterEvent | None:
    """The event a node update amounts to for pending pods, or None when nothing that any
    filter reads has changed (a heartbeat). Kubernetes' ``nodeSchedulingPropertiesChange``."""
    plugins: set[str] = set()
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable"):
        plugins.add(NODE_RESOURCES_FIT)
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        plugins.add(NODE_AFFINITY)
    if old_spec.get("taints") != new_spec.get("taints"):
        plugins.add(TAINT_TOLERATION)
    if bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        # Kubernetes counts a cordon change as a taint change (node.kubernetes.io/unschedulable).
        plugins.update((NODE_UNSCHEDULABLE, TAINT_TOLERATION))
    if _conditions(old) != _conditions(new):
        plugins.add(NODE_READY)
    if not plugins:
        return None
    return ClusterEvent("NodeUpdate", frozenset(plugins))


_VOLATILE_METADATA = ("resourceVersion", "generation", "managedFields")


def _scheduling_relevant(pod: typed.Pod) -> tuple[Any, Any]:
    md = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in _VOLATILE_METADATA}
    return md, pod.get("spec")


def pod_updated(old: typed.Pod, new: typed.Pod) -> bool:
    """Whether an update changed more than status and bookkeeping (Kubernetes' isPodUpdated):
    our own PodScheduled patch must not wake the pod it describes."""
    return _scheduling_relevant(old) != _scheduling_relevant(new)


def _priority(pod: typed.Pod) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


@dataclasses.dataclass(slots=True, eq=False)
class QueuedPodInfo:
    """A pending pod as the queue holds it."""

    pod: typed.Pod
    info: PodInfo
    key: str
    priority: int
    # Order among equal priorities: a counter taken each time the pod enters the queue.
    seq: int = 0
    # Which heap entry is this pod's current one; older entries are skipped (lazy deletion).
    token: int = 0
    timestamp: float = 0.0  # clock time the pod last entered a queue (or failed)
    initial_attempt: float | None = None  # clock time of the first pop
    attempts: int = 0
    cycle: int = 0  # scheduling cycle of its last pop
    unschedulable_plugins: frozenset[str] = frozenset()
    deleted: bool = False  # deleted while in flight: never requeue

    def set_pod(self, pod: typed.Pod) -> None:
        self.pod = pod
        self.info = PodInfo(pod)
        self.priority = _priority(pod)


class SchedulingQueue:
    def __init__(self, *, clock: Clock | None = None, initial_backoff: float = INITIAL_BACKOFF,
                 max_backoff: float = MAX_BACKOFF, unschedulable_timeout: float = UNSCHEDULABLE_TIMEOUT) -> None:
        self._clock = clock or RealClock()
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self._seq = itertools.count()
        self._active: dict[str, QueuedPodInfo] = {}
        self._tokens = itertools.count(1)
        self._active_heap: list[tuple[int, int, int, str]] = []  # (-priority, seq, token, key)
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []  # (expiry, token, key)
        self._backoff_timer: Any = None
        self._backoff_timer_at = float("inf")
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, QueuedPodInfo] = {}
        self._scheduling_cycle = 0
        self._move_request_cycle = -1
        self._wakeup: asyncio.Event | None = None
        self._leftover_timer: Any = None
        self._closed = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin the periodic flush of pods unschedulable for too long."""
        if self._leftover_timer is None and not self._closed:
            self._leftover_timer = self._clock.call_later(_LEFTOVER_FLUSH_PERIOD, self._leftover_tick)

    def close(self) -> None:
        """Stop timers; ``pop`` raises :class:`ShutDown` once activeQ is empty."""
        self._closed = True
        for timer in (self._leftover_timer, self._backoff_timer):
            if timer is not None:
                timer.cancel()
        self._leftover_timer = self._backoff_timer = None
        if self._wakeup is not None:
            self._wakeup.set()

    # -- informer side ------------------------------------------------------------------------

    def add(self, pod: typed.Pod) -> None:
        """A new pending pod (or one seen again): to activeQ unless already known."""
        key = pod_key(pod)
        if key in self._in_flight:
            self._in_flight[key].set_pod(pod)
            return
        existing = self._find(key)
        if existing is not None:
            self.update(pod)
            return
        qpi = QueuedPodInfo(pod, PodInfo(pod), key, _priority(pod), timestamp=self._clock.now())
        self._push_active(qpi)

    def update(self, new: typed.Pod) -> None:
        """A newer version of a pending pod; compared with the version the queue holds."""
        key = pod_key(new)
        qpi = self._in_flight.get(key)
        if qpi is not None:
            qpi.set_pod(new)  # its cycle decides where it goes next, with this version
            return
        qpi = self._active.get(key)
        if qpi is not None:
            prio = qpi.priority
            qpi.set_pod(new)
            if qpi.priority != prio:
                self._push_active(qpi, new_arrival=False)
            return
        qpi = self._backoff.get(key)
        if qpi is not None:
            qpi.set_pod(new)
            return
        qpi = self._unschedulable.get(key)
        if qpi is not None:
            changed = pod_updated(qpi.pod, new)
            qpi.set_pod(new)
            if changed:
                del self._unschedulable[key]
                self._push_backoff_or_active(qpi)
            return
        self.add(new)

    def delete(self, pod: typed.Pod | str) -> None:
        key = pod if isinstance(pod, str) else pod_key(pod)
        self._active.pop(key, None)  # its heap entry goes stale and is skipped
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        qpi = self._in_flight.get(key)
        if qpi is not None:
            qpi.deleted = True

    def move_all_to_active_or_backoff(self, event: ClusterEvent) -> int:
        """Move the unschedulable pods ``event`` could help; returns how many moved."""
        self._move_request_cycle = self._scheduling_cycle
        if not self._unschedulable:
            return 0
        moving = [q for q in self._unschedulable.values() if event.may_help(q.unschedulable_plugins)]
        for qpi in moving:
            del self._unschedulable[qpi.key]
            self._push_backoff_or_active(qpi)
        if moving:
            log.debug("%s moved %d unschedulable pod(s)", event.name, len(moving))
        return len(moving)

    # -- scheduler side -----------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule, now in flight; waits while activeQ is empty."""
        while True:
            qpi = self._pop_nowait()
            if qpi is not None:
                return qpi
            if self._closed:
                raise ShutDown()
            if self._wakeup is None:
                self._wakeup = asyncio.Event()
            self._wakeup.clear()
            await self._wakeup.wait()

    def _pop_nowait(self) -> QueuedPodInfo | None:
        heap, active = self._active_heap, self._active
        while heap:
            _, _, token, key = heapq.heappop(heap)
            qpi = active.get(key)
            if qpi is None or qpi.token != token:
                continue  # deleted, or re-pushed with a new place
            del active[key]
            self._scheduling_cycle += 1
            qpi.cycle = self._scheduling_cycle
            qpi.attempts += 1
            if qpi.initial_attempt is None:
                qpi.initial_attempt = self._clock.now()
            self._in_flight[key] = qpi
            return qpi
        return None

    def done(self, key: str) -> None:
        """The pod's cycle (and binding) is over and it needs no requeue."""
        self._in_flight.pop(key, None)

    def add_unschedulable(self, qpi: QueuedPodInfo, plugins: Iterable[str] = ()) -> None:
        """The pod fit nowhere; ``plugins`` are the ones that rejected it."""
        self._in_flight.pop(qpi.key, None)
        if qpi.deleted or self._find(qpi.key) is not None:
            return
        qpi.unschedulable_plugins = frozenset(plugins)
        qpi.timestamp = self._clock.now()
        if self._move_request_cycle >= qpi.cycle:
            # Something changed while this pod's cycle ran: it may fit now.
            self._push_backoff_or_active(qpi)
        else:
            self._unschedulable[qpi.key] = qpi

    def add_backoff(self, qpi: QueuedPodInfo) -> None:
        """The pod's attempt failed for another reason (a binding error): retry after backoff."""
        self._in_flight.pop(qpi.key, None)
        if qpi.deleted or self._find(qpi.key) is not None:
            return
        qpi.unschedulable_plugins = frozenset()
        qpi.timestamp = self._clock.now()
        self._push_backoff_or_active(qpi)

    # -- introspection (tests, logs) ----------------------------------------------------------

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        """1 s, doubled per attempt after the first, at most 10 s."""
        if qpi.attempts <= 1:
            return min(self.initial_backoff, self.max_backoff)
        factor: int = 2 ** min(qpi.attempts - 1, 30)
        return min(self.initial_backoff * factor, self.max_backoff)

    def where(self, key: str) -> str | None:
        """"active", "backoff", "unschedulable", "in-flight" or None."""
        if key in self._active:
            return "active"
        if key in self._backoff:
            return "backoff"
        if key in self._unschedulable:
            return "unschedulable"
        if key in self._in_flight:
            return "in-flight"
        return None

    def lengths(self) -> dict[str, int]:
        return {"active": len(self._active), "backoff": len(self._backoff),
                "unschedulable": len(self._unschedulable), "in-flight": len(self._in_flight)}

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    # -- internals ----------------------------------------------------------------------------

    def _find(self, key: str) -> QueuedPodInfo | None:
        return self._active.get(key) or self._backoff.get(key) or self._unschedulable.get(key)

    def _push_active(self, qpi: QueuedPodInfo, *, new_arrival: bool = True) -> None:
        # A priority change re-files the pod but keeps its arrival order among equals.
        if new_arrival:
            qpi.seq = next(self._seq)
        qpi.token = next(self._tokens)
        self._active[qpi.key] = qpi
        heapq.heappush(self._active_heap, (-qpi.priority, qpi.seq, qpi.token, qpi.key))
        if self._wakeup is not None:
            self._wakeup.set()

    def _backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def _push_backoff_or_active(self, qpi: QueuedPodInfo) -> None:
        """To backoffQ while its backoff (counted from its last failure) runs, else activeQ."""
        expiry = self._backoff_expiry(qpi)
        if expiry <= self._clock.now():
            self._push_active(qpi)
            return
        qpi.token = next(self._tokens)
        self._backoff[qpi.key] = qpi
        heapq.heappush(self._backoff_heap, (expiry, qpi.token, qpi.key))
        self._arm_backoff_timer(expiry)

    def _arm_backoff_timer(self, expiry: float) -> None:
        if self._closed or expiry >= self._backoff_timer_at:
            return
        if self._backoff_timer is not None:
            self._backoff_timer.cancel()
        self._backoff_timer_at = expiry
        self._backoff_timer = self._clock.call_later(expiry - self._clock.now(), self._flush_backoff)

    def _flush_backoff(self) -> None:
        self._backoff_timer = None
        self._backoff_timer_at = float("inf")
        now = self._clock.now()
        heap = self._backoff_heap
        while heap and heap[0][0] <= now:
            _, token, key = heapq.heappop(heap)
            qpi = self._backoff.get(key)
            if qpi is None or qpi.token != token:
                continue
            del self._backoff[key]
            self._push_active(qpi)
        # Drop stale heads so the timer is armed for a pod that is really waiting.
        while heap and getattr(self._backoff.get(heap[0][2]), "token", None) != heap[0][1]:
            heapq.heappop(heap)
        if heap:
            self._arm_backoff_timer(heap[0][0])

    def _leftover_tick(self) -> None:
        self._leftover_timer = None
        self.flush_unschedulable_leftover()
        self.start()

    def flush_unschedulable_leftover(self) -> int:
        """Move pods unschedulable for longer than the timeout (Kubernetes' 5 minutes)."""
        now = self._clock.now()
        stale = [q for q in self._unschedulable.values() if now - q.timestamp > self.unschedulable_timeout]
        for qpi in stale:
            del self._unschedulable[qpi.key]
            self._push_backoff_or_active(qpi)
        return len(stale)
