"""The node lifecycle controller: notices nodes whose kubelet went silent, taints them, and
evicts the pods that do not tolerate the taint.

As Kubernetes' ``pkg/controller/nodelifecycle`` with its taint-based eviction
(``pkg/controller/tainteviction``), keyed by node name. ``sync(name)``:

1. **Health.** The kubelet proves it is alive by renewing its Lease in ``kube-node-lease``
   (and by posting status). The controller remembers, on its own monotonic clock, when it last
   saw either change (never trusting the kubelet's clock); a node silent for longer than
   ``node_monitor_grace_period`` (``node_startup_grace_period`` if it never posted Ready) gets
   its kubelet conditions set to Unknown (reason NodeStatusUnknown, "Kubelet stopped posting
   node status."). Otherwise the node is looked at again when the grace period would run out.
2. **Transitions.** Ready going from True to anything else records NodeNotReady and marks the
   node's pods not Ready (so endpoints drop them); back to True records NodeReady.
3. **Taints** follow the conditions: ``node.kubernetes.io/unreachable:NoExecute`` for Ready
   Unknown, ``not-ready:NoExecute`` for Ready False, and the NoSchedule taints of
   TaintNodesByCondition; they go when the condition goes.
4. **Eviction.** Pods on a node with NoExecute taints are deleted once their toleration runs
   out (at once if a taint is not tolerated; never if tolerated without tolerationSeconds),
   counting from the taint's timeAdded. Pods that say nothing about not-ready/unreachable get
   ``default_*_toleration_seconds``, as the DefaultTolerationSeconds admission plugin would
   give them. Each eviction records TaintManagerEviction on the pod; its ReplicaSet replaces
   it elsewhere.

Zone-aware eviction rate limiting (partial and full disruption) is not done: every node is
treated as one healthy zone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from typing import Any

from controllers import controller_utils as cu
from controllers import nodelifecycle_utils as nu
from controllers.base import Controller, tombstone_safe
from minik8s import errors, timestamps
from minik8s.api import typed
from minik8s.api.resources import LEASES, NODES, PODS
from minik8s.api.typed import Node, Pod, Taint
from minik8s.client import cache
from minik8s.client.events import NORMAL, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"


@dataclasses.dataclass
class NodeHealth:
    """What the controller last saw of one node, on its own clock."""

    probe_time: float                    # monotonic time the kubelet was last seen alive
    lease_renew_time: str | None = None
    heartbeat: str | None = None         # Ready's lastHeartbeatTime
    ready: str | None = None             # Ready's status at the last sync
    first_tainted: dict[str, datetime.datetime] = dataclasses.field(default_factory=dict)


class NodeLifecycleController(Controller):
    name = "nodelifecycle"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 node_monitor_grace_period: float = 40.0, node_startup_grace_period: float = 60.0,
                 default_not_ready_toleration_seconds: int = 300,
                 default_unreachable_toleration_seconds: int = 300, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="node-controller")
        self.monitor_grace = node_monitor_grace_period
        self.startup_grace = node_startup_grace_period
        self.not_ready_seconds = default_not_ready_toleration_seconds
        self.unreachable_seconds = default_unreachable_toleration_seconds
        self._health: dict[str, NodeHealth] = {}
        self.node_informer = informers.informer(NODES)
        self.lease_informer = informers.informer(LEASES, namespace=LEASE_NAMESPACE)
        self.pod_informer = informers.informer(PODS, indexers={cache.NODE_NAME_INDEX: cache.node_name_index})
        self.informers = [self.node_informer, self.lease_informer, self.pod_informer]
        self.node_informer.add_handler(on_add=self.enqueue, on_update=self._on_update, on_delete=self._on_delete)
        self.lease_informer.add_handler(on_add=self._on_lease, on_update=lambda old, cur: self._on_lease(cur))
        self.pod_informer.add_handler(on_add=self._on_pod, on_update=lambda old, cur: self._on_pod(cur))

    # -- handlers ----------------------------------------------------------------------------

    def _on_update(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if cu.meta(old).get("resourceVersion") != cu.meta(cur).get("resourceVersion"):
            self.enqueue(cur)

    def _on_delete(self, node: dict[str, Any] | None) -> None:
        node = tombstone_safe(node)
        if node is not None:
            self.enqueue(node)

    def _on_lease(self, lease: dict[str, Any]) -> None:
        self.enqueue_key(cu.meta(lease)["name"])  # a node's Lease is named after it

    def _on_pod(self, obj: dict[str, Any]) -> None:
        # A pod landing on (or changing on) a node with NoExecute taints may have to go.
        pod = typed.pod(obj)
        name = (pod.get("spec") or {}).get("nodeName")
        if not name or cu.meta(pod).get("deletionTimestamp"):
            return
        node = self.node_informer.store.get(name)
        if node is not None and _no_execute_taints(typed.node(node)):
            self.enqueue_key(name)

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.node_informer.store.get(key)
        if cached is None:
            if self._health.pop(key, None) is not None:
                self.recorder.event({"kind": "Node", "apiVersion": "v1", "metadata": {"name": key}}, NORMAL,
                                    "RemovingNodeFromService", f"Removing Node {key} from Controller")
            return
        node = _with_kind(typed.node(cached))
        health = self._observe(key, node)
        node = await self._monitor(key, node, health)
        await self._transitions(key, node, health)
        node = await self._update_taints(key, node)
        await self._evict(key, node, health)

    def _observe(self, key: str, node: Node) -> NodeHealth:
        """Move the node's probe time on if its Lease or its status heartbeat changed."""
        now = time.monotonic()
        cached_lease = self.lease_informer.store.get(f"{LEASE_NAMESPACE}/{key}")
        lease = typed.lease(cached_lease) if cached_lease is not None else None
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        ready = nu.condition(node, "Ready")
        heartbeat = (ready or {}).get("lastHeartbeatTime")
        health = self._health.get(key)
        if health is None:
            # First sight (or a controller restart): the node gets a full grace period.
            health = self._health[key] = NodeHealth(now, renew, heartbeat, nu.ready_status(node))
            self.recorder.event(node, NORMAL, "RegisteredNode",
                                f"Node {key} event: Registered Node {key} in Controller")
        elif renew != health.lease_renew_time or heartbeat != health.heartbeat:
            health.probe_time, health.lease_renew_time, health.heartbeat = now, renew, heartbeat
        return health

    async def _monitor(self, key: str, node: Node, health: NodeHealth) -> Node:
        grace = self.startup_grace if nu.condition(node, "Ready") is None else self.monitor_grace
        silent = time.monotonic() - health.probe_time
        if silent <= grace:
            self.queue.add_after(key, grace - silent + 0.05)
            return node
        changed = nu.unknown_conditions(node, at=timestamps.format_time(cu.now()))
        if not changed:
            return node
        log.info("nodelifecycle: node %s silent for %.1fs (grace %.1fs): conditions Unknown", key, silent, grace)
        patch = {"metadata": {"resourceVersion": cu.meta(node)["resourceVersion"]},
                 "status": {"conditions": changed}}
        await self.client.patch(NODES, key, patch, patch_type="strategic", subresource="status")
        # Read it back: the taint write below must compare-and-swap on the newest version.
        return _with_kind(typed.node(await self.client.get(NODES, key)))

    async def _transitions(self, key: str, node: Node, health: NodeHealth) -> None:
        ready = nu.ready_status(node)
        was = health.ready
        health.ready = ready
        if ready != "True":
            if was == "True":
                self.recorder.event(node, NORMAL, "NodeNotReady", f"Node {key} status is now: NodeNotReady")
            await self._mark_pods_not_ready(key)
        elif was is not None and was != "True":
            self.recorder.event(node, NORMAL, "NodeReady", f"Node {key} status is now: NodeReady")

    async def _mark_pods_not_ready(self, key: str) -> None:
        at = timestamps.format_time(cu.now())
        pods = [p for p in self.pod_informer.store.by_index(cache.NODE_NAME_INDEX, key) if cu.is_pod_ready(typed.pod(p))]
        results = await asyncio.gather(*(
            self.client.patch(PODS, cu.meta(p)["name"],
                              {"status": {"conditions": [{"type": "Ready", "status": "False",
                                                          "lastTransitionTime": at}]}},
                              namespace=cu.meta(p).get("namespace"), patch_type="strategic", subresource="status")
            for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, errors.MiniK8sError) and not isinstance(r, errors.NotFound):
                raise r

    async def _update_taints(self, key: str, node: Node) -> Node:
        taints = nu.desired_taints(node, at=timestamps.format_time(cu.now()))
        if taints is None:
            return node
        added = {t.get("key", "") for t in taints} - {t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []}
        removed = {t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []} - {t.get("key", "") for t in taints}
        log.info("nodelifecycle: node %s taints +%s -%s", key, sorted(added), sorted(removed))
        patch = {"metadata": {"resourceVersion": cu.meta(node)["resourceVersion"]},
                 "spec": {"taints": taints or None}}
        await self.client.patch(NODES, key, patch)
        return {**node, "spec": {**(node.get("spec") or {}), "taints": taints}}

    async def _evict(self, key: str, node: Node, health: NodeHealth) -> None:
        taints = _no_execute_taints(node)
        if not taints:
            health.first_tainted.clear()
            return
        now = cu.now()
        for t in taints:
            health.first_tainted.setdefault(t["key"], now)
        first_seen = min(health.first_tainted.values())
        recheck: float | None = None
        victims: list[Pod] = []
        for pod in self.pod_informer.store.by_index(cache.NODE_NAME_INDEX, key):
            if cu.meta(pod).get("deletionTimestamp"):
                continue
            tols = nu.effective_tolerations(typed.pod(pod), not_ready_seconds=self.not_ready_seconds,
                                            unreachable_seconds=self.unreachable_seconds)
            seconds = nu.toleration_seconds(tols, taints)
            if seconds is None:
                continue  # tolerates these taints forever
            left = (nu.eviction_deadline(taints, seconds, first_seen=first_seen) - now).total_seconds()
            if left <= 0:
                victims.append(typed.pod(pod))
            else:
                recheck = left if recheck is None else min(recheck, left)
        results = await asyncio.gather(*(self._delete_pod(p) for p in victims), return_exceptions=True)
        if recheck is not None:
            self.queue.add_after(key, recheck + 0.05)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _delete_pod(self, pod: Pod) -> None:
        md = cu.meta(pod)
        ref = f"{md.get('namespace')}/{md['name']}"
        log.info("nodelifecycle: evicting pod %s from node %s", ref, (pod.get("spec") or {}).get("nodeName"))
        self.recorder.event({**pod, "kind": "Pod", "apiVersion": "v1"}, NORMAL, "TaintManagerEviction",
                            f"Marking for deletion Pod {ref}")
        try:
            await self.client.delete(PODS, md["name"], namespace=md.get("namespace"),
                                     preconditions={"uid": md.get("uid")})
        except (errors.NotFound, errors.Conflict):
            pass  # gone already, or a new pod took the name


def _no_execute_taints(node: Node) -> list[Taint]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == nu.NO_EXECUTE]


def _with_kind(node: Node) -> Node:
    return {**node, "kind": NODES.kind, "apiVersion": NODES.api_version}
