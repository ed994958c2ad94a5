"""Table columns of NodeMetrics and PodMetrics (``kubectl get nodes.metrics.k8s.io``), as
metrics-server prints them: name, CPU, memory and window (the kinds of
``apiserver/resourcemetrics``)."""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer, meta

_NAME = Column("Name", format="name", description="Name of the resource")


def _node_row(obj: dict[str, Any], now: float) -> list[Any]:
    usage = obj.get("usage") or {}
    return [meta(obj).get("name", ""), usage.get("cpu", ""), usage.get("memory", ""), obj.get("window", "")]


def _pod_row(obj: dict[str, Any], now: float) -> list[Any]:
    from minik8s import quantity
    cpu = sum(quantity.parse_quantity((c.get("usage") or {}).get("cpu", "0")) for c in obj.get("containers") or [])
    memory = sum(quantity.parse_bytes((c.get("usage") or {}).get("memory", "0")) for c in obj.get("containers") or [])
    return [meta(obj).get("name", ""), quantity.format_quantity(cpu, scale=-9), quantity.format_bytes(memory),
            obj.get("window", "")]


_COLUMNS = (_NAME, Column("CPU", description="CPU usage"), Column("Memory", description="Memory usage"),
            Column("Window", description="Time window used to calculate CPU usage"))
NODE_METRICS = Printer(_COLUMNS, _node_row)
POD_METRICS = Printer(_COLUMNS, _pod_row)
