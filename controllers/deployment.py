"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

As Kubernetes' ``pkg/controller/deployment`` (``deployment_controller.go`` and ``sync.go``
here; the strategies in ``deployment_rolling.py`` and ``deployment_recreate.py``; the pure
arithmetic in ``deployment_utils.py``). A Deployment owns ReplicaSets named
``{name}-{pod-template-hash}``; the one whose template equals the Deployment's is the *new*
ReplicaSet, the others are *old*. Each sync:

1. claims ReplicaSets (adopting orphans that match, releasing those that stopped matching);
2. a deleted Deployment only gets its status refreshed; a paused one, or one whose replica
   count changed, is *scaled* (proportionally across ReplicaSets while a rollout is under
   way) without rolling;
3. otherwise the strategy moves pods from old to new (RollingUpdate within
   maxSurge/maxUnavailable, or Recreate: old ones gone before any new one);
4. the status (replicas, updated, ready, available, unavailable, conditions Available and
   Progressing with the progress deadline) is written only when it changed.

Rollback needs nothing special: ``kubectl rollout undo`` copies an old ReplicaSet's template
into the Deployment; that ReplicaSet is then found as the new one and takes the next revision.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Literal, TypeVar, overload

from controllers import controller_utils as cu
from controllers import deployment_utils as du
from controllers.base import Controller, tombstone_safe
from controllers.deployment_recreate import RecreateStrategy
from controllers.deployment_rolling import RollingStrategy
from minik8s import errors, labels, timestamps
from minik8s.api import typed
from minik8s.api.resources import DEPLOYMENTS, PODS, REPLICASETS, object_key
from minik8s.api.typed import Deployment, DeploymentCondition, DeploymentStatus, OwnerReference, Pod, ReplicaSet
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

# Kubernetes drops a Deployment key after this many failed syncs in a row.
MAX_RETRIES = 15


_Obj = TypeVar("_Obj", Deployment, ReplicaSet)


def _with_kind(obj: _Obj, kind: str, api_version: str) -> _Obj:
    if obj.get("kind") and obj.get("apiVersion"):
        return obj
    out = obj.copy()
    out["kind"], out["apiVersion"] = kind, api_version
    return out


def _deployment(obj: dict[str, Any]) -> Deployment:
    """A Deployment the apiserver sent (or the informer holds), typed and with its kind set."""
    return _with_kind(typed.deployment(obj), DEPLOYMENTS.kind, DEPLOYMENTS.api_version)


def _replica_set(obj: dict[str, Any]) -> ReplicaSet:
    """A ReplicaSet the apiserver sent (or the informer holds), typed and with its kind set."""
    return _with_kind(typed.replica_set(obj), REPLICASETS.kind, REPLICASETS.api_version)


def _selector(d: Deployment) -> labels.Selector | None:
    try:
        return labels.from_label_selector(du.spec(d).get("selector"))
    except ValueError:
        return None


def _replace(target: Deployment, new: Deployment) -> None:
    """Make ``target`` (our working copy) the object the server returned, keeping identity."""
    # A TypedDict is a dict at run time; mypy leaves clear() off TypedDicts (it would drop
    # required keys), and every key of the Deployment view is optional.
    target.clear()  # type: ignore[attr-defined]
    target.update(new)


