"""The disruption controller: keeps each PodDisruptionBudget's status, as Kubernetes'
``pkg/controller/disruption``; the ``pods/eviction`` subresource spends what it allows.

Handlers enqueue a budget when it changes and every budget of a pod's namespace that selects a
pod that changed. ``sync(key)`` counts the healthy (Ready, not being deleted, not just evicted)
pods the budget selects, works out how many must stay healthy — ``minAvailable`` as a number,
or a percentage / ``maxUnavailable`` of the replicas the pods' controllers declare
(Deployment, ReplicaSet, ReplicationController, StatefulSet) — and writes ``disruptionsAllowed``,
``currentHealthy``, ``desiredHealthy``, ``expectedPods`` and the DisruptionAllowed condition.
Evictions recorded in ``disruptedPods`` that the pod informer has not seen carried out within
two minutes are dropped (the pod was not deleted after all). Without a controller for a pod a
percentage cannot be computed: the budget then allows nothing (reason SyncFailed).
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable
from typing import Any

from controllers import controller_utils as cu
from controllers.base import Controller, tombstone_safe
from minik8s import errors, labels, timestamps
from minik8s.api import typed
from minik8s.api.resources import (
    BY_KIND,
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
)
from minik8s.api.typed import PodDisruptionBudget
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

# Kubernetes' DeletionTimeout: how long an eviction may stay unconfirmed in disruptedPods.
DELETION_TIMEOUT = 120.0


class NoController(Exception):
    """A pod the budget selects has no controller to read a scale from."""


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    return 0


def _selector(pdb: PodDisruptionBudget) -> labels.Selector | None:
    try:
        return labels.from_label_selector((pdb.get("spec") or {}).get("selector") or {})
    except ValueError:
        return None


class DisruptionController(Controller):
    name = "disruption"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *,
                 clock: Callable[[], datetime.datetime] = cu.now, **kwargs: Any) -> None:
        """``clock`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.pdb_informer = informers.informer(PODDISRUPTIONBUDGETS)
        self.pod_informer = informers.informer(PODS)
        self.owner_informers = {rt.kind: informers.informer(rt) for rt in (REPLICASETS, DEPLOYMENTS,
                                                                          REPLICATIONCONTROLLERS)}
        self.informers = [self.pdb_informer, self.pod_informer, *self.owner_informers.values()]
        self.pdb_informer.add_handler(on_add=self.enqueue, on_update=lambda o, c: self.enqueue(c),
                                      on_delete=lambda o: None)
        self.pod_informer.add_handler(on_add=self._pod_changed, on_update=lambda o, c: self._pod_changed(c),
                                      on_delete=self._pod_changed)

    def _pod_changed(self, pod: dict[str, Any] | None) -> None:
        pod = tombstone_safe(pod)
        if pod is None:
            return
        md = cu.meta(pod)
        for pdb in self.pdb_informer.store.by_index("namespace", md.get("namespace") or ""):
            sel = _selector(typed.pod_disruption_budget(pdb))
            if sel is not None and sel.matches(md.get("labels")):
                self.enqueue(pdb)

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.pdb_informer.store.get(key)
        if cached is None:
            return
        pdb = typed.pod_disruption_budget(cached)
        md = cu.meta(pdb)
        sel = _selector(pdb)
        pods = [] if sel is None else [
            p for p in self.pod_informer.store.by_index("namespace", md.get("namespace") or "")
            if sel.matches(cu.meta(p).get("labels"))]
        at = self.clock()
        old = pdb.get("status") or {}
        disrupted, recheck = self._live_disruptions(old.get("disruptedPods") or {}, pods, at)
        healthy = sum(1 for p in pods if not cu.meta(p).get("deletionTimestamp")
                      and cu.meta(p).get("name") not in disrupted and cu.is_pod_ready(typed.pod(p)))
        try:
            expected, desired = await self._expected(pdb, pods)
        except NoController as e:
            await self._write(pdb, {**old, "disruptionsAllowed": 0, "observedGeneration": md.get("generation"),
                                    "conditions": self._condition(pdb, "False", "SyncFailed", str(e), at)})
            return
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status: dict[str, Any] = {"observedGeneration": md.get("generation"), "disruptionsAllowed": allowed,
                  "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                  "conditions": self._condition(pdb, "True" if allowed > 0 else "False",
                                                "SufficientPods" if allowed > 0 else "InsufficientPods", "", at)}
        if disrupted:
            status["disruptedPods"] = disrupted
        await self._write(pdb, status)
        if recheck is not None:
            self.queue.add_after(key, recheck)

    def _live_disruptions(self, recorded: dict[str, str], pods: list[dict[str, Any]],
                          at: datetime.datetime) -> tuple[dict[str, str], float | None]:
        """The evictions still in flight, and when to look again for the oldest one to expire."""
        by_name = {cu.meta(p).get("name"): p for p in pods}
        live: dict[str, str] = {}
        recheck: float | None = None
        for name, ts in recorded.items():
            pod = by_name.get(name)
            if pod is None or cu.meta(pod).get("deletionTimestamp"):
                continue  # carried out
            t = timestamps.parse(ts)
            left = DELETION_TIMEOUT - ((at - t).total_seconds() if t else DELETION_TIMEOUT)
            if left <= 0:
                continue  # never carried out: the pod counts again
            live[name] = ts
            recheck = left if recheck is None else min(recheck, left)
        return live, recheck

    async def _expected(self, pdb: PodDisruptionBudget, pods: list[dict[str, Any]]) -> tuple[int, int]:
        """(expected pods, desired healthy) as getExpectedPodCount computes them."""
        spec = pdb.get("spec") or {}
        mx, mn = spec.get("maxUnavailable"), spec.get("minAvailable")
        if mx is not None:
            expected = await self._expected_scale(pods)
            return expected, max(0, expected - _scaled(mx, expected))
        if isinstance(mn, int):
            return len(pods), mn
        if mn is not None:
            expected = await self._expected_scale(pods)
            return expected, _scaled(mn, expected)
        return len(pods), 0

    async def _expected_scale(self, pods: list[dict[str, Any]]) -> int:
        """The replicas the pods' controllers want, each controller counted once."""
        seen: dict[str, int] = {}
        for pod in pods:
            ref = cu.controller_ref(pod)
            if ref is None:
                raise NoController(f'found no controller ref for pod "{cu.meta(pod).get("name")}"')
            uid = ref.get("uid") or ""
            if uid in seen:
                continue
            seen[uid] = await self._replicas_of(cu.meta(pod).get("namespace") or "", ref)
        return sum(seen.values())

    async def _replicas_of(self, namespace: str, ref: typed.OwnerReference) -> int:
        kind = ref.get("kind")
        key = f"{namespace}/{ref.get('name')}"
        if kind == "ReplicaSet":
            cached_rs = self.owner_informers["ReplicaSet"].store.get(key)
            if cached_rs is not None:
                rs = typed.replica_set(cached_rs)
                owner = cu.controller_ref(rs)
                if owner is not None and owner.get("kind") == "Deployment":
                    dep = self.owner_informers["Deployment"].store.get(f"{namespace}/{owner.get('name')}")
                    if dep is not None:
                        return (typed.deployment(dep).get("spec") or {}).get("replicas", 1)
                return (rs.get("spec") or {}).get("replicas", 1)
        elif kind in self.owner_informers:
            obj = self.owner_informers[kind].store.get(key)
            if obj is not None:  # a Deployment or a ReplicationController (no view): spec.replicas, an int
                replicas: int = (obj.get("spec") or {}).get("replicas", 1)
                return replicas
        else:
            # Anything else with a scale subresource (a StatefulSet): ask the apiserver.
            rt = BY_KIND.get(((ref.get("apiVersion") or "").rpartition("/")[0], kind or ""))
            if rt is not None:
                try:
                    scale = await self.client.get_subresource(rt, ref.get("name") or "", "scale", namespace=namespace)
                    scaled: int = (scale.get("spec") or {}).get("replicas", 0)  # autoscaling/v1 Scale: an int
                    return scaled
                except errors.MiniK8sError:
                    pass
        raise NoController(f"found no controllers for pod of {kind} {ref.get('name')}")

    @staticmethod
    def _condition(pdb: PodDisruptionBudget, status: str, reason: str, message: str,
                   at: datetime.datetime) -> list[dict[str, Any]]:
        old = next((c for c in (pdb.get("status") or {}).get("conditions") or []
                    if c.get("type") == "DisruptionAllowed"), None)
        t = old.get("lastTransitionTime") if old is not None and old.get("status") == status else timestamps.format_time(at)
        return [{"type": "DisruptionAllowed", "status": status, "observedGeneration": cu.meta(pdb).get("generation"),
                 "lastTransitionTime": t, "reason": reason, "message": message}]

    async def _write(self, pdb: PodDisruptionBudget, status: dict[str, Any]) -> None:
        if status == (pdb.get("status") or {}):
            return
        body = {**pdb, "status": status}
        body.setdefault("kind", PODDISRUPTIONBUDGETS.kind)
        body.setdefault("apiVersion", PODDISRUPTIONBUDGETS.api_version)
        await self.client.update_status(PODDISRUPTIONBUDGETS, body)

