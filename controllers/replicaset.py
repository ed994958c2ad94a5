"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching a ReplicaSet's selector.

As Kubernetes' ``pkg/controller/replicaset/replica_set.go``. Handlers map pod events to the
owning ReplicaSet (by controller reference; an orphan to every ReplicaSet whose selector
matches it) and record what they observe in the expectations. ``sync(key)`` claims the
active pods (adopting orphans, releasing pods whose labels stopped matching), creates or
deletes the difference when the expectations are met — creations in slow-start batches,
deletions ranked as Kubernetes ranks them — and writes the status (replicas,
fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration, the
ReplicaFailure condition) only when it changed.

It reads its objects through the typed views of :mod:`minik8s.api.typed`: ``typed.ReplicaSet``
and ``typed.Pod``. A ReplicationController (:mod:`controllers.replication` reuses this class) is
read through the ReplicaSet view too: every field read here has the same name and type in both
kinds except the selector, which only :meth:`ReplicaSetController.selector_of` reads.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any, cast

from controllers import controller_utils as cu
from controllers import replicaset_utils as rsutil
from controllers.base import Controller, tombstone_safe
from controllers.expectations import UIDTrackingControllerExpectations
from minik8s import errors, labels
from minik8s.api import typed
from minik8s.api.resources import PODS, REPLICASETS, ResourceType, object_key, split_key
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

# Kubernetes' BurstReplicas: at most this many creates or deletes per sync.
BURST_REPLICAS = 500
# Kubernetes' SlowStartInitialBatchSize.
SLOW_START_INITIAL_BATCH_SIZE = 1


def _namespace_terminating(e: Exception) -> bool:
    if not isinstance(e, errors.Forbidden):
        return False
    if any(c.get("reason") == "NamespaceTerminating" for c in e.causes):
        return True
    return "because it is being terminated" in (e.message or "")


