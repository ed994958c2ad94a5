"""The Recreate strategy of the Deployment controller (Kubernetes' ``recreate.go``).

Old ReplicaSets are scaled to 0 first; the new ReplicaSet is created (or scaled up) only once
no pod of an old one is left running — terminating pods included — so old and new pods never
run side by side. A mixin of :class:`controllers.deployment.DeploymentController`.
"""

from __future__ import annotations

from controllers import deployment_utils as du
from controllers.deployment_host import StrategyHost
from minik8s.api.typed import Deployment, Pod, ReplicaSet


class RecreateStrategy(StrategyHost):
    async def rollout_recreate(self, d: Deployment, rss: list[ReplicaSet], pod_map: dict[str, list[Pod]]) -> None:
        new, old = await self.get_all_replica_sets(d, rss, create=False)
        if await self._scale_down_old_for_recreate(du.filter_active(old), d):
            await self.sync_rollout_status([*old, new], new, d)
            return
        if old_pods_running(new, old, pod_map):
            await self.sync_rollout_status([*old, new], new, d)
            return
        if new is None:
            new, old = await self.get_all_replica_sets(d, rss, create=True)
        _, new = await self.scale_replica_set_and_record_event(new, du.replicas(d), d)
        if du.deployment_complete(d, du.status(d)):
            await self.cleanup_deployment(old, d)
        await self.sync_rollout_status([*old, new], new, d)

    async def _scale_down_old_for_recreate(self, old: list[ReplicaSet], d: Deployment) -> bool:
        scaled_any = False
        for rs in old:
            if du.replicas(rs) == 0:
                continue
            scaled, _ = await self.scale_replica_set_and_record_event(rs, 0, d)
            scaled_any = scaled_any or scaled
        return scaled_any


def old_pods_running(new: ReplicaSet | None, old: list[ReplicaSet], pod_map: dict[str, list[Pod]]) -> bool:
    """Any pod of an old ReplicaSet not yet finished (Kubernetes' oldPodsRunning)."""
    if du.actual_replica_count(old) > 0:
        return True
    new_uid = du.uid(new)
    for rs_uid, pods in pod_map.items():
        if new_uid is not None and rs_uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
                continue
            return True
    return False
