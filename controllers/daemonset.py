"""The DaemonSet controller: one pod per eligible node, as Kubernetes' ``pkg/controller/daemon``.

Handlers enqueue the DaemonSet owning a pod or ControllerRevision (orphans: every DaemonSet
whose selector matches), and every DaemonSet when a node appears, goes, or changes what
decides eligibility (labels, taints, unschedulable). ``sync(key)``:

* records the pod template in a ControllerRevision (``<ds>-<hash>``; an older revision
  whose template is the current one again — a rollback — is renumbered to the newest),
* claims the pods, then (when the expectations are met) creates a pod pinned by node
  affinity on ``metadata.name`` for each node that should run one and has none, deletes
  failed pods, extra pods, pods on nodes that must not run them any more (an untolerated
  NoExecute taint, a selector that stopped matching) and pods of vanished nodes;
* with ``updateStrategy: RollingUpdate``, replaces pods of older revisions node by node
  within ``maxUnavailable`` (or, with ``maxSurge``, starts the new pod first and deletes the
  old one once the new one is available); with ``OnDelete`` it only replaces deleted pods;
* keeps ``revisionHistoryLimit`` unused revisions, and writes the status (desired, current,
  ready, up-to-date, available, misscheduled) when it changed.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any, cast

from controllers import controller_utils as cu
from controllers import daemonset_utils as du
from controllers import history
from controllers import replicaset_utils as rsutil
from controllers.base import Controller, tombstone_safe
from controllers.expectations import UIDTrackingControllerExpectations
from minik8s import errors, labels
from minik8s.api import typed
from minik8s.api.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS, object_key
from minik8s.api.typed import ControllerRevision
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

BURST_REPLICAS = 250
# Kubernetes' failedPodsBackoff: between kills of failed daemon pods on one node.
FAILED_POD_BACKOFF_INITIAL = 1.0
FAILED_POD_BACKOFF_MAX = 15 * 60.0


def _selector(ds: typed.DaemonSet) -> labels.Selector | None:
    try:
        return labels.from_label_selector((ds.get("spec") or {}).get("selector"))
    except ValueError:
        return None


def _with_kind(ds: dict[str, Any]) -> typed.DaemonSet:
    if ds.get("kind") and ds.get("apiVersion"):
        return typed.daemon_set(ds)
    return typed.daemon_set({**ds, "kind": DAEMONSETS.kind, "apiVersion": DAEMONSETS.api_version})


def _node_facts(node: typed.Node) -> tuple[object, ...]:
    md, spec = node.get("metadata") or {}, node.get("spec") or {}
    return (md.get("labels"), spec.get("taints"), spec.get("unschedulable"))


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 clock: Callable[[], datetime.datetime] = cu.now, burst_replicas: int = BURST_REPLICAS,
                 **kwargs: Any) -> None:
        """``clock``, ``burst_replicas`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.burst_replicas = burst_replicas
        self.recorder = recorder or EventRecorder(client, component="daemonset-controller")
        self.expectations = UIDTrackingControllerExpectations()
        self._failed_pods_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.ds_informer = informers.informer(DAEMONSETS)
        self.pod_informer = informers.informer(PODS, indexers=idx)
        self.node_informer = informers.informer(NODES)
        self.cr_informer = informers.informer(CONTROLLERREVISIONS, indexers=idx)
        self.informers = [self.ds_informer, self.pod_informer, self.node_informer, self.cr_informer]
        self.ds_informer.add_handler(on_add=self.enqueue, on_update=lambda o, c: self.enqueue(c),
                                     on_delete=self._delete_ds)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)
        self.node_informer.add_handler(on_add=lambda n: self._enqueue_all(), on_update=self._update_node,
                                       on_delete=lambda n: self._enqueue_all())
        self.cr_informer.add_handler(on_add=self._owner_changed, on_update=lambda o, c: self._owner_changed(c),
                                     on_delete=self._owner_changed)

    # -- handlers ----------------------------------------------------------------------------------

    def _enqueue_all(self) -> None:
        for ds in self.ds_informer.store.list():
            self.enqueue(ds)

    def _delete_ds(self, ds: dict[str, Any] | None) -> None:
        ds = tombstone_safe(ds)
        if ds is not None:
            self.expectations.delete(object_key(ds))
            self.enqueue(ds)

    def _update_node(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if _node_facts(typed.node(old)) != _node_facts(typed.node(cur)):
            self._enqueue_all()

    def _resolve(self, namespace: str, ref: typed.OwnerReference | None) -> typed.DaemonSet | None:
        if ref is None or ref.get("kind") != DAEMONSETS.kind:
            return None
        ds = self.ds_informer.store.get(f"{namespace}/{ref.get('name')}")
        if ds is None or cu.meta(ds).get("uid") != ref.get("uid"):
            return None
        return typed.daemon_set(ds)

    def _owner_changed(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is None:
            return
        ds = self._resolve(cu.meta(obj).get("namespace") or "", cu.controller_ref(obj))
        if ds is not None:
            self.enqueue(ds)

    def _matching(self, pod: dict[str, Any]) -> list[typed.DaemonSet]:
        md = cu.meta(pod)
        out: list[typed.DaemonSet] = []
        for obj in self.ds_informer.store.by_index("namespace", md.get("namespace") or ""):
            ds = typed.daemon_set(obj)
            sel = _selector(ds)
            if sel is not None and not sel.is_empty() and sel.matches(md.get("labels")):
                out.append(ds)
        return out

    def _add_pod(self, pod: dict[str, Any]) -> None:
        md = cu.meta(pod)
        if md.get("deletionTimestamp"):
            self._delete_pod(pod)
            return
        ds = self._resolve(md.get("namespace") or "", cu.controller_ref(pod))
        if ds is not None:
            key = object_key(ds)
            self.expectations.creation_observed(key)
            self.enqueue_key(key)
        elif cu.controller_ref(pod) is None:
            for ds in self._matching(pod):
                self.enqueue(ds)

    def _update_pod(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = cu.meta(old), cu.meta(cur)
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return
        if cmd.get("deletionTimestamp") and not omd.get("deletionTimestamp"):
            self._delete_pod(cur)
        ns = cmd.get("namespace") or ""
        if cu.controller_ref(old) != cu.controller_ref(cur):
            self._owner_changed(old)
        ds = self._resolve(ns, cu.controller_ref(cur))
        if ds is not None:
            self.enqueue(ds)
            min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
            if min_ready and not cu.is_pod_ready(typed.pod(old)) and cu.is_pod_ready(typed.pod(cur)):
                self.enqueue_after(ds, min_ready + 1)
        elif cu.controller_ref(cur) is None and (omd.get("labels") != cmd.get("labels")):
            for ds in self._matching(cur):
                self.enqueue(ds)

    def _delete_pod(self, pod: dict[str, Any] | None) -> None:
        pod = tombstone_safe(pod)
        if pod is None:
            return
        ds = self._resolve(cu.meta(pod).get("namespace") or "", cu.controller_ref(pod))
        if ds is None:
            return
        key = object_key(ds)
        self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue_key(key)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.ds_informer.store.get(key)
        if cached is None:
            self.expectations.delete(key)
            return
        ds = _with_kind(cached)
        selector = _selector(ds)
        if selector is None or selector.is_empty():
            log.warning("daemonset %s has an invalid or empty selector; skipping", key)
            return
        if cu.meta(ds).get("deletionTimestamp"):
            return
        hash_, old_revisions = await self._history(ds)
        manager = cu.ControllerRefManager(self.client, PODS, ds, selector,
                                          can_adopt=cu.recheck_owner(self.client, DAEMONSETS, ds))
        # the pod and node informers' objects, read as pods and nodes
        pods = await manager.claim(cast(list[typed.Pod], cu.owned_or_orphaned(self.pod_informer.store, ds)))
        nodes = sorted(cast(list[typed.Node], self.node_informer.store.list()),
                       key=lambda n: cu.meta(n).get("name") or "")
        node_pods: dict[str, list[typed.Pod]] = {}
        for p in pods:
            node_pods.setdefault(du.target_node(p) or "", []).append(p)
        at = self.clock()
        error: Exception | None = None
        if self.expectations.satisfied(key):
            try:
                await self._manage(ds, key, nodes, node_pods, hash_, at)
                strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type")
                if self.expectations.satisfied(key) and strategy == "RollingUpdate":
                    await self._rolling_update(ds, key, nodes, node_pods, hash_, at)
                await self._cleanup_history(ds, old_revisions, pods)
            except errors.MiniK8sError as e:
                error = e
        status = du.calculate_status(ds, nodes, {n: [p for p in ps if not cu.meta(p).get("deletionTimestamp")]
                                                 for n, ps in node_pods.items()}, hash_, at)
        await self._update_status(ds, status)
        min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        if min_ready and status["numberReady"] != status["numberAvailable"]:
            self.queue.add_after(key, min_ready)
        if error is not None:
            raise error

    # -- history -----------------------------------------------------------------------------------

    async def _history(self, ds: typed.DaemonSet) -> tuple[str, list[ControllerRevision]]:
        """The hash of the current template's revision (made if missing) and the other revisions."""
        md = cu.meta(ds)
        revisions = [typed.controller_revision(r)
                     for r in self.cr_informer.store.by_index(cu.CONTROLLER_UID_INDEX, md.get("uid") or "")
                     if cu.meta(r).get("namespace") == md.get("namespace")]
        cur, others = await history.ensure_revision(self.client, DAEMONSETS, ds, revisions)
        return history.revision_hash(cur), others

    async def _cleanup_history(self, ds: typed.DaemonSet, old: list[ControllerRevision], pods: list[typed.Pod]) -> None:
        await history.trim(self.client, ds, old, pods)

    # -- pods --------------------------------------------------------------------------------------

    async def _manage(self, ds: typed.DaemonSet, key: str, nodes: list[typed.Node], node_pods: dict[str, list[typed.Pod]],
                      hash_: str, at: datetime.datetime) -> None:
        template = (ds.get("spec") or {}).get("template") or {}
        surge, _ = du.surge_and_unavailable(ds, len(nodes))
        needing: list[str] = []
        doomed: list[typed.Pod] = []
        names: set[str] = set()
        for node in nodes:
            name = cu.meta(node).get("name") or ""
            names.add(name)
            should_run, should_continue = du.node_should_run(node, template)
            pods = node_pods.get(name) or []
            if should_run and not pods:
                needing.append(name)
            elif pods and should_continue:
                running: list[typed.Pod] = []
                for p in pods:
                    if cu.meta(p).get("deletionTimestamp"):
                        continue
                    if (p.get("status") or {}).get("phase") == "Failed":
                        # A kubelet rejecting the pod would fight us in a hot loop: back off per node.
                        wait = self._failed_backoff(key, name, at)
                        if wait > 0:
                            self.queue.add_after(key, wait)
                            continue
                        pmd = cu.meta(p)
                        self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                            f"Found failed daemon pod {pmd.get('namespace')}/{pmd.get('name')} "
                                            f"on node {name}, will try to kill it")
                        doomed.append(p)
                    else:
                        running.append(p)
                if surge == 0:
                    doomed += du.oldest_first(running)[1:]
                else:
                    # With surge a node may hold its oldest old pod and its oldest new pod.
                    new = du.oldest_first(p for p in running if du.is_updated(p, hash_))
                    old = du.oldest_first(p for p in running if not du.is_updated(p, hash_))
                    doomed += new[1:] + old[1:]
            elif pods and not should_continue:
                doomed += [p for p in pods if not cu.meta(p).get("deletionTimestamp")]
        for node_name, pods in node_pods.items():
            if node_name not in names:
                doomed += [p for p in pods if not cu.meta(p).get("deletionTimestamp")]
        await self._sync_nodes(ds, key, needing, doomed, hash_)

    def _failed_backoff(self, key: str, node: str, at: datetime.datetime) -> float:
        """Seconds still to wait before killing another failed pod of ``key`` on ``node`` (0: go,
        and the next wait doubles: 1 s up to 15 minutes, as Kubernetes' failedPodsBackoff)."""
        t = at.timestamp()
        last, delay = self._failed_pods_backoff.get((key, node), (None, 0.0))
        if last is not None and t - last < delay:
            return delay - (t - last)
        if last is not None and t - last > 2 * FAILED_POD_BACKOFF_MAX:
            delay = 0.0  # long quiet: start over
        nxt = min(FAILED_POD_BACKOFF_MAX, delay * 2 or FAILED_POD_BACKOFF_INITIAL)
        self._failed_pods_backoff[(key, node)] = (t, nxt)
        return 0.0

    async def _sync_nodes(self, ds: typed.DaemonSet, key: str, needing: list[str], doomed: list[typed.Pod],
                          hash_: str) -> None:
        needing = needing[:self.burst_replicas]
        doomed = doomed[:self.burst_replicas]
        self.expectations.set(key, add=len(needing), delete=0)
        if doomed:
            self.expectations.expect_deletions(key, [object_key(p) for p in doomed])
            self.expectations.raise_(key, add=len(needing))
        first_error: Exception | None = None
        if needing:
            it = iter(needing)
            successes, err = await cu.slow_start_batch(len(needing), 1,
                                                       lambda: self._create_pod(ds, next(it), hash_))
            for _ in range(len(needing) - successes):
                self.expectations.creation_observed(key)
            first_error = err
        results = await asyncio.gather(*(self._delete_one(ds, key, p) for p in doomed), return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                first_error = first_error or r
            elif isinstance(r, BaseException):
                raise r
        if first_error is not None:
            raise first_error

    async def _create_pod(self, ds: typed.DaemonSet, node: str, hash_: str) -> None:
        pod = du.pod_for_node(ds, node, hash_)
        try:
            created = await self.client.create(PODS, pod, namespace=cu.meta(ds).get("namespace"))
        except errors.MiniK8sError as e:
            if isinstance(e, errors.Forbidden) and "being terminated" in (e.message or ""):
                return
            self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {rsutil.error_message(e)}")
            raise
        self.recorder.event(ds, NORMAL, "SuccessfulCreate", f"Created pod: {cu.meta(created).get('name')}")

    async def _delete_one(self, ds: typed.DaemonSet, key: str, pod: typed.Pod) -> None:
        md = cu.meta(pod)
        try:
            await self.client.delete(PODS, md["name"], namespace=md.get("namespace"))
        except errors.NotFound:
            self.expectations.deletion_observed(key, object_key(pod))
            return
        except errors.MiniK8sError as e:
            self.expectations.deletion_observed(key, object_key(pod))
            self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {rsutil.error_message(e)}")
            raise
        self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {md['name']}")

    async def _rolling_update(self, ds: typed.DaemonSet, key: str, nodes: list[typed.Node],
                              node_pods: dict[str, list[typed.Pod]], hash_: str, at: datetime.datetime) -> None:
        """Replace old-revision pods within the maxUnavailable / maxSurge budget (update.go)."""
        template = (ds.get("spec") or {}).get("template") or {}
        min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        eligible = [n for n in nodes if du.node_should_run(n, template)[0]]
        surge, max_unavailable = du.surge_and_unavailable(ds, len(eligible))

        def available(p: typed.Pod | None) -> bool:
            return p is not None and cu.is_pod_available(p, min_ready, at)

        doomed: list[typed.Pod] = []
        candidates: list[typed.Pod] = []
        surge_nodes: list[str] = []
        unavailable = surging = 0
        for node in eligible:
            name = cu.meta(node).get("name") or ""
            live = [p for p in node_pods.get(name) or [] if not cu.meta(p).get("deletionTimestamp")
                    and (p.get("status") or {}).get("phase") != "Failed"]
            new = next(iter(du.oldest_first(p for p in live if du.is_updated(p, hash_))), None)
            old = next(iter(du.oldest_first(p for p in live if not du.is_updated(p, hash_))), None)
            if old is None:
                if not available(new):
                    unavailable += 1
                continue
            if surge == 0:
                if not available(old):
                    doomed.append(old)  # already unavailable: replacing it costs nothing
                else:
                    candidates.append(old)
                continue
            if new is None:
                if not available(old):
                    unavailable += 1
                surge_nodes.append(name)
            else:
                surging += 1
                if available(new):
                    doomed.append(old)
        if surge == 0:
            for old in candidates:
                if unavailable >= max_unavailable:
                    break
                doomed.append(old)
                unavailable += 1
            await self._sync_nodes(ds, key, [], doomed, hash_)
        else:
            room = max(0, surge - surging)
            await self._sync_nodes(ds, key, surge_nodes[:room], doomed, hash_)

    async def _update_status(self, ds: typed.DaemonSet, status: typed.DaemonSetStatus) -> None:
        old = ds.get("status") or {}
        generation = cu.meta(ds).get("generation") or 0
        new: typed.DaemonSetStatus = {**status, "observedGeneration": generation}
        if "collisionCount" in old:
            new["collisionCount"] = old["collisionCount"]
        if "conditions" in old:
            new["conditions"] = old["conditions"]
        if all(old.get(k) == v for k, v in new.items()):
            return
        await self.client.update_status(DAEMONSETS, {**ds, "status": new})