class ReplicaSetController(Controller):
    name = "replicaset"
    #: the kind this controller keeps (ReplicationController reuses all of it, as Kubernetes does)
    resource: ResourceType = REPLICASETS

    def selector_of(self, rs: Mapping[str, Any]) -> labels.Selector | None:
        """The object's pod selector; None when it does not parse. (A Mapping: the
        selector is the one field a ReplicationController holds in another shape.)"""
        try:
            return labels.from_label_selector((rs.get("spec") or {}).get("selector"))
        except ValueError:
            return None

    def _with_kind(self, rs: dict[str, Any]) -> typed.ReplicaSet:
        """List items may lack kind/apiVersion; ownerReferences and Events need them."""
        if rs.get("kind") and rs.get("apiVersion"):
            return typed.replica_set(rs)
        return typed.replica_set({**rs, "kind": self.resource.kind, "apiVersion": self.resource.api_version})

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 burst_replicas: int = BURST_REPLICAS, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.burst_replicas = burst_replicas
        self.recorder = recorder or EventRecorder(client, component="replicaset-controller")
        self.expectations = UIDTrackingControllerExpectations()
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.rs_informer = informers.informer(self.resource, indexers=idx)
        self.pod_informer = informers.informer(PODS, indexers=idx)
        self.informers = [self.rs_informer, self.pod_informer]
        self.rs_informer.add_handler(on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)

    # -- handlers: map events to ReplicaSet keys ---------------------------------------------

    def _add_rs(self, rs: dict[str, Any]) -> None:
        self.enqueue(rs)

    def _update_rs(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if cu.meta(old).get("uid") != cu.meta(cur).get("uid"):
            # Deleted and re-created under the same name between two events.
            self._delete_rs(old)
        self.enqueue(cur)

    def _delete_rs(self, rs: dict[str, Any] | None) -> None:
        rs = tombstone_safe(rs)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.delete(key)
        self.enqueue_key(key)

    def _resolve(self, namespace: str, ref: typed.OwnerReference | None) -> typed.ReplicaSet | None:
        if ref is None or ref.get("kind") != self.resource.kind:
            return None
        rs = self.rs_informer.store.get(f"{namespace}/{ref.get('name')}")
        if rs is None or cu.meta(rs).get("uid") != ref.get("uid"):
            return None
        return typed.replica_set(rs)

    def _pod_replica_sets(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        """ReplicaSets of the pod's namespace whose (non-empty) selector matches it (only
        enqueued: as the store holds them)."""
        md = cu.meta(pod)
        out = []
        for rs in self.rs_informer.store.by_index("namespace", md.get("namespace") or ""):
            sel = self.selector_of(rs)
            if sel is None or sel.is_empty():
                continue
            if sel.matches(md.get("labels")):
                out.append(rs)
        return out

    def _add_pod(self, pod: dict[str, Any]) -> None:
        md = cu.meta(pod)
        if md.get("deletionTimestamp"):
            # Seen for the first time already being deleted (e.g. after a restart): a deletion.
            self._delete_pod(pod)
            return
        ref = cu.controller_ref(pod)
        if ref is not None:
            rs = self._resolve(md.get("namespace") or "", ref)
            if rs is None:
                return
            key = object_key(rs)
            self.expectations.creation_observed(key)
            self.enqueue_key(key)
            return
        # An orphan: wake every ReplicaSet that might adopt it.
        for candidate in self._pod_replica_sets(pod):
            self.enqueue(candidate)

    def _update_pod(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = cu.meta(old), cu.meta(cur)
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return  # a resync: nothing changed
        label_changed = (omd.get("labels") or {}) != (cmd.get("labels") or {})
        if cmd.get("deletionTimestamp"):
            # Graceful deletion starts: count it now, so a replacement is not held up for the
            # whole grace period. If the labels changed too, the old owner may care.
            self._delete_pod(cur)
            if label_changed:
                self._delete_pod(old)
            return
        cur_ref, old_ref = cu.controller_ref(cur), cu.controller_ref(old)
        ref_changed = cur_ref != old_ref
        namespace = cmd.get("namespace") or ""
        if ref_changed and old_ref is not None:
            rs = self._resolve(namespace, old_ref)
            if rs is not None:
                self.enqueue(rs)
        if cur_ref is not None:
            rs = self._resolve(namespace, cur_ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = (rs.get("spec") or {}).get("minReadySeconds") or 0
            if min_ready > 0 and not cu.is_pod_ready(typed.pod(old)) and cu.is_pod_ready(typed.pod(cur)):
                # Available only minReadySeconds later: look again then (+1 s of rounding slack).
                self.enqueue_after(rs, min_ready + 1)
            return
        if label_changed or ref_changed:
            for candidate in self._pod_replica_sets(cur):
                self.enqueue(candidate)

    def _delete_pod(self, pod: dict[str, Any] | None) -> None:
        pod = tombstone_safe(pod)
        if pod is None:
            return
        md = cu.meta(pod)
        rs = self._resolve(md.get("namespace") or "", cu.controller_ref(pod))
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue_key(key)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.rs_informer.store.get(key)
        if cached is None:
            log.debug("replicaset %s has been deleted", key)
            self.expectations.delete(key)
            return
        rs = self._with_kind(cached)
        needs_sync = self.expectations.satisfied(key)
        selector = self.selector_of(rs)
        if selector is None:
            log.warning("replicaset %s has an invalid selector; skipping", key)
            return
        candidates = cu.owned_or_orphaned(self.pod_informer.store, rs)
        # The pod store's objects are Pods: typed as a whole list (no per-pod call on this path).
        active = cu.filter_active_pods(cast("list[typed.Pod]", candidates))
        manager = cu.ControllerRefManager(self.client, PODS, rs, selector,
                                          can_adopt=cu.recheck_owner(self.client, self.resource, rs))
        pods = await manager.claim(active)

        manage_error: Exception | None = None
        if needs_sync and not cu.meta(rs).get("deletionTimestamp"):
            try:
                await self._manage_replicas(pods, rs)
            except errors.MiniK8sError as e:
                manage_error = e
        status = rsutil.calculate_status(rs, pods, manage_error, at=cu.now())
        updated = await self._update_status(rs, status)

        spec, ustatus = updated.get("spec") or {}, updated.get("status") or {}
        replicas = spec.get("replicas", 1)
        min_ready = spec.get("minReadySeconds") or 0
        if (manage_error is None and min_ready > 0 and (ustatus.get("readyReplicas") or 0) == replicas
                and (ustatus.get("availableReplicas") or 0) != replicas):
            self.queue.add_after(key, min_ready)
        if manage_error is not None:
            raise manage_error

    async def _manage_replicas(self, pods: list[typed.Pod], rs: typed.ReplicaSet) -> None:
        """Create or delete pods so that ``len(pods)`` approaches ``spec.replicas``."""
        key = object_key(rs)
        replicas = (rs.get("spec") or {}).get("replicas", 1)
        diff = len(pods) - replicas
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            # Before any call: an ADDED event may arrive before create() returns.
            self.expectations.expect_creations(key, count)
            log.info("replicaset %s: too few replicas, need %d, creating %d", key, replicas, count)
            successes, err = await cu.slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE,
                                                       lambda: self._create_pod(rs))
            # Pods never created will never be observed: stop waiting for them.
            for _ in range(count - successes):
                self.expectations.creation_observed(key)
            if err is not None:
                raise err
        elif diff > 0:
            count = min(diff, self.burst_replicas)
            log.info("replicaset %s: too many replicas, need %d, deleting %d", key, replicas, count)
            related = self._related_pods(rs)
            victims = rsutil.pods_to_delete(pods, related, count, at=cu.now())
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete_one(rs, key, p) for p in victims),
                                           return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r

    async def _create_pod(self, rs: typed.ReplicaSet) -> None:
        pod = cu.pod_from_template((rs.get("spec") or {}).get("template") or {}, rs)
        try:
            created = await self.client.create(PODS, pod, namespace=cu.meta(rs).get("namespace"))
        except errors.MiniK8sError as e:
            if _namespace_terminating(e):
                return  # the namespace is going away: nothing to create and nothing to report
            self.recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {rsutil.error_message(e)}")
            raise
        self.recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {cu.meta(created).get('name')}")

    async def _delete_one(self, rs: typed.ReplicaSet, key: str, pod: typed.Pod) -> None:
        md = cu.meta(pod)
        try:
            await self.client.delete(PODS, md["name"], namespace=md.get("namespace"))
        except errors.NotFound:
            self.expectations.deletion_observed(key, object_key(pod))
            return
        except errors.MiniK8sError as e:
            # The informer will never see this deletion: stop expecting it.
            self.expectations.deletion_observed(key, object_key(pod))
            self.recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {rsutil.error_message(e)}")
            raise
        self.recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {md['name']}")

    def _related_pods(self, rs: typed.ReplicaSet) -> list[typed.Pod]:
        """Pods of every ReplicaSet with the same controller as ``rs`` (its Deployment's),
        used to prefer deleting pods doubled up on a node."""
        ref = cu.controller_ref(rs)
        siblings: list[Mapping[str, Any]]
        if ref is None:
            siblings = [rs]
        else:
            siblings = [r for r in self.rs_informer.store.by_index(cu.CONTROLLER_UID_INDEX, ref.get("uid") or "")
                        if cu.meta(r).get("namespace") == cu.meta(rs).get("namespace")]
        out: list[typed.Pod] = []
        for sib in siblings:
            # The pod store's objects are Pods (typed as a whole list, as in sync).
            out.extend(cast("list[typed.Pod]", self.pod_informer.store.by_index(cu.CONTROLLER_UID_INDEX,
                                                                             cu.meta(sib).get("uid") or "")))
        return out

    async def _update_status(self, rs: typed.ReplicaSet, status: typed.ReplicaSetStatus) -> typed.ReplicaSet:
        """Write ``status`` unless nothing changed; one retry on a conflict, as Kubernetes."""
        if rsutil.status_unchanged(rs, status):
            return rs
        generation = cu.meta(rs).get("generation") or 0
        new_status: typed.ReplicaSetStatus = {**status, "observedGeneration": generation}
        body: typed.ReplicaSet = {**rs, "status": new_status}
        try:
            return typed.replica_set(await self.client.update_status(self.resource, body))
        except errors.Conflict:
            ns, name = split_key(object_key(rs))
            fresh = await self.client.get(self.resource, name, namespace=ns)
            return typed.replica_set(await self.client.update_status(
                self.resource, {**copy.deepcopy(fresh), "status": new_status}))
