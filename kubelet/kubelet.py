"""One node's kubelet: the pieces wired together for one node name.

The picture::

    pods informer (fieldSelector spec.nodeName=<node>) ─┐
    PLEG: the runtime's event stream (relist 300 s), ───┼─> PodWorkers ──> sync(uid)
          or a relist every second (kubelet/pleg.py)    │      (one task per pod uid)
    probe results ──────────────────────────────────────┘
                                                                 │
              PodSyncer.sync(pod) / terminate(uid) <─────────────┘
                 ├─ runtime (sandbox + containers)      ├─ StatusWriter (pods/{name}/status)
                 └─ EventRecorder                       └─ ProbeManager
    NodeAgent: Node registration, status, Lease heartbeat
    ContainerGC: every minute, removes the stopped containers and sandboxes of deleted pods

Start-up is restart-safe: after the informer's first list, every pod uid found in the runtime
under this node's label gets a worker: a known pod's worker adopts its containers, any other
is torn down. Handlers only mark pods dirty; all work happens in the workers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from kubelet import hostinfo
from kubelet.config import KubeletConfig
from kubelet.container_gc import ContainerGC
from kubelet.hollownet import HollowPodNetwork
from kubelet.localpath import LocalPathVolumes
from kubelet.netservices import NetworkOptions, NodeNetworkServices
from kubelet.node import NodeAgent
from kubelet.objects import ObjectManager
from kubelet.pleg import Pleg
from kubelet.pod_workers import DONE, PodWorkers, SyncResult
from kubelet.probes import ProbeManager
from kubelet.runtime import interface as ri
from kubelet.status import StatusWriter
from kubelet.sync import NodeFacts, PodSyncer
from kubelet.tokens import TokenManager
from minik8s import errors, taskgroup
from minik8s.api import typed
from minik8s.api.resources import PODS
from minik8s.client.events import EventRecorder
from minik8s.client.informer import AddHandler, DeleteHandler, Informer, UpdateHandler
from minik8s.client.rest import ApiClient

__all__ = ["Kubelet"]

log = logging.getLogger(__name__)


def _uid(pod: typed.Pod) -> str:
    return pod["metadata"]["uid"]


def _key(pod: typed.Pod) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace')}/{md['name']}"


class Kubelet:
    def __init__(self, config: KubeletConfig, *, node_name: str, client: ApiClient, runtime: ri.ContainerRuntime,
                 runtime_name: str, host_ip: str, host: hostinfo.HostInfo, objects: ObjectManager | None = None) -> None:
        """``objects``: the ConfigMap/Secret manager, shared by the nodes of one client (else one of its own)."""
        self.config = config
        self.node_name = node_name
        self.client = client
        self.runtime = runtime
        self._pods: dict[str, typed.Pod] = {}  # uid -> the pod as last seen
        self._uid_by_key: dict[str, str] = {}
        # Deleted pods whose teardown is done and confirmed, until the informer says they are gone:
        # a sync of one meanwhile (a runtime event during its teardown) writes nothing for it.
        self._torn_down: set[str] = set()
        self.informer = Informer(client, PODS, field_selector=f"spec.nodeName={node_name}")
        self.recorder = EventRecorder(client, component="kubelet", host=node_name)
        self.workers = PodWorkers(self._sync, resync=config.sync_frequency, name=node_name)
        self.probes = ProbeManager(runtime, recorder=self.recorder, on_change=self.workers.update)
        self.pleg = Pleg(runtime, node=node_name, on_change=self._on_runtime_change,
                         relist_period=config.relist_period, evented=config.evented_pleg,
                         evented_relist_period=config.evented_relist_period)
        self.agent = NodeAgent(client, runtime, config, node_name=node_name, host_ip=host_ip, host=host)
        # Pod network, proxy, cluster DNS and service env: real nodes only (netservices.py).
        self.net = NodeNetworkServices(client, runtime, node_name=node_name, options=NetworkOptions(
            cluster_cidr=config.cluster_cidr, cluster_dns=config.cluster_dns, cluster_domain=config.cluster_domain,
            proxy=not config.disable_proxy, dns=not config.disable_dns,
            runtime_default_network=config.runtime_default_network)) if runtime_name == "docker" else None
        if self.net is not None:
            self.agent.network_status = self.net.network_status
            self.net.on_status_change = self.agent.poke
        # local-path volumes of this node's disk: real nodes only, as the pod network.
        self.local_path = LocalPathVolumes(client, node_name=node_name, node_root=config.node_root(node_name)) \
            if runtime_name == "docker" else None
        self.syncer = PodSyncer(
            node=NodeFacts(name=node_name, host_ip=host_ip, root=config.node_root(node_name)),
            runtime=runtime, client=client, recorder=self.recorder, probes=self.probes,
            writer=StatusWriter(client), runtime_name=runtime_name, net=self.net, tokens=TokenManager(client),
            objects=objects if objects is not None else ObjectManager(client),
            pod_network=HollowPodNetwork(client, runtime, node_name=node_name, agent=self.agent)
            if runtime_name == "fake" else None)
        self.gc = ContainerGC(runtime, node=node_name, in_use=self._pod_in_use, period=config.container_gc_period)
        self._tasks: list[asyncio.Task[None]] = []

    def _pod_in_use(self, uid: str) -> bool:
        """Whether the pod is known or still being worked on: its containers are not garbage."""
        return uid in self._pods or uid in self.workers

    # --- what the node server asks ----------------------------------------------------------

    def find_pod(self, namespace: str, name: str) -> typed.Pod | None:
        uid = self._uid_by_key.get(f"{namespace}/{name}")
        return self._pods.get(uid) if uid else None

    def pods(self) -> list[typed.Pod]:
        return list(self._pods.values())

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        await self.agent.register()
        if self.net is not None:
            self._tasks.append(asyncio.create_task(self.net.run(), name=f"network {self.node_name}"))
        if self.local_path is not None:
            self._tasks.append(asyncio.create_task(self.local_path.run(), name=f"local-path {self.node_name}"))
        self.syncer.node.allocatable = self.agent.allocatable_numbers()
        # The pods informer's objects are Pods as the apiserver sent them: its handlers take them
        # typed, cast once here rather than per event (the handlers run for every pod change).
        self.informer.add_handler(on_add=cast(AddHandler, self._on_add), on_update=cast(UpdateHandler, self._on_update),
                                  on_delete=cast(DeleteHandler, self._on_delete))
        self._tasks.append(asyncio.create_task(self.informer.run(), name=f"pods informer {self.node_name}"))
        self._tasks.append(asyncio.create_task(self.agent.run(), name=f"node agent {self.node_name}"))
        await self.informer.wait_synced()
        log.info("node %s: %d pod(s) bound here; adopting what the runtime runs", self.node_name, len(self._pods))
        await self.pleg.relist()
        if self.config.relist_period > 0:
            self._tasks.append(asyncio.create_task(self.pleg.run(), name=f"pleg {self.node_name}"))
        self._tasks.append(asyncio.create_task(self.gc.run(), name=f"container gc {self.node_name}"))
        await asyncio.gather(*self._tasks)

    async def close(self) -> None:
        await taskgroup.cancel_and_wait(self._tasks)
        await self.workers.close()
        await self.probes.close()
        await self.recorder.close()

    # --- informer handlers: remember and mark dirty, nothing else ---------------------------

    def _on_add(self, pod: typed.Pod) -> None:
        self._remember(pod)
        self.workers.update(_uid(pod))

    def _on_update(self, old: typed.Pod, new: typed.Pod) -> None:
        self._remember(new)
        om, nm = old.get("metadata") or {}, new.get("metadata") or {}
        # Our own status writes come back here: they need no sync.
        if (old.get("spec") != new.get("spec") or om.get("deletionTimestamp") != nm.get("deletionTimestamp")
                or om.get("uid") != nm.get("uid") or om.get("labels") != nm.get("labels")
                or om.get("annotations") != nm.get("annotations") or _uid(new) not in self.workers):
            self.workers.update(_uid(new))

    def _on_delete(self, pod: typed.Pod) -> None:
        uid = _uid(pod)
        self._pods.pop(uid, None)
        self._torn_down.discard(uid)
        if self._uid_by_key.get(_key(pod)) == uid:
            del self._uid_by_key[_key(pod)]
        self.workers.update(uid)

    def _remember(self, pod: typed.Pod) -> None:
        self._pods[_uid(pod)] = pod
        self._uid_by_key[_key(pod)] = _uid(pod)

    # --- the pod lifecycle event generator's handler: mark dirty, nothing else ---------------

    def _on_runtime_change(self, uid: str) -> None:
        """A pod's containers changed in the runtime: sync it if we know it, and start a
        worker for what belongs to no pod we know (it tears the leftovers down)."""
        if uid in self._pods or uid not in self.workers:
            self.workers.update(uid)

    # --- one pod ----------------------------------------------------------------------------

    async def _sync(self, uid: str) -> SyncResult:
        pod = self._pods.get(uid)
        if pod is None or uid in self._torn_down:
            # Gone, or torn down already with the apiserver told (its deletion may not have come
            # back yet): only what the runtime still holds of it goes; no status is written, since
            # the name may be a new pod's by now (Kubernetes' pod workers skip terminated pods).
            await self.syncer.terminate(uid, None)
            return DONE
        if pod["metadata"].get("deletionTimestamp"):
            await self.syncer.terminate(uid, pod)
            await self._confirm_delete(pod)
            if uid in self._pods:  # not if its deletion came back already
                self._torn_down.add(uid)
            return DONE
        return await self.syncer.sync(pod)

    async def _confirm_delete(self, pod: typed.Pod) -> None:
        """Everything of the pod is gone: tell the apiserver it may forget the pod now."""
        md = pod["metadata"]
        try:
            await self.client.delete(PODS, md["name"], namespace=md["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": md["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass  # already gone, or a new pod of the same name: not ours to delete
