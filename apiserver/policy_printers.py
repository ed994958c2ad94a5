"""Printed columns of the policy kinds (``kubectl get quota|limits|pc``), as Kubernetes'
``printResourceQuota``, ``printLimitRange`` and ``printPriorityClass`` print them."""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer, age, meta
from minik8s.timestamps import from_unix

_NAME = Column("Name", format="name", description="Name of the object, unique within its namespace "
               "(or the cluster, for cluster-scoped kinds).")
_AGE = Column("Age", description="Time since the object was created (metadata.creationTimestamp).")


def _quota_row(q: dict[str, Any], now: float) -> list[Any]:
    status = q.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        cell = f"{name}: {used.get(name, '0')}/{hard[name]}"
        (limits if name.split(".")[0] == "limits" and "." in name else requests).append(cell)
    return [meta(q).get("name", ""), age(q, now), ", ".join(requests), ", ".join(limits)]


RESOURCEQUOTA = Printer(
    (_NAME, _AGE,
     Column("Request", description="Request represents a minimum amount of cpu/memory that a container may consume."),
     Column("Limit", description="Limits control the maximum amount of cpu/memory that a container may use "
                                 "independent of contention on the node.")),
    _quota_row,
)


def _created_at(obj: dict[str, Any]) -> str:
    return meta(obj).get("creationTimestamp") or from_unix(0)


LIMITRANGE = Printer(
    (_NAME, Column("Created At", type="date", description="CreationTimestamp is a timestamp representing the "
                                                          "server time when this object was created.")),
    lambda lr, now: [meta(lr).get("name", ""), _created_at(lr)],
)


def _priorityclass_row(pc: dict[str, Any], now: float) -> list[Any]:
    return [meta(pc).get("name", ""), int(pc.get("value") or 0), bool(pc.get("globalDefault")), age(pc, now),
            pc.get("preemptionPolicy") or ""]


PRIORITYCLASS = Printer(
    (_NAME,
     Column("Value", type="integer", description="value represents the integer value of this priority class."),
     Column("Global-Default", type="boolean", description="globalDefault specifies whether this PriorityClass "
                                                          "should be considered as the default priority."),
     _AGE,
     Column("PreemptionPolicy", description="preemptionPolicy is the Policy for preempting pods with lower "
                                            "priority.")),
    _priorityclass_row,
)