class DeploymentController(RollingStrategy, RecreateStrategy, Controller):
    name = "deployment"
    max_retries = MAX_RETRIES

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 **kwargs: Any) -> None:
        """``client`` is an ApiClient; ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="deployment-controller")
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.d_informer = informers.informer(DEPLOYMENTS)
        self.rs_informer = informers.informer(REPLICASETS, indexers=idx)
        self.pod_informer = informers.informer(PODS, indexers=idx)
        self.informers = [self.d_informer, self.rs_informer, self.pod_informer]
        self.d_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur),
                                    on_delete=self._delete_deployment)
        self.rs_informer.add_handler(on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs)
        self.pod_informer.add_handler(on_delete=self._delete_pod)

    # -- handlers ----------------------------------------------------------------------------

    def _delete_deployment(self, d: dict[str, Any] | None) -> None:
        d = tombstone_safe(d)
        if d is not None:
            self.enqueue(d)

    def _resolve(self, namespace: str, ref: OwnerReference | None) -> Deployment | None:
        if ref is None or ref.get("kind") != DEPLOYMENTS.kind:
            return None
        d = self.d_informer.store.get(f"{namespace}/{ref.get('name')}")
        if d is None or cu.meta(d).get("uid") != ref.get("uid"):
            return None
        return typed.deployment(d)

    def _deployments_for_rs(self, rs: dict[str, Any]) -> list[Deployment]:
        md = cu.meta(rs)
        out = []
        for d in map(typed.deployment, self.d_informer.store.by_index("namespace", md.get("namespace") or "")):
            sel = _selector(d)
            if sel is not None and not sel.is_empty() and sel.matches(md.get("labels")):
                out.append(d)
        return out

    def _add_rs(self, rs: dict[str, Any]) -> None:
        md = cu.meta(rs)
        if md.get("deletionTimestamp"):
            self._delete_rs(rs)
            return
        ref = cu.controller_ref(rs)
        if ref is not None:
            d = self._resolve(md.get("namespace") or "", ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self._deployments_for_rs(rs):
            self.enqueue(d)

    def _update_rs(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = cu.meta(old), cu.meta(cur)
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return
        cur_ref, old_ref = cu.controller_ref(cur), cu.controller_ref(old)
        namespace = cmd.get("namespace") or ""
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            d = self._resolve(namespace, old_ref)
            if d is not None:
                self.enqueue(d)
        if cur_ref is not None:
            d = self._resolve(namespace, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if ref_changed or (omd.get("labels") or {}) != (cmd.get("labels") or {}):
            for d in self._deployments_for_rs(cur):
                self.enqueue(d)

    def _delete_rs(self, rs: dict[str, Any] | None) -> None:
        rs = tombstone_safe(rs)
        if rs is None:
            return
        d = self._resolve(cu.meta(rs).get("namespace") or "", cu.controller_ref(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, pod: dict[str, Any] | None) -> None:
        """Recreate waits for old pods to be gone: a pod deletion may let it proceed."""
        pod = tombstone_safe(pod)
        if pod is None:
            return
        namespace = cu.meta(pod).get("namespace") or ""
        ref = cu.controller_ref(pod)
        if ref is None or ref.get("kind") != REPLICASETS.kind:
            return
        rs = self.rs_informer.store.get(f"{namespace}/{ref.get('name')}")
        if rs is None or cu.meta(rs).get("uid") != ref.get("uid"):
            return
        d = self._resolve(namespace, cu.controller_ref(rs))
        if d is not None and not du.is_rolling_update(d):
            self.enqueue(d)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.d_informer.store.get(key)
        if cached is None:
            log.debug("deployment %s has been deleted", key)
            return
        d = _deployment(copy.deepcopy(cached))
        selector = _selector(d)
        if selector is None:
            log.warning("deployment %s has an invalid selector; skipping", key)
            return
        if selector.is_empty():
            self.recorder.event(d, WARNING, "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if (du.status(d).get("observedGeneration") or 0) < (du.meta(d).get("generation") or 0):
                d.setdefault("status", {})["observedGeneration"] = du.meta(d).get("generation") or 0
                await self._update_deployment_status(d)
            return

        rss = await self._replica_sets_for(d, selector)
        if du.meta(d).get("deletionTimestamp"):
            await self._sync_status_only(d, rss)
            return
        await self._check_paused_conditions(d)
        if du.spec(d).get("paused"):
            await self._sync_scale(d, rss)
            return
        if await self._is_scaling_event(d, rss):
            await self._sync_scale(d, rss)
            return
        if du.is_rolling_update(d):
            await self.rollout_rolling(d, rss)
        else:
            await self.rollout_recreate(d, rss, self._pod_map(d, rss, selector))

    async def _replica_sets_for(self, d: Deployment, selector: labels.Selector) -> list[ReplicaSet]:
        candidates = cu.owned_or_orphaned(self.rs_informer.store, d)
        manager = cu.ControllerRefManager(self.client, REPLICASETS, d, selector,
                                          can_adopt=cu.recheck_owner(self.client, DEPLOYMENTS, d))
        return [_replica_set(rs) for rs in await manager.claim(candidates)]

    def _pod_map(self, d: Deployment, rss: list[ReplicaSet], selector: labels.Selector) -> dict[str, list[Pod]]:
        """The Deployment's pods by the uid of the ReplicaSet controlling them."""
        out: dict[str, list[Pod]] = {}
        for rs in rss:
            rs_uid = du.uid(rs) or ""
            out[rs_uid] = [typed.pod(p) for p in self.pod_informer.store.by_index(cu.CONTROLLER_UID_INDEX, rs_uid)
                           if selector.matches(cu.meta(p).get("labels"))]
        return out

    # -- the new and old ReplicaSets ---------------------------------------------------------

    @overload
    async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                   create: Literal[True]) -> tuple[ReplicaSet, list[ReplicaSet]]: ...

    @overload
    async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                   create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]: ...

    async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                   create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """(new RS or None, all old RSs), bringing the new one to the next revision; with
        ``create`` the new RS is made when there is none (or the creation raises)."""
        _, all_old = du.find_old_replica_sets(d, rss)
        new = await self._get_new_replica_set(d, rss, all_old, create=create)
        return new, all_old

    async def _get_new_replica_set(self, d: Deployment, rss: list[ReplicaSet], old_rss: list[ReplicaSet], *,
                                   create: bool) -> ReplicaSet | None:
        existing = du.find_new_replica_set(d, rss)
        new_revision = str(du.max_revision(old_rss) + 1)
        if existing is not None:
            return await self._sync_existing_new_rs(d, existing, new_revision)
        if not create:
            return None

        md = du.meta(d)
        template = copy.deepcopy(du.spec(d).get("template") or {})
        hash_ = du.compute_hash(du.spec(d).get("template") or {}, du.status(d).get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), du.POD_TEMPLATE_HASH: hash_}
        selector = copy.deepcopy(du.spec(d).get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), du.POD_TEMPLATE_HASH: hash_}
        name = du.template_rs_name(d, hash_)
        owner_ref = cu.new_controller_ref(d)
        new_rs: ReplicaSet = {
            "apiVersion": REPLICASETS.api_version, "kind": REPLICASETS.kind,
            # A Deployment read from the cluster has its namespace (the kind is namespaced).
            "metadata": {"name": name, "namespace": md.get("namespace", ""),
                         "ownerReferences": [owner_ref], "labels": dict(tmeta["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": du.spec(d).get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
        }
        new_count = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = new_count
        du.set_new_replica_set_annotations(d, new_rs, new_revision, exists=False)

        already_exists = False
        try:
            created = _replica_set(await self.client.create(REPLICASETS, new_rs, namespace=md.get("namespace")))
        except errors.AlreadyExists as e:
            found = await self._get_rs(md.get("namespace") or "", name)
            ref = cu.controller_ref(found) if found is not None else None
            if (found is not None and ref is not None and ref.get("uid") == md.get("uid")
                    and du.equal_ignore_hash(du.spec(d).get("template") or {}, du.spec(found).get("template") or {})):
                # Ours, created by an earlier sync our cache has not seen yet.
                created, already_exists = found, True
            else:
                # A different template hashed to the same name: bump collisionCount so the
                # next sync computes another hash.
                d.setdefault("status", {})["collisionCount"] = (du.status(d).get("collisionCount") or 0) + 1
                try:
                    await self._update_deployment_status(d)
                    log.info("deployment %s: hash collision on %s, collisionCount now %d", object_key(d), name,
                             d["status"]["collisionCount"])
                except errors.MiniK8sError:
                    pass
                raise e
        except errors.MiniK8sError as e:
            msg = f'Failed to create new replica set "{name}": {cu_message(e)}'
            if du.has_progress_deadline(d):
                du.set_condition(d.setdefault("status", {}),
                                 du.new_condition(du.PROGRESSING, "False", du.FAILED_RS_CREATE_REASON, msg, at=cu.now()))
                try:
                    await self._update_deployment_status(d)
                except errors.MiniK8sError:
                    pass
            self.recorder.event(d, WARNING, "FailedCreate", msg)
            raise

        if not already_exists and new_count > 0:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled up replica set {name} from 0 to {new_count}")
        needs_update = du.set_deployment_revision(d, new_revision)
        if not already_exists and du.has_progress_deadline(d):
            du.set_condition(d.setdefault("status", {}),
                             du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED_REASON,
                                              f'Created new replica set "{name}"', at=cu.now()))
            needs_update = True
        if needs_update:
            await self._update_deployment_status(d)
        return created

    async def _sync_existing_new_rs(self, d: Deployment, existing: ReplicaSet, new_revision: str) -> ReplicaSet:
        rs = copy.deepcopy(existing)
        annotations_updated = du.set_new_replica_set_annotations(d, rs, new_revision, exists=True)
        d_min_ready = du.spec(d).get("minReadySeconds") or 0
        if annotations_updated or (du.spec(rs).get("minReadySeconds") or 0) != d_min_ready:
            rs.setdefault("spec", {})["minReadySeconds"] = d_min_ready
            return _replica_set(await self.client.update(REPLICASETS, rs))
        needs_update = du.set_deployment_revision(d, du.annotations_of(rs).get(du.REVISION, ""))
        if du.has_progress_deadline(d) and du.get_condition(du.status(d), du.PROGRESSING) is None:
            du.set_condition(d.setdefault("status", {}),
                             du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS_REASON,
                                              f'Found new replica set "{du.meta(rs)["name"]}"', at=cu.now()))
            needs_update = True
        if needs_update:
            await self._update_deployment_status(d)
        return rs

    async def _get_rs(self, namespace: str, name: str) -> ReplicaSet | None:
        rs = self.rs_informer.store.get(f"{namespace}/{name}")
        if rs is not None:
            return typed.replica_set(rs)
        try:
            return typed.replica_set(await self.client.get(REPLICASETS, name, namespace=namespace))
        except errors.NotFound:
            return None

    # -- scaling ----------------------------------------------------------------------------

    async def _is_scaling_event(self, d: Deployment, rss: list[ReplicaSet]) -> bool:
        """Some active ReplicaSet was sized for another replica count than the Deployment's."""
        new, old = await self.get_all_replica_sets(d, rss, create=False)
        for rs in du.filter_active([*old, new]):
            desired = du.desired_replicas_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    async def _sync_scale(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        """Scale without rolling (paused, or the replica count changed)."""
        new, old = await self.get_all_replica_sets(d, rss, create=False)
        await self.scale(d, new, old)
        if du.spec(d).get("paused"):
            await self.cleanup_deployment(old, d)
        await self.sync_deployment_status([*old, new], new, d)

    async def scale(self, d: Deployment, new: ReplicaSet | None, old: list[ReplicaSet]) -> None:
        """Bring the ReplicaSets to the Deployment's size: the one active RS takes it all; a
        saturated new RS takes old ones to 0; otherwise spread the difference proportionally."""
        active = du.find_active_or_latest(new, old)
        if active is not None:
            if du.replicas(active) != du.replicas(d):
                await self.scale_replica_set_and_record_event(active, du.replicas(d), d)
            return
        if du.is_saturated(d, new):
            for rs in du.filter_active(old):
                await self.scale_replica_set_and_record_event(rs, 0, d)
            return
        if not du.is_rolling_update(d):
            return
        all_rss = du.filter_active([*old, new])
        allowed = du.replicas(d) + du.max_surge(d) if du.replicas(d) > 0 else 0
        to_add = allowed - du.replica_count(all_rss)
        operation = ""
        if to_add > 0:
            all_rss, operation = du.sort_by_size_newer(all_rss), "up"
        elif to_add < 0:
            all_rss, operation = du.sort_by_size_older(all_rss), "down"
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_rss:
            name = du.meta(rs)["name"]
            if to_add != 0:
                share = du.proportion(rs, d, to_add, added)
                sizes[name] = du.replicas(rs) + share
                added += share
            else:
                sizes[name] = du.replicas(rs)
        if to_add != 0 and added != to_add and all_rss:
            # Rounding leftovers go to the largest (first) ReplicaSet.
            first = du.meta(all_rss[0])["name"]
            sizes[first] = max(sizes[first] + to_add - added, 0)
        for rs in all_rss:
            await self.scale_replica_set(rs, sizes[du.meta(rs)["name"]], d, operation)

    async def scale_replica_set_and_record_event(self, rs: ReplicaSet, new_scale: int,
                                                 d: Deployment) -> tuple[bool, ReplicaSet]:
        if du.replicas(rs) == new_scale:
            return False, rs
        return await self.scale_replica_set(rs, new_scale, d, "up" if du.replicas(rs) < new_scale else "down")

    async def scale_replica_set(self, rs: ReplicaSet, new_scale: int, d: Deployment,
                                operation: str) -> tuple[bool, ReplicaSet]:
        """Set the RS size and its desired/max-replicas annotations; an Event when it resized."""
        size_changes = du.replicas(rs) != new_scale
        want, max_total = du.replicas(d), du.replicas(d) + du.max_surge(d)
        if not size_changes and not du.replicas_annotations_need_update(rs, want, max_total):
            return False, rs
        old_scale = du.replicas(rs)
        body = copy.deepcopy(rs)
        body.setdefault("spec", {})["replicas"] = new_scale
        du.set_replicas_annotations(body, want, max_total)
        updated = _replica_set(await self.client.update(REPLICASETS, body))
        if size_changes:
            self.recorder.event(d, NORMAL, "ScalingReplicaSet",
                                f"Scaled {operation} replica set {du.meta(rs)['name']} from {old_scale} to {new_scale}")
        return size_changes, updated

    async def cleanup_deployment(self, old: list[ReplicaSet], d: Deployment) -> None:
        """Delete the oldest idle ReplicaSets beyond revisionHistoryLimit."""
        limit = du.spec(d).get("revisionHistoryLimit")
        if limit is None or limit == du.MAX_INT32:
            return
        alive = [rs for rs in old if not du.meta(rs).get("deletionTimestamp")]
        diff = len(alive) - limit
        if diff <= 0:
            return
        for rs in du.sort_by_revision(alive)[:diff]:
            st, md = du.status(rs), du.meta(rs)
            # Only an RS that is idle and whose idleness its controller has confirmed.
            if (st.get("replicas") or 0) != 0 or du.replicas(rs) != 0 \
                    or (md.get("generation") or 0) > (st.get("observedGeneration") or 0) or md.get("deletionTimestamp"):
                continue
            log.info("deployment %s: deleting old replica set %s beyond the revision history limit",
                     object_key(d), md["name"])
            try:
                await self.client.delete(REPLICASETS, md["name"], namespace=md.get("namespace"))
            except errors.NotFound:
                pass

    # -- status -----------------------------------------------------------------------------

    async def _update_deployment_status(self, d: Deployment) -> None:
        _replace(d, _deployment(await self.client.update_status(DEPLOYMENTS, d)))

    async def _sync_status_only(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        new, old = await self.get_all_replica_sets(d, rss, create=False)
        await self.sync_deployment_status([*old, new], new, d)

    async def sync_deployment_status(self, all_rss: list[ReplicaSet | None], new: ReplicaSet | None,
                                     d: Deployment) -> None:
        st = du.calculate_status(all_rss, new, d, at=cu.now())
        if du.status_equal(du.status(d), st):
            return
        d["status"] = st
        await self._update_deployment_status(d)

    async def _check_paused_conditions(self, d: Deployment) -> None:
        """Progressing=Unknown DeploymentPaused / DeploymentResumed as pausing flips."""
        if not du.has_progress_deadline(d):
            return
        cond = du.get_condition(du.status(d), du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT_REASON:
            return  # a timed-out rollout stays timed out until a new one begins
        paused = bool(du.spec(d).get("paused"))
        paused_cond = cond is not None and cond.get("reason") == du.PAUSED_REASON
        if paused and not paused_cond:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED_REASON, "Deployment is paused", at=cu.now())
        elif not paused and paused_cond:
            new = du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED_REASON, "Deployment is resumed", at=cu.now())
        else:
            return
        du.set_condition(d.setdefault("status", {}), new)
        await self._update_deployment_status(d)

    async def sync_rollout_status(self, all_rss: list[ReplicaSet | None], new: ReplicaSet | None,
                                  d: Deployment) -> None:
        """The status with the Progressing condition judged against the progress deadline."""
        at = cu.now()
        st = du.calculate_status(all_rss, new, d, at=at)
        if not du.has_progress_deadline(d):
            du.remove_condition(st, du.PROGRESSING)
        current = du.get_condition(du.status(d), du.PROGRESSING)
        complete = (st.get("replicas") == st.get("updatedReplicas") and current is not None
                    and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        if du.has_progress_deadline(d) and not complete:
            subject = f'ReplicaSet "{du.meta(new)["name"]}"' if new is not None else f'Deployment "{du.meta(d)["name"]}"'
            if du.deployment_complete(d, st):
                du.set_condition(st, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE_REASON,
                                                      f"{subject} has successfully progressed.", at=at))
            elif du.deployment_progressing(d, st):
                cond = du.new_condition(du.PROGRESSING, "True", du.RS_UPDATED_REASON,
                                        f"{subject} is progressing.", at=at)
                # Progress moves lastUpdateTime (the deadline counts from it) but a condition
                # that was already True keeps its transition time.
                if current is not None and current.get("status") == "True" \
                        and (since := current.get("lastTransitionTime")) is not None:
                    cond["lastTransitionTime"] = since
                du.remove_condition(st, du.PROGRESSING)
                du.set_condition(st, cond)
            elif du.deployment_timed_out(d, st, at=at):
                du.set_condition(st, du.new_condition(du.PROGRESSING, "False", du.TIMED_OUT_REASON,
                                                      f"{subject} has timed out progressing.", at=at))
        failures = self._replica_failures(all_rss, new)
        if failures:
            du.set_condition(st, failures[0])
        else:
            du.remove_condition(st, du.REPLICA_FAILURE)
        if du.status_equal(du.status(d), st):
            self._requeue_stuck(d, st)
            return
        d["status"] = st
        await self._update_deployment_status(d)

    @staticmethod
    def _replica_failures(all_rss: list[ReplicaSet | None], new: ReplicaSet | None) -> list[DeploymentCondition]:
        for group in ([new] if new is not None else [], all_rss):
            out = [du.rs_condition_to_deployment(c) for rs in group if rs is not None
                   for c in du.status(rs).get("conditions") or [] if c.get("type") == du.REPLICA_FAILURE]
            if out:
                return out
        return []

    def _requeue_stuck(self, d: Deployment, st: DeploymentStatus) -> None:
        """Look again when the progress deadline would pass, to flip Progressing to False."""
        current = du.get_condition(du.status(d), du.PROGRESSING)
        if not du.has_progress_deadline(d) or current is None:
            return
        if du.deployment_complete(d, st) or current.get("reason") == du.TIMED_OUT_REASON:
            return
        since = timestamps.parse(current.get("lastUpdateTime"))
        if since is None:
            return
        after = (since - cu.now()).total_seconds() + du.spec(d)["progressDeadlineSeconds"]
        # Timestamps have whole seconds: a second of slack lands us past the deadline.
        self.enqueue_after(d, max(after, 0.0) + 1.0)


def cu_message(e: Exception) -> str:
    return getattr(e, "message", None) or str(e)
