"""Keeps one APIService per group version this apiserver serves, as Kubernetes' aggregator
does with its autoregister and CRD registration controllers (``kubectl get apiservices``).

Each has no ``spec.service`` (served here: "Local"), the group and version priorities
Kubernetes gives it, the label ``kube-aggregator.kubernetes.io/automanaged`` (``onstart`` for
built-in group versions, ``true`` for those of CustomResourceDefinitions) and the condition
``Available=True`` with reason ``Local``. The set served is looked at every few seconds (an
in-memory comparison); when it changed, missing APIServices are created and automanaged ones
no longer served are deleted. Another apiserver doing the same at the same time is harmless:
AlreadyExists, NotFound and Conflict are taken as the other one having done it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from apiserver import discovery, errors
from apiserver.registry import table as registry
from apiserver.rest import ListOptions
from minik8s import timestamps
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.rest import RestStorage

__all__ = ["AutoRegister", "desired"]

log = logging.getLogger(__name__)

AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
_PERIOD_S = 5.0
# Kubernetes' priorities of its built-in group versions (group minimum, version).
_PRIORITIES: dict[str, tuple[int, int]] = {
    "": (18000, 1), "apiregistration.k8s.io": (18000, 15), "apps": (17800, 15), "events.k8s.io": (17750, 15),
    "authentication.k8s.io": (17700, 15), "authorization.k8s.io": (17600, 15), "autoscaling": (17500, 15),
    "batch": (17400, 15), "certificates.k8s.io": (17300, 15), "networking.k8s.io": (17200, 15),
    "policy": (17100, 15), "rbac.authorization.k8s.io": (17000, 15), "storage.k8s.io": (16800, 15),
    "admissionregistration.k8s.io": (16700, 15), "apiextensions.k8s.io": (16700, 15),
    "scheduling.k8s.io": (16600, 15), "coordination.k8s.io": (16500, 15), "node.k8s.io": (16300, 15),
    "discovery.k8s.io": (16200, 15), "flowcontrol.apiserver.k8s.io": (16100, 21),
    # metrics-server's own manifest registers its group with these
    "metrics.k8s.io": (100, 100),
}
_CUSTOM_PRIORITY = (1000, 100)  # the CRD registration controller's


def desired() -> dict[str, dict[str, Any]]:
    """The APIService of each served group version, by name (``v1.apps``, ``v1.`` for core)."""
    out: dict[str, dict[str, Any]] = {}
    builtin = discovery.group_versions(registry.TABLE)
    for group, versions in discovery.group_versions(registry.all_entries()).items():
        for version in versions:
            is_builtin = version in builtin.get(group, [])
            group_min, version_prio = _PRIORITIES.get(group, _CUSTOM_PRIORITY) if is_builtin else _CUSTOM_PRIORITY
            if group == "autoscaling" and version == "v2":
                version_prio = 30
            name = f"{version}.{group}"
            out[name] = {
                "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": {"name": name, "labels": {AUTOMANAGED: "onstart" if is_builtin else "true"}},
                "spec": {"group": group, "version": version, "groupPriorityMinimum": group_min,
                         "versionPriority": version_prio},
            }
    return out


def _available() -> dict[str, Any]:
    return {"type": "Available", "status": "True", "lastTransitionTime": timestamps.now_rfc3339(),
            "reason": "Local", "message": "Local APIServices are always available"}


class AutoRegister:
    def __init__(self, rest: RestStorage) -> None:
        self.rest = rest
        self._applied: frozenset[str] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="apiservice autoregister")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sync()
            except errors.StatusError as e:
                log.warning("registering APIServices: %s", e.message)
            except Exception:
                log.exception("registering APIServices failed")
            await asyncio.sleep(_PERIOD_S)

    async def sync(self, *, force: bool = False) -> None:
        want = desired()
        if not force and self._applied == frozenset(want):
            return
        entry = registry.BY_TYPE[rs.APISERVICES]
        have = {o["metadata"]["name"]: o for o in (await self.rest.list(entry, None, ListOptions()))["items"]}
        for name, obj in want.items():
            current = have.get(name)
            if current is None:
                with contextlib.suppress(errors.AlreadyExists):
                    current = (await self.rest.create(entry, None, obj, field_manager="kube-apiserver")).body
            if current is not None and not _is_available(current):
                current["status"] = {"conditions": [_available()]}
                with contextlib.suppress(errors.Conflict, errors.NotFound):
                    await self.rest.update(entry, None, name, current, subresource="status",
                                           field_manager="kube-apiserver")
        for name, obj in have.items():
            labels = obj["metadata"].get("labels") or {}
            if name not in want and labels.get(AUTOMANAGED) in ("onstart", "true"):
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self.rest.delete(entry, None, name, {})
        self._applied = frozenset(want)


def _is_available(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])
