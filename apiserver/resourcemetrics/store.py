"""The readings metrics-server keeps, and the metrics they make.

Each node and each container has its last two readings of cumulative CPU time (with the
kubelet's timestamp of each) and its last memory working set. CPU usage is the rate between
the two readings (``window`` their distance, ``timestamp`` the later one), as metrics-server
computes it; a series with one reading, a counter that went back (a restarted container) or
a reading no newer than the last gives no metric yet. A pod is served only when every
container the kubelet reported for it has a metric; a node or pod the last scrape did not
report is forgotten.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from minik8s import quantity, timestamps

__all__ = ["MetricsStore", "Point", "go_duration"]


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One reading: cumulative CPU nanoseconds at ``timestamp`` and the memory working set."""

    timestamp: datetime.datetime
    cpu_ns: int
    memory: int


@dataclasses.dataclass(slots=True)
class _Series:
    last: Point
    before: Point | None = None

    def add(self, p: Point) -> None:
        if p.timestamp <= self.last.timestamp:
            return  # the kubelet answered from the same sweep: nothing new
        self.before, self.last = self.last, p

    def usage(self) -> tuple[Fraction, datetime.datetime, float] | None:
        """(cores, timestamp, window seconds), or None without a rate yet."""
        b, p = self.before, self.last
        if b is None or p.cpu_ns < b.cpu_ns:
            return None
        window = (p.timestamp - b.timestamp).total_seconds()
        if window <= 0:
            return None
        return Fraction(p.cpu_ns - b.cpu_ns, 10 ** 9) / Fraction(window), p.timestamp, window


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` of ``seconds`` (``15.004s``, ``1m0.5s``, ``1.5ms``, ``0s``)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3600 * 10 ** 9)
    minutes, rest = divmod(rest, 60 * 10 ** 9)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _decimal(rest, 10 ** 9) + "s"


def _decimal(value: int, unit: int) -> str:
    """``value / unit`` (``unit`` a power of ten) with no trailing zeros."""
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    return f"{whole}." + str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")


def _usage(cores: Fraction, memory: int) -> dict[str, str]:
    return {"cpu": quantity.format_quantity(cores, scale=-9), "memory": quantity.format_bytes(memory)}


class MetricsStore:
    def __init__(self) -> None:
        self._nodes: dict[str, _Series] = {}
        # (namespace, pod) -> container name -> series
        self._pods: dict[tuple[str, str], dict[str, _Series]] = {}
        self._pod_nodes: dict[tuple[str, str], str] = {}  # which node reported each pod

    def update_node(self, node: str, summary: dict[str, Any]) -> None:
        """Take in one kubelet's Summary; forget the pods of ``node`` it no longer reports."""
        n = summary.get("node") or {}
        point = _point(n)
        if point is None:
            self._nodes.pop(node, None)
        elif node in self._nodes:
            self._nodes[node].add(point)
        else:
            self._nodes[node] = _Series(point)
        seen: set[tuple[str, str]] = set()
        for pod in summary.get("pods") or []:
            ref = pod.get("podRef") or {}
            key = (ref.get("namespace") or "", ref.get("name") or "")
            containers: dict[str, Point] = {}
            for c in pod.get("containers") or []:
                p = _point(c)
                if p is None:
                    containers = {}
                    break  # a container without figures: the pod has no metrics (as metrics-server)
                containers[c["name"]] = p
            if not containers:
                continue
            seen.add(key)
            old = self._pods.get(key, {})
            new: dict[str, _Series] = {}
            for name, p in containers.items():
                series = old.get(name)
                if series is None:
                    series = _Series(p)
                else:
                    series.add(p)
                new[name] = series
            self._pods[key] = new
        for key in [k for k, node_of in self._pod_nodes.items() if node_of == node and k not in seen]:
            self._pods.pop(key, None)
            self._pod_nodes.pop(key, None)
        for key in seen:
            self._pod_nodes[key] = node

    def forget_nodes(self, keep: Iterable[str]) -> None:
        """Drop every node (and its pods) not in ``keep``."""
        keep = set(keep)
        for node in [n for n in self._nodes if n not in keep]:
            del self._nodes[node]
        for key in [k for k, n in self._pod_nodes.items() if n not in keep]:
            self._pods.pop(key, None)
            self._pod_nodes.pop(key, None)

    def node_metrics(self, node: str) -> dict[str, Any] | None:
        series = self._nodes.get(node)
        usage = series.usage() if series is not None else None
        if usage is None:
            return None
        cores, at, window = usage
        assert series is not None
        return {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": node, "creationTimestamp": timestamps.now_rfc3339()},
                "timestamp": timestamps.format_time(at), "window": go_duration(window),
                "usage": _usage(cores, series.last.memory)}

    def pod_metrics(self, namespace: str, name: str) -> dict[str, Any] | None:
        containers = self._pods.get((namespace, name))
        if not containers:
            return None
        out = []
        latest: datetime.datetime | None = None
        window = 0.0
        for cname, series in containers.items():
            usage = series.usage()
            if usage is None:
                return None
            cores, at, w = usage
            latest, window = (at, w) if latest is None or at > latest else (latest, window)
            out.append({"name": cname, "usage": _usage(cores, series.last.memory)})
        return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": timestamps.now_rfc3339()},
                "timestamp": timestamps.format_time(latest), "window": go_duration(window), "containers": out}

    def nodes(self) -> list[str]:
        return sorted(self._nodes)

    def pods(self) -> list[tuple[str, str]]:
        return sorted(self._pods)


def _point(stats: dict[str, Any]) -> Point | None:
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    cum, when = cpu.get("usageCoreNanoSeconds"), timestamps.parse(cpu.get("time"))
    ws = memory.get("workingSetBytes")
    if cum is None or when is None or ws is None:
        return None
    return Point(when, int(cum), int(ws))
