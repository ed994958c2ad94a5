"""The StatefulSet controller: pods with stable names and storage, as Kubernetes'
``pkg/controller/statefulset`` (``stateful_set_control.go``).

Handlers enqueue the set owning a pod (orphans: every set whose selector matches). ``sync(key)``:

* records the template in a ControllerRevision (shared with DaemonSets: ``controllers/
  history.py``); ``updateRevision`` is it, ``currentRevision`` the one the pods ran before;
* claims the pods and sorts them into the ordinals the set wants (``ordinals.start`` ..
  ``+replicas``) and the condemned (any other ordinal);
* for each wanted ordinal in order: creates its claims (``<template>-<set>-<ordinal>``, kept
  and reused across deletions and scale-downs) and then the pod ``<set>-<ordinal>``; deletes a
  finished pod so it is made again under the same name. With ``OrderedReady`` it goes one pod
  at a time and waits for each to be Running and Ready; ``Parallel`` does not wait;
* deletes the condemned from the highest ordinal down (OrderedReady: one at a time, only while
  every other pod is healthy); with ``whenScaled: Delete`` their claims go with them;
* with ``RollingUpdate``, replaces the pods of other revisions from the highest ordinal down to
  ``partition``, one at a time, each only once the others are healthy; ``OnDelete`` only
  replaces pods that were deleted;
* writes the status (replicas, ready, available, current/updated replicas and revisions).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from controllers import controller_utils as cu
from controllers import history
from controllers import replicaset_utils as rsutil
from controllers import statefulset_utils as su
from controllers.base import Controller, tombstone_safe
from minik8s import errors, labels
from minik8s.api import typed
from minik8s.api.resources import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from minik8s.api.typed import ControllerRevision
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def _selector(sts: typed.StatefulSet) -> labels.Selector | None:
    try:
        return labels.from_label_selector((sts.get("spec") or {}).get("selector"))
    except ValueError:
        return None


def _with_kind(sts: dict[str, Any]) -> typed.StatefulSet:
    if sts.get("kind") and sts.get("apiVersion"):
        return typed.stateful_set(sts)
    return typed.stateful_set({**sts, "kind": STATEFULSETS.kind, "apiVersion": STATEFULSETS.api_version})


class _Wait(Exception):
    """This sync has done what it may; the next pod event continues (OrderedReady)."""


class StatefulSetController(Controller):
    name = "statefulset"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 clock: Callable[[], datetime.datetime] = cu.now, **kwargs: Any) -> None:
        """``clock`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.recorder = recorder or EventRecorder(client, component="statefulset-controller")
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.sts_informer = informers.informer(STATEFULSETS)
        self.pod_informer = informers.informer(PODS, indexers=idx)
        self.cr_informer = informers.informer(CONTROLLERREVISIONS, indexers=idx)
        self.pvc_informer = informers.informer(PERSISTENTVOLUMECLAIMS)
        self.informers = [self.sts_informer, self.pod_informer, self.cr_informer, self.pvc_informer]
        self.sts_informer.add_handler(on_add=self.enqueue, on_update=lambda o, c: self.enqueue(c),
                                      on_delete=lambda o: None)
        self.pod_informer.add_handler(on_add=self._pod_changed, on_update=self._update_pod,
                                      on_delete=self._pod_changed)

    # -- handlers ----------------------------------------------------------------------------------

    def _pod_changed(self, pod: dict[str, Any] | None) -> None:
        pod = tombstone_safe(pod)
        if pod is None:
            return
        md = cu.meta(pod)
        ref = cu.controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != STATEFULSETS.kind:
                return
            sts = self.sts_informer.store.get(f"{md.get('namespace')}/{ref.get('name')}")
            if sts is not None and cu.meta(sts).get("uid") == ref.get("uid"):
                self.enqueue(sts)
            return
        for sts in self.sts_informer.store.by_index("namespace", md.get("namespace") or ""):
            sel = _selector(typed.stateful_set(sts))
            if sel is not None and not sel.is_empty() and sel.matches(md.get("labels")):
                self.enqueue(sts)

    def _update_pod(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        if cu.controller_ref(old) != cu.controller_ref(cur):
            self._pod_changed(old)
        self._pod_changed(cur)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.sts_informer.store.get(key)
        if cached is None:
            return
        sts = _with_kind(cached)
        selector = _selector(sts)
        if selector is None or selector.is_empty():
            log.warning("statefulset %s has an invalid or empty selector; skipping", key)
            return
        md, spec, old_status = cu.meta(sts), sts.get("spec") or {}, sts.get("status") or {}
        revisions = [typed.controller_revision(r)
                     for r in self.cr_informer.store.by_index(cu.CONTROLLER_UID_INDEX, md.get("uid") or "")
                     if cu.meta(r).get("namespace") == md.get("namespace")]
        update_cr, others = await history.ensure_revision(self.client, STATEFULSETS, sts, revisions)
        update_rev = history.revision_hash(update_cr)
        current_cr = next((r for r in others if history.revision_hash(r) == old_status.get("currentRevision")),
                          update_cr)
        current_rev = history.revision_hash(current_cr)

        manager = cu.ControllerRefManager(self.client, PODS, sts, selector,
                                          can_adopt=cu.recheck_owner(self.client, STATEFULSETS, sts))
        # the pod informer's objects, read as pods
        pods = await manager.claim(cast(list[typed.Pod], cu.owned_or_orphaned(self.pod_informer.store, sts)))
        start, replicas = su.start_ordinal(sts), spec.get("replicas", 1)
        slots: dict[int, typed.Pod] = {}
        condemned: list[typed.Pod] = []
        for p in pods:
            o = su.ordinal_of(p, md["name"])
            if o is not None and start <= o < start + replicas and o not in slots:
                slots[o] = p
            else:
                condemned.append(p)
        condemned.sort(key=lambda p: su.ordinal_of(p, md["name"]) or -1, reverse=True)

        error: Exception | None = None
        if not md.get("deletionTimestamp"):
            try:
                await self._update(sts, slots, condemned, start, replicas, current_cr, update_cr)
            except _Wait:
                pass
            except errors.MiniK8sError as e:
                error = e
        await history.trim(self.client, sts, others, pods, keep={current_rev, update_rev})

        live = [p for p in pods if not su.is_finished(p)]
        counts = su.calculate_status(live, current_rev, update_rev, spec.get("minReadySeconds") or 0, self.clock())
        status: typed.StatefulSetStatus = {**counts, "currentRevision": current_rev, "updateRevision": update_rev}
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        if "conditions" in old_status:
            status["conditions"] = old_status["conditions"]
        if (generation := md.get("generation")) is not None:
            status["observedGeneration"] = generation
        if (spec.get("updateStrategy") or {}).get("type") == "RollingUpdate" and \
                counts["updatedReplicas"] == counts["replicas"] == counts["readyReplicas"]:
            # completeRollingUpdate: every pod runs the new revision: it is now the current one.
            status["currentRevision"], status["currentReplicas"] = update_rev, counts["updatedReplicas"]
        if any(old_status.get(k) != v for k, v in status.items()):
            await self.client.update_status(STATEFULSETS, {**sts, "status": status})
        min_ready = spec.get("minReadySeconds") or 0
        if min_ready and counts["readyReplicas"] != counts["availableReplicas"]:
            self.queue.add_after(key, min_ready)
        if error is not None:
            raise error

    async def _update(self, sts: typed.StatefulSet, slots: dict[int, typed.Pod], condemned: list[typed.Pod],
                      start: int, replicas: int,
                      current_cr: ControllerRevision, update_cr: ControllerRevision) -> None:
        spec = sts.get("spec") or {}
        monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        for ordinal in range(start, start + replicas):
            pod = slots.get(ordinal)
            if pod is not None and su.is_finished(pod) and not cu.meta(pod).get("deletionTimestamp"):
                # A finished pod is made again under its name (and with its claims).
                await self._delete_pod(sts, pod)
                if monotonic:
                    raise _Wait
                continue
            if pod is None:
                tpl: Mapping[str, Any]  # a revision's template is its stored JSON
                if strategy.get("type") == "RollingUpdate" and ordinal < start + partition:
                    tpl, rev = history.template_of(current_cr), history.revision_hash(current_cr)
                else:
                    tpl, rev = (spec.get("template") or {}), history.revision_hash(update_cr)
                await self._create_claims(sts, ordinal)
                await self._create_pod(sts, tpl, ordinal, rev)
                if monotonic:
                    raise _Wait
                continue
            if monotonic and not su.is_running_and_ready(pod):
                raise _Wait  # OrderedReady: the next ordinal waits for this one
        healthy = all(su.is_running_and_ready(slots[o]) for o in range(start, start + replicas) if o in slots)
        for pod in condemned:
            if cu.meta(pod).get("deletionTimestamp"):
                if monotonic:
                    raise _Wait
                continue
            if monotonic and not healthy:
                raise _Wait
            await self._delete_pod(sts, pod, scaled_down=True)
            if monotonic:
                raise _Wait
        if strategy.get("type") != "RollingUpdate" or len(slots) < replicas or not healthy:
            return
        update_rev = history.revision_hash(update_cr)
        for ordinal in range(start + replicas - 1, start + partition - 1, -1):
            pod = slots[ordinal]
            if su.revision_of(pod) != update_rev:
                await self._delete_pod(sts, pod)
                raise _Wait  # one at a time: its replacement must become ready first

    async def _create_claims(self, sts: typed.StatefulSet, ordinal: int) -> None:
        for claim in su.new_claims(sts, ordinal):
            cmd = claim["metadata"]
            existing = self.pvc_informer.store.get(f"{cmd['namespace']}/{cmd['name']}")
            if existing is not None:
                if cu.meta(existing).get("deletionTimestamp"):
                    raise errors.MiniK8sError(f"pvc {cmd['name']} is being deleted")
                continue
            pod = su.pod_name(cu.meta(sts)["name"], ordinal)
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, claim, namespace=cmd["namespace"])
            except errors.AlreadyExists:
                continue
            except errors.MiniK8sError as e:
                self.recorder.event(sts, WARNING, "FailedCreate", f"create Claim {cmd['name']} for Pod {pod} in "
                                    f"StatefulSet {cu.meta(sts)['name']} failed error: {rsutil.error_message(e)}")
                raise
            self.recorder.event(sts, NORMAL, "SuccessfulCreate", f"create Claim {cmd['name']} Pod {pod} in "
                                f"StatefulSet {cu.meta(sts)['name']} success")

    async def _create_pod(self, sts: typed.StatefulSet, template: Mapping[str, Any], ordinal: int,
                          revision: str) -> None:
        pod = su.new_pod(sts, template, ordinal, revision)
        name, set_name = pod["metadata"]["name"], cu.meta(sts)["name"]
        try:
            await self.client.create(PODS, pod, namespace=cu.meta(sts).get("namespace"))
        except errors.AlreadyExists:
            return  # the cache was behind: the pod is there
        except errors.MiniK8sError as e:
            self.recorder.event(sts, WARNING, "FailedCreate", f"create Pod {name} in StatefulSet {set_name} failed "
                                f"error: {rsutil.error_message(e)}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulCreate", f"create Pod {name} in StatefulSet {set_name} successful")

    async def _delete_pod(self, sts: typed.StatefulSet, pod: typed.Pod, *, scaled_down: bool = False) -> None:
        md, set_name = cu.meta(pod), cu.meta(sts)["name"]
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        if scaled_down and policy.get("whenScaled") == "Delete":
            await self._claims_follow_pod(sts, pod)
        try:
            await self.client.delete(PODS, md["name"], namespace=md.get("namespace"))
        except errors.NotFound:
            return
        except errors.MiniK8sError as e:
            self.recorder.event(sts, WARNING, "FailedDelete", f"delete Pod {md['name']} in StatefulSet {set_name} "
                                f"failed error: {rsutil.error_message(e)}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulDelete", f"delete Pod {md['name']} in StatefulSet {set_name} "
                            "successful")

    async def _claims_follow_pod(self, sts: typed.StatefulSet, pod: typed.Pod) -> None:
        """whenScaled: Delete: the condemned pod owns its claims, so they go with it."""
        ordinal = su.ordinal_of(pod, cu.meta(sts)["name"])
        if ordinal is None:
            return
        pmd = cu.meta(pod)
        ref = {"apiVersion": "v1", "kind": "Pod", "name": pmd["name"], "uid": pmd["uid"]}
        for claim in su.new_claims(sts, ordinal):
            name = claim["metadata"]["name"]
            try:
                await self.client.patch(PERSISTENTVOLUMECLAIMS, name, {"metadata": {"ownerReferences": [ref]}},
                                        namespace=pmd.get("namespace"), patch_type="strategic")
            except errors.NotFound:
                continue

