"""The scheduler process's core: informers in, bindings out.

Picture::

    node informer ──► cache (NodeInfos)          ─┐
    pod informer ─┬─► assigned pods ──► cache      ├─► cycle: pop ─► algorithm.schedule(cache)
                  └─► pending pods ──► queue  ─────┘      │ fits: cache.assume_pod ─► binder pool
                                                          │        POST pods/{name}/binding
                                                          └ FitError: queue.add_unschedulable,
                                                            PodScheduled=False, FailedScheduling

* One pod informer (phase neither Succeeded nor Failed, as kube-scheduler's) feeds both sides:
  a pod without ``spec.nodeName`` whose ``schedulerName`` is ours waits in the
  :class:`~scheduler.queue.SchedulingQueue`; a pod with one counts on its node in the
  :class:`~scheduler.cache.SchedulerCache`. Node and pod events that free room or change a
  node wake the unschedulable pods they could help.
* The cycle runs without awaiting between pop and assume, so it sees one consistent cache.
  Binding is asynchronous: up to ``bind_workers`` bindings are in flight while the next
  cycles run on a cache that already counts the assumed pods, so nothing is double-booked.
  A failed binding forgets the assumption and requeues the pod with backoff.
* Events (``Scheduled``, ``FailedScheduling``) go through the fire-and-forget
  :class:`~minik8s.client.events.EventRecorder`; the PodScheduled=False status patch is written
  in the background, and only when the condition it carries changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import NODES, PODS
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import AddHandler, DeleteHandler, SharedInformerFactory, UpdateHandler
from minik8s.client.rest import ApiClient
from minik8s.timestamps import now_rfc3339
from scheduler import metrics as scheduler_metrics
from scheduler import queue as q
from scheduler.algorithm import Algorithm, FitError, SchedulingError, default_algorithm
from scheduler.cache import SchedulerCache
from scheduler.framework import NodeInfo, PodInfo, pod_key
from scheduler.nominator import Nominator
from scheduler.plugins import volume_binding
from scheduler.volumes import PreBindError, VolumeListers

__all__ = ["Scheduler", "DEFAULT_SCHEDULER_NAME", "POD_FIELD_SELECTOR"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"
# kube-scheduler's pod informer: finished pods hold nothing and need nothing.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
DEFAULT_BIND_WORKERS = 64
_TERMINAL = ("Succeeded", "Failed")


def _ref(pod: typed.Pod) -> dict[str, Any]:
    """What an Event needs of its pod (the watch may omit kind and apiVersion)."""
    return {"kind": "Pod", "apiVersion": "v1", "metadata": pod.get("metadata") or {}}


def _unschedulable_condition(pod: typed.Pod, message: str) -> dict[str, Any] | None:
    """The PodScheduled condition to write, or None when the pod already carries it."""
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "PodScheduled":
            if (cond.get("status"), cond.get("reason"), cond.get("message")) == ("False", "Unschedulable", message):
                return None
            # The transition time moves only when the status itself changes (Kubernetes'
            # UpdatePodCondition).
            since = cond.get("lastTransitionTime") if cond.get("status") == "False" else None
            break
    else:
        since = None
    return {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": None, "lastTransitionTime": since or now_rfc3339()}


def _same_placement(old: typed.Pod, new: typed.Pod) -> bool:
    """Whether an assigned pod's update leaves what the cache derives from it (requests, ports,
    owner, terminating or finished) as it was, so the update need not be parsed again."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (
        old.get("spec") == new.get("spec")
        and om.get("deletionTimestamp") == nm.get("deletionTimestamp")
        and om.get("ownerReferences") == nm.get("ownerReferences")
        and (new.get("status") or {}).get("phase") not in _TERMINAL
    )


