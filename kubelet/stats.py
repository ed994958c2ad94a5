"""The kubelet's Summary API (``GET /stats/summary`` on the node API, authorized as
``nodes/stats``): the node's and each pod's and container's CPU and memory, in the shape of
Kubernetes' ``k8s.io/kubelet/pkg/apis/stats/v1alpha1`` (``node`` + ``pods``, each with
``cpu {time, usageNanoCores, usageCoreNanoSeconds}`` and ``memory {time, availableBytes,
usageBytes, workingSetBytes, rssBytes, pageFaults, majorPageFaults}``).

Cost: the containers are read in one *sweep* (one listing of the engine, then one reading per
running container, :meth:`ContainerRuntime.container_stats`) at most once per ``interval``
(10 s, cAdvisor's housekeeping); every request in between is answered from the last sweep,
and a kubelet nobody asks sweeps nothing. ``usageNanoCores`` is the rate between a
container's reading in the last sweep and in the one before, as cAdvisor derives it: a
container (or node) seen in one sweep only has no ``usageNanoCores`` yet.

The node's figures are the machine's (``/proc/stat``, ``/proc/meminfo``): every kubelet of one
machine reports the same node figures. A pod's figures add up its containers; its sandbox
(the pause container, which idles: a few hundred kB and no CPU) is not read, which halves the
engine's work per sweep (Docker answers each stats call at its collector's next second).

The hollow runtime (``--runtime fake``) has no processes and says so (``container_stats`` is
``None``): its pods are listed with their containers and no ``cpu``/``memory``, and its node
has none either, as the machine it runs on is not the node it pretends to be. Nothing is
invented; ``kubectl top`` then shows no figures for hollow nodes and pods.
Not measured (and so left out, never zero-filled): network, filesystem, volume and process
statistics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kubelet.runtime import interface as ri
from minik8s import timestamps
from minik8s.api import typed

__all__ = ["StatsProvider", "SWEEP_INTERVAL_S", "host_reading"]

#: cAdvisor's housekeeping interval: one sweep at most this often.
SWEEP_INTERVAL_S = 10.0

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Source(Protocol):
    node_name: str
    runtime: ri.ContainerRuntime

    def pods(self) -> list[typed.Pod]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class _Reading:
    """A cumulative CPU figure at a time, with the memory figures of that moment."""

    timestamp: datetime.datetime
    cpu_ns: int
    usage: int
    working_set: int
    rss: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None
    available: int | None = None


def host_reading(*, proc: str = "/proc") -> _Reading:
    """The machine's CPU time (all CPUs, not idle or iowait) and memory, from ``/proc``."""
    with open(f"{proc}/stat") as f:
        fields = f.readline().split()
    # cpu user nice system idle iowait irq softirq steal ...
    ticks = [int(v) for v in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    info: dict[str, int] = {}
    with open(f"{proc}/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
    total = info["MemTotal"]
    usage = total - info["MemFree"]
    working_set = max(0, usage - info.get("Inactive(file)", 0))
    return _Reading(timestamp=datetime.datetime.now(datetime.UTC), cpu_ns=busy * 1_000_000_000 // _CLK_TCK,
                    usage=usage, working_set=working_set, rss=info.get("AnonPages"),
                    available=max(0, total - working_set))


def _from_container(s: ri.ContainerStats) -> _Reading:
    return _Reading(timestamp=s.timestamp, cpu_ns=s.cpu_usage_core_nano_seconds, usage=s.memory_usage_bytes,
                    working_set=s.memory_working_set_bytes, rss=s.memory_rss_bytes, page_faults=s.page_faults,
                    major_page_faults=s.major_page_faults)


def _rate(now: _Reading, before: _Reading | None) -> int | None:
    """Nanocores between two readings of one cumulative counter (None without two, or when
    the counter went back: a restarted container is a new counter)."""
    if before is None:
        return None
    seconds = (now.timestamp - before.timestamp).total_seconds()
    if seconds <= 0 or now.cpu_ns < before.cpu_ns:
        return None
    return int((now.cpu_ns - before.cpu_ns) / seconds)


def _cpu(now: _Reading, before: _Reading | None) -> dict[str, Any]:
    # Microseconds, not metav1.Time's seconds: rates over a short window need them (and an
    # RFC 3339 parser takes the fraction).
    cpu: dict[str, Any] = {"time": timestamps.format_micro_time(now.timestamp)}
    rate = _rate(now, before)
    if rate is not None:
        cpu["usageNanoCores"] = rate
    cpu["usageCoreNanoSeconds"] = now.cpu_ns
    return cpu


def _memory(r: _Reading) -> dict[str, Any]:
    memory: dict[str, Any] = {"time": timestamps.format_micro_time(r.timestamp)}
    if r.available is not None:
        memory["availableBytes"] = r.available
    memory["usageBytes"] = r.usage
    memory["workingSetBytes"] = r.working_set
    for key, value in (("rssBytes", r.rss), ("pageFaults", r.page_faults), ("majorPageFaults", r.major_page_faults)):
        if value is not None:
            memory[key] = value
    return memory


def _sum(readings: Sequence[_Reading]) -> _Reading:
    def total(name: str) -> int | None:
        values = [getattr(r, name) for r in readings]
        return None if any(v is None for v in values) else sum(values)

    return _Reading(timestamp=max(r.timestamp for r in readings), cpu_ns=sum(r.cpu_ns for r in readings),
                    usage=sum(r.usage for r in readings), working_set=sum(r.working_set for r in readings),
                    rss=total("rss"), page_faults=total("page_faults"),
                    major_page_faults=total("major_page_faults"))


@dataclasses.dataclass(slots=True)
class _Sweep:
    """What one sweep saw: per pod uid, its running containers by name."""

    at: float
    has_stats: bool
    containers: dict[str, dict[str, tuple[ri.Container, _Reading]]]
    host: _Reading | None


class StatsProvider:
    """Answers ``/stats/summary`` for the kubelets of one process (they share one runtime),
    sweeping the runtime at most once per ``interval``."""

    def __init__(self, *, interval: float = SWEEP_INTERVAL_S, clock: Callable[[], float] = time.monotonic,
                 host: Callable[[], _Reading] = host_reading) -> None:
        self.interval = interval
        self._clock = clock
        self._host = host
        self._last: _Sweep | None = None
        self._previous: dict[str, _Reading] = {}  # runtime container id (or "node") -> reading
        self._rates_from: dict[str, _Reading] = {}  # the reading before the current one
        self._inflight: asyncio.Future[_Sweep] | None = None
        self.sweeps = 0  # how many sweeps ran (for tests and benchmarks)

    async def summary(self, sources: Sequence[Source]) -> dict[str, Any]:
        """The Summary of the first source's node, with the pods of every source."""
        sweep = await self._current(sources)
        src = sources[0]
        node: dict[str, Any] = {"nodeName": src.node_name}
        boot = _boot_time()
        if boot is not None:
            node["startTime"] = timestamps.format_time(boot)
        if sweep.has_stats and sweep.host is not None:
            node["cpu"] = _cpu(sweep.host, self._rates_from.get("node"))
            node["memory"] = _memory(sweep.host)
        pods = [self._pod(pod, sweep) for s in sources for pod in s.pods()]
        return {"node": node, "pods": pods}

    def _pod(self, pod: typed.Pod, sweep: _Sweep) -> dict[str, Any]:
        meta = pod.get("metadata") or {}
        uid = meta.get("uid", "")
        out: dict[str, Any] = {"podRef": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": uid}}
        start = (pod.get("status") or {}).get("startTime")
        if start:
            out["startTime"] = start
        running = sweep.containers.get(uid, {})
        containers = []
        for spec in (pod.get("spec") or {}).get("containers") or []:
            seen = running.get(spec["name"])
            if seen is None:
                continue
            container, reading = seen
            entry: dict[str, Any] = {"name": spec["name"], "startTime": timestamps.format_time(container.created_at)}
            entry["cpu"] = _cpu(reading, self._rates_from.get(container.id))
            entry["memory"] = _memory(reading)
            containers.append(entry)
        if not sweep.has_stats:  # the hollow runtime: containers listed, no figures
            containers = [{"name": name, "startTime": timestamps.format_time(c.created_at)}
                          for name, (c, _) in running.items()]
        out["containers"] = containers
        parts = [r for _, r in running.values()]
        if sweep.has_stats and containers and parts:
            total = _sum(parts)
            before = [self._rates_from.get(c.id) for c, _ in running.values()]
            total_before = _sum(before) if before and all(b is not None for b in before) else None  # type: ignore[arg-type]
            out["cpu"] = _cpu(total, total_before)
            out["memory"] = _memory(total)
        return out

    async def _current(self, sources: Sequence[Source]) -> _Sweep:
        if self._last is not None and self._clock() - self._last.at < self.interval:
            return self._last
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._sweep(sources[0].runtime))
            self._inflight.add_done_callback(lambda _: setattr(self, "_inflight", None))
        return await asyncio.shield(self._inflight)

    async def _sweep(self, runtime: ri.ContainerRuntime) -> _Sweep:
        _, containers = await runtime.list_pod_resources()
        running = [c for c in containers if c.state is ri.ContainerState.RUNNING]
        ids = [c.id for c in running]
        readings = await runtime.container_stats(ids)
        host = await asyncio.to_thread(self._host) if readings is not None else None
        now: dict[str, _Reading] = {}
        by_pod: dict[str, dict[str, tuple[ri.Container, _Reading]]] = {}
        for c in sorted(running, key=lambda c: (c.restart_count, c.created_at)):
            if readings is None:
                by_pod.setdefault(c.pod_uid, {})[c.name] = (c, _EMPTY)
            elif c.id in readings:
                now[c.id] = r = _from_container(readings[c.id])
                by_pod.setdefault(c.pod_uid, {})[c.name] = (c, r)
        if host is not None:
            now["node"] = host
        # Rates are taken against the sweep before this one; the containers that went away are forgotten.
        self._rates_from = {k: v for k, v in self._previous.items() if k in now}
        self._previous = now
        self.sweeps += 1
        self._last = _Sweep(at=self._clock(), has_stats=readings is not None, containers=by_pod,
                            host=host)
        return self._last


_EMPTY = _Reading(timestamp=datetime.datetime.min.replace(tzinfo=datetime.UTC), cpu_ns=0, usage=0,
                  working_set=0)


def _boot_time() -> datetime.datetime | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime "):
                    return datetime.datetime.fromtimestamp(int(line.split()[1]), datetime.UTC)
    except OSError:
        return None
    return None
