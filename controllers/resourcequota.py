"""The resource quota controller: keeps every ResourceQuota's ``status`` true.

As Kubernetes' ``pkg/controller/resourcequota``. ``sync(ns/name)`` reads the quota and the
objects of its namespace from informer caches and writes ``status.hard`` (a copy of
``spec.hard``, what admission enforces) and ``status.used`` (what the namespace's objects cost,
counted with ``minik8s.resourcequota``, the same rules admission charges by), only when they
changed, through ``/status`` with the quota's resourceVersion (a conflict requeues the key).

When it syncs (level-triggered, handlers only enqueue):

* a quota is added, or its ``spec.hard`` no longer equals ``status.hard``;
* replenishment: an object a quota counts is deleted, or a pod stops counting (finished, or
  deleted), or a service changes type; every quota of that namespace is looked at again.
  Creates are not watched: admission charged them already;
* every quota again after ``resync_period`` (Kubernetes' 5 minutes), which also corrects a
  charge admission made for an object that then failed to be stored.

Informers: pods and services always; the kind of any other ``count/<resource>.<group>`` a
quota names is watched from the first sync that needs it (the sync waits for its first list).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s import resourcequota as rq
from minik8s.api import resources, typed
from minik8s.api.resources import PODS, RESOURCEQUOTAS, SERVICES, ResourceType, object_key, split_key
from minik8s.api.typed import ResourceQuota
from minik8s.client.informer import Informer, SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

RESYNC_PERIOD = 300.0
FIELD_MANAGER = "resourcequota-controller"

# The quota names each kind counts under besides count/<plural>.<group>.
_BY_NAME: dict[str, tuple[str, str]] = {
    "pods": ("", "pods"), "cpu": ("", "pods"), "memory": ("", "pods"), "ephemeral-storage": ("", "pods"),
    "services": ("", "services"), "services.nodeports": ("", "services"),
    "services.loadbalancers": ("", "services"), "configmaps": ("", "configmaps"), "secrets": ("", "secrets"),
    "resourcequotas": ("", "resourcequotas"), "replicationcontrollers": ("", "replicationcontrollers"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"), "requests.storage": ("", "persistentvolumeclaims"),
}


def kind_of(resource_name: str) -> tuple[str, str] | None:
    """(group, plural) of the objects a quota resource name counts; None if none."""
    if resource_name.startswith("count/"):
        plural, _, group = resource_name[len("count/"):].partition(".")
        return group, plural
    if resource_name in _BY_NAME:
        return _BY_NAME[resource_name]
    if resource_name.startswith(("requests.", "limits.", "hugepages-")):
        return "", "pods"
    if ".storageclass.storage.k8s.io/" in resource_name:
        return "", "persistentvolumeclaims"
    return None


# (group, plural) -> the namespace's objects of that kind; None for a kind minik8s does not serve
ObjectsOf = Callable[[str, str], list[dict[str, Any]] | None]


def compute_used(quota: ResourceQuota, objects_of: ObjectsOf, now: float | None = None) -> dict[str, str]:
    """``status.used`` of ``quota``: for each hard resource, what the namespace's objects
    in the quota's scopes cost. ``objects_of(group, plural)`` lists the namespace's objects
    (None: a kind minik8s does not serve, which costs nothing)."""
    hard_raw = (quota.get("spec") or {}).get("hard") or {}
    totals = {name: Fraction(0) for name in hard_raw}
    kinds = {k for k in (kind_of(n) for n in hard_raw) if k is not None}
    for group, plural in sorted(kinds):
        for obj in objects_of(group, plural) or ():
            if not rq.matches({"spec": quota.get("spec"), "status": {"hard": hard_raw}}, plural, group, obj):
                continue
            for name, v in rq.usage(plural, group, obj, now).items():
                if name in totals:
                    totals[name] += v
    return rq.format_usage(totals, hard_raw)


class ResourceQuotaController(Controller):
    name = "resourcequota"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, resync_period: float = RESYNC_PERIOD) -> None:
        super().__init__()
        self.client = client
        self.factory = informers
        self.resync_period = resync_period
        self.quota_informer = informers.informer(RESOURCEQUOTAS)
        self.quota_informer.add_handler(on_add=self.enqueue, on_update=self._quota_updated)
        self._watched: dict[ResourceType, Informer] = {}
        for rt in (PODS, SERVICES):
            self._watch(rt)
        self.informers = [self.quota_informer, *self._watched.values()]

    # -- handlers -----------------------------------------------------------------------------

    def _quota_updated(self, old_obj: dict[str, Any], new_obj: dict[str, Any]) -> None:
        old, new = typed.resource_quota(old_obj), typed.resource_quota(new_obj)
        spec_hard = (new.get("spec") or {}).get("hard") or {}
        if spec_hard != ((new.get("status") or {}).get("hard") or {}) or \
                (old.get("spec") or {}) != (new.get("spec") or {}):
            self.enqueue(new_obj)

    def _watch(self, rt: ResourceType) -> Informer:
        inf = self._watched.get(rt)
        if inf is None:
            inf = self._watched[rt] = self.factory.informer(rt)
            inf.add_handler(on_update=functools.partial(self._object_updated, rt),
                            on_delete=self._object_deleted)
        return inf

    def _object_updated(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
        if rt is PODS:
            if rq.pod_counts(old) != rq.pod_counts(new) or (old.get("metadata") or {}).get("deletionTimestamp") != \
                    (new.get("metadata") or {}).get("deletionTimestamp"):
                self._replenish(new)
        elif rt is SERVICES:
            if (old.get("spec") or {}).get("type") != (new.get("spec") or {}).get("type"):
                self._replenish(new)

    def _object_deleted(self, obj: dict[str, Any] | None) -> None:
        gone = tombstone_safe(obj)
        if gone is not None:
            self._replenish(gone)

    def _replenish(self, obj: dict[str, Any]) -> None:
        """Every quota of the object's namespace counts again."""
        ns = (obj.get("metadata") or {}).get("namespace")
        if not ns:
            return
        for q in self.quota_informer.store.by_index("namespace", ns):
            self.enqueue(q)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.quota_informer.store.get(key)
        if cached is None:
            return
        quota = typed.resource_quota(cached)
        ns, _ = split_key(key)
        hard = (quota.get("spec") or {}).get("hard") or {}
        pending = False
        for name in hard:
            kind = kind_of(name)
            rt = resources.BY_PLURAL.get(kind) if kind is not None else None
            if rt is not None and rt is not RESOURCEQUOTAS and rt not in self._watched:
                self._watch(rt)
                self.factory.start()
            if rt is not None and rt in self._watched and not self._watched[rt].has_synced:
                pending = True
        if pending:
            await self.wait_for_caches(list(self._watched.values()))

        def objects_of(group: str, plural: str) -> list[dict[str, Any]] | None:
            rt = resources.BY_PLURAL.get((group, plural))
            if rt is None:
                return None
            if rt is RESOURCEQUOTAS:
                return self.quota_informer.store.by_index("namespace", ns or "")
            return self._watched[rt].store.by_index("namespace", ns or "")

        status = {"hard": dict(hard), "used": compute_used(quota, objects_of)}
        if status != (quota.get("status") or {}):
            new = {**cached, "status": status}
            try:
                await self.client.update_status(RESOURCEQUOTAS, new, field_manager=FIELD_MANAGER)
            except errors.NotFound:
                return
        if self.resync_period:
            self.queue.add_after(object_key(quota), self.resync_period)