class Scheduler:
    """Watches pods and nodes through ``factory`` and binds pending pods with ``client``."""

    def __init__(
        self,
        client: ApiClient,
        *,
        factory: SharedInformerFactory | None = None,
        algorithm: Algorithm | None = None,
        scheduler_name: str = DEFAULT_SCHEDULER_NAME,
        bind_workers: int = DEFAULT_BIND_WORKERS,
        recorder: EventRecorder | None = None,
        queue: q.SchedulingQueue | None = None,
    ) -> None:
        if bind_workers < 1:
            raise ValueError("bind_workers must be at least 1")
        self.client = client
        self.scheduler_name = scheduler_name
        self.algorithm = algorithm or default_algorithm()
        self.cache = SchedulerCache()
        self.queue = queue or q.SchedulingQueue()
        scheduler_metrics.watch_queue(self.queue)
        # A Scheduled event per binding: as many writers as bindings in flight keep up with them.
        self.recorder = recorder or EventRecorder(client, component=scheduler_name, writers=bind_workers)
        self.bind_workers = bind_workers
        self.factory = factory or SharedInformerFactory(client)
        self.node_informer = self.factory.informer(NODES)
        self.pod_informer = self.factory.informer(PODS, field_selector=POD_FIELD_SELECTOR)
        # The handlers take typed views (typed.Node, typed.Pod), cast once here rather than per
        # event: the informers' stores hold the apiserver's dicts.
        self.node_informer.add_handler(on_add=cast(AddHandler, self._node_added),
                                       on_update=cast(UpdateHandler, self._node_updated),
                                       on_delete=cast(DeleteHandler, self._node_deleted))
        self.pod_informer.add_handler(on_add=cast(AddHandler, self._pod_added),
                                      on_update=cast(UpdateHandler, self._pod_updated),
                                      on_delete=cast(DeleteHandler, self._pod_deleted))
        # Claims, volumes and classes for the VolumeBinding plugin; their changes wake pods
        # that failed on volumes.
        self.volumes = VolumeListers(self.factory, pods=self.pod_informer,
                                     on_change=lambda: self.queue.move_all_to_active_or_backoff(q.VOLUME_CHANGE))
        volume_binding.attach(self.algorithm.filters, self.volumes)
        self._binders: asyncio.Semaphore | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.nominator = Nominator()
        self.scheduled = 0  # pods bound by this scheduler (for logs and benchmarks)

    # -- running ------------------------------------------------------------------------------

    async def start_informers(self, *, timeout: float | None = None) -> bool:
        """Start the watches and wait for their first lists (False on timeout)."""
        self.factory.start()
        return await self.factory.wait_for_sync(timeout=timeout)

    async def run(self) -> None:
        """Schedule until cancelled. Informers must be running (``start_informers``)."""
        await self.factory.wait_for_sync()
        self._binders = asyncio.Semaphore(self.bind_workers)
        self.queue.start()
        log.info("scheduling: %d node(s), %d pending pod(s) queued", len(self.cache.nodes()), len(self.queue))
        try:
            while True:
                qpi = await self.queue.pop()
                await self._binders.acquire()
                try:
                    self.schedule_one(qpi)
                except BaseException:
                    self._binders.release()
                    raise
                # A cycle that found its pod at once has not yielded: let the informers and
                # binders in before the next one.
                await asyncio.sleep(0)
        finally:
            self.queue.close()

    async def close(self) -> None:
        """Stop informers, wait for bindings and status writes in flight, flush events."""
        await self.factory.shutdown()
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        await self.recorder.close()

    # -- one cycle ----------------------------------------------------------------------------

    def schedule_one(self, qpi: q.QueuedPodInfo) -> None:
        """Place one popped pod. Holds one binder slot, which the binding (or this) releases."""
        pod = qpi.pod
        md = pod.get("metadata") or {}
        if md.get("deletionTimestamp") or (pod.get("spec") or {}).get("nodeName"):
            # Being deleted, or bound meanwhile: nothing to do (Kubernetes' skipPodSchedule).
            self.queue.done(qpi.key)
            self._release_binder()
            return
        start = time.perf_counter()
        nodes: Sequence[NodeInfo] = self.cache.nodes()
        if self.nominator:  # room reserved by preemption for pods at least as important
            nodes = self.nominator.reserve(nodes, qpi.info)
        try:
            result = self.algorithm.schedule(qpi.info, nodes, nominated_node=self.nominator.node_of(qpi.key))
        except SchedulingError as e:
            self._release_binder()
            self._attempt(scheduler_metrics.UNSCHEDULABLE if isinstance(e, FitError) else scheduler_metrics.ERROR,
                          start)
            if isinstance(e, FitError) and e.candidate is not None:
                self._preempt(qpi, e.candidate)
            self._unschedulable(qpi, e)
            return
        except Exception:
            self._release_binder()
            self._attempt(scheduler_metrics.ERROR, start)
            log.exception("scheduling %s/%s failed", qpi.info.namespace, qpi.info.name)
            self.queue.add_backoff(qpi)
            return
        self.nominator.remove(qpi.key)
        self.cache.assume_pod(qpi.info, result.node_name)
        self._spawn(self._bind(qpi, result.node_name, start))

    def _attempt(self, result: str, start: float) -> None:
        scheduler_metrics.attempt(result, self.scheduler_name, time.perf_counter() - start)

    def _preempt(self, qpi: q.QueuedPodInfo, candidate: Any) -> None:
        """Nominate the candidate node for the pod and evict its victims (Kubernetes'
        prepareCandidate): each victim is marked DisruptionTarget, gets a ``Preempted`` event
        and is deleted gracefully; lower-priority pods nominated to that node lose it."""
        pod = qpi.pod
        md = pod.get("metadata") or {}
        node = candidate.node_name
        log.info("%s/%s preempts %d pod(s) on %s: %s", md.get("namespace"), md.get("name"),
                 len(candidate.victims), node, ", ".join(f"{v.namespace}/{v.name}" for v in candidate.victims))
        for ns, name in self.nominator.add(qpi.info, node):
            self._spawn(self._patch_status(ns, name, {"nominatedNodeName": None}))
        for victim in candidate.victims:
            self.recorder.event(_ref(victim.pod), NORMAL, "Preempted",
                                f"Preempted by pod {md.get('uid')} on node {node}")
            self._spawn(self._evict(victim))

    async def _evict(self, victim: PodInfo) -> None:
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                     "message": f"{self.scheduler_name}: preempting to accommodate a higher priority pod",
                     "lastTransitionTime": now_rfc3339()}
        await self._patch_status(victim.namespace, victim.name, {"conditions": [condition]})
        try:
            await self.client.delete(PODS, victim.name, namespace=victim.namespace)
        except errors.NotFound:
            pass
        except errors.MiniK8sError as e:
            log.warning("could not preempt pod %s/%s: %s", victim.namespace, victim.name, e)

    async def _patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            await self.client.patch(PODS, name, {"status": status}, namespace=namespace, patch_type="strategic",
                                    subresource="status")
        except errors.NotFound:
            pass
        except errors.MiniK8sError as e:
            log.warning("could not update status of pod %s/%s: %s", namespace, name, e)

    def _unschedulable(self, qpi: q.QueuedPodInfo, err: SchedulingError) -> None:
        plugins = err.unschedulable_plugins if isinstance(err, FitError) else frozenset()
        self.queue.add_unschedulable(qpi, plugins)
        message = str(err)
        pod = qpi.pod
        md = pod.get("metadata") or {}
        log.info("%s/%s is unschedulable: %s", md.get("namespace"), md.get("name"), message)
        self.recorder.event(_ref(pod), WARNING, "FailedScheduling", message)
        condition = _unschedulable_condition(pod, message)
        nominated = self.nominator.node_of(qpi.key)
        status: dict[str, Any] = {}
        if condition is not None:
            # Strategic merge: conditions merge by type, so the kubelet's own conditions stay.
            status["conditions"] = [condition]
        if nominated and (pod.get("status") or {}).get("nominatedNodeName") != nominated:
            status["nominatedNodeName"] = nominated
        if status:
            self._spawn(self._patch_status(md["namespace"], md["name"], status))

    async def _bind(self, qpi: q.QueuedPodInfo, node_name: str, start: float | None = None) -> None:
        start = time.perf_counter() if start is None else start
        info = qpi.info
        binding: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.key},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        if not (qpi.pod.get("metadata") or {}).get("uid"):
            del binding["metadata"]["uid"]
        try:
            await self.volumes.pre_bind(self.client, qpi.pod, node_name)
        except PreBindError as e:
            self._release_binder()
            self.cache.forget_pod(info.key)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
            self.recorder.event(_ref(qpi.pod), WARNING, "FailedScheduling",
                                f'running PreBind plugin "VolumeBinding": {e}')
            self._attempt(scheduler_metrics.ERROR, start)
            self.queue.add_backoff(qpi)
            return
        except BaseException:
            self._release_binder()
            self.cache.forget_pod(info.key)
            raise
        try:
            await self.client.create_subresource(PODS, info.name, "binding", binding, namespace=info.namespace)
        except errors.MiniK8sError as e:
            self._release_binder()
            self.cache.forget_pod(info.key)
            # The room it held is free again: pods waiting for room may fit now.
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
            self._attempt(scheduler_metrics.ERROR, start)
            if isinstance(e, errors.NotFound):
                self.queue.done(info.key)
                return
            log.warning("binding %s/%s to %s failed: %s", info.namespace, info.name, node_name, e)
            self.recorder.event(_ref(qpi.pod), WARNING, "FailedScheduling", f"Binding rejected: {e}")
            self.queue.add_backoff(qpi)
            return
        except BaseException:
            self._release_binder()
            self.cache.forget_pod(info.key)
            raise
        self._release_binder()
        self.queue.done(info.key)
        self.scheduled += 1
        self._attempt(scheduler_metrics.SCHEDULED, start)
        log.debug("bound %s/%s to %s", info.namespace, info.name, node_name)
        self.recorder.event(_ref(qpi.pod), NORMAL, "Scheduled",
                            f"Successfully assigned {info.namespace}/{info.name} to {node_name}")

    def _release_binder(self) -> None:
        if self._binders is not None:
            self._binders.release()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- informer handlers --------------------------------------------------------------------

    def _responsible(self, pod: typed.Pod) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.scheduler_name

    def _node_added(self, node: typed.Node) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(q.NODE_ADD)

    def _node_updated(self, old: typed.Node, new: typed.Node) -> None:
        self.cache.update_node(new)
        event = q.node_update_event(old, new)
        if event is not None:
            self.queue.move_all_to_active_or_backoff(event)

    def _node_deleted(self, node: typed.Node) -> None:
        self.cache.remove_node((node.get("metadata") or {}).get("name") or "")

    def _pod_added(self, pod: typed.Pod) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.add_pod(pod)
        elif self._responsible(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: typed.Pod, new: typed.Pod) -> None:
        if (new.get("spec") or {}).get("nodeName"):
            if not (old.get("spec") or {}).get("nodeName"):
                self.queue.delete(new)  # bound (by us or anyone): no longer pending
                self.nominator.remove(pod_key(new))
            elif _same_placement(old, new):
                return  # a kubelet status report: nothing the cache counts has changed
            self.cache.update_pod(new)
            if (new.get("status") or {}).get("phase") in _TERMINAL:
                self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
        elif self._responsible(new):
            # A pod in flight (binding) is only remembered in this newer form, never requeued.
            self.queue.update(new)
        else:
            self.queue.delete(new)  # handed to another scheduler

    def _pod_deleted(self, pod: typed.Pod) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE)
        else:
            self.queue.delete(pod)
            self.nominator.remove(pod_key(pod))
            # An assumed pod whose binding is still in flight will fail it and be forgotten.
