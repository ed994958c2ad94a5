"""The kubelet's container garbage collector: dead containers and sandboxes of gone pods.

Place in the picture: the kubelet's pod teardown (``PodSyncer.terminate``) only stops a deleted
pod's containers and its sandbox, reports the terminal status and lets the pod object go, as
Kubernetes' kubelet does; removing what is left in the runtime is this collector's job, off the
path of every pod start and deletion (Kubernetes' ``kuberuntime_gc.go``, run every minute).

One pass lists the node's sandboxes and containers once and, for every pod uid that the kubelet
neither knows (the pods informer) nor is still working on (a pod worker), removes its containers
that do not run, then its sandboxes that are not ready and hold no running container. The
collector of a kubelet that restarts finds what its predecessor left the same way. Dead
containers of pods that still exist stay: the pod sync keeps the newest attempts for ``kubectl
logs --previous`` and removes older ones itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kubelet.runtime import interface as ri

__all__ = ["ContainerGC", "GC_PERIOD"]

log = logging.getLogger(__name__)

# Kubernetes' ContainerGCPeriod.
GC_PERIOD = 60.0


class ContainerGC:
    def __init__(self, runtime: ri.ContainerRuntime, *, node: str, in_use: Callable[[str], bool],
                 period: float = GC_PERIOD) -> None:
        """``in_use(pod_uid)``: whether the kubelet still knows or handles the pod."""
        self.runtime = runtime
        self.node = node
        self.in_use = in_use
        self.period = period
        self.removed = 0  # containers and sandboxes removed so far (for tests and logs)

    async def collect(self) -> int:
        """One pass; returns how many containers and sandboxes it removed."""
        sandboxes, containers = await self.runtime.list_pod_resources(node=self.node)
        gone = {uid for uid in {s.pod_uid for s in sandboxes} | {c.pod_uid for c in containers}
                if uid and not self.in_use(uid)}
        if not gone:
            return 0
        dead = [c for c in containers if c.pod_uid in gone and c.state is not ri.ContainerState.RUNNING]
        running_in = {c.sandbox_id for c in containers if c.state is ri.ContainerState.RUNNING}
        idle = [s for s in sandboxes if s.pod_uid in gone and s.state is not ri.SandboxState.READY
                and s.id not in running_in]
        # One removal at a time, as Kubernetes' GC: it is in no hurry, and a burst of removals
        # would compete with the pods starting meanwhile. The containers first: a sandbox's
        # removal then finds none left.
        for c in dead:
            await self.runtime.remove_container(c.id)
        for s in idle:
            await self.runtime.remove_pod_sandbox(s.id)
        removed = len(dead) + len(idle)
        self.removed += removed
        log.info("node %s: container GC removed %d container(s) and %d sandbox(es) of %d deleted pod(s)",
                 self.node, len(dead), len(idle), len(gone))
        return removed

    async def run(self) -> None:
        """A pass now (what a previous kubelet left), then every ``period`` seconds."""
        while True:
            try:
                await self.collect()
            except ri.RuntimeError_ as e:
                log.warning("node %s: container GC failed: %s", self.node, e)
            await asyncio.sleep(self.period)
