"""The RollingUpdate strategy of the Deployment controller (Kubernetes' ``rolling.go``).

Each sync takes one step and returns; the ReplicaSet updates it causes bring the next sync:

* scale the new ReplicaSet up as far as ``replicas + maxSurge`` pods in total allow;
* scale old ReplicaSets down as far as ``replicas - maxUnavailable`` available pods allow —
  first their unhealthy (unavailable) pods, then, oldest ReplicaSet first, healthy ones;
* once complete, delete old ReplicaSets beyond revisionHistoryLimit.

A mixin of :class:`controllers.deployment.DeploymentController`, whose scaling and status
methods it calls (declared in :mod:`controllers.deployment_host`).
"""

from __future__ import annotations

from controllers import deployment_utils as du
from controllers.deployment_host import StrategyHost
from minik8s.api.typed import Deployment, ReplicaSet


class RollingStrategy(StrategyHost):
    async def rollout_rolling(self, d: Deployment, rss: list[ReplicaSet]) -> None:
        new, old = await self.get_all_replica_sets(d, rss, create=True)
        scaled_up, new = await self._reconcile_new_replica_set([*old, new], new, d)
        if scaled_up:
            await self.sync_rollout_status([*old, new], new, d)
            return
        scaled_down = await self._reconcile_old_replica_sets([*old, new], du.filter_active(old), new, d)
        if scaled_down:
            await self.sync_rollout_status([*old, new], new, d)
            return
        if du.deployment_complete(d, du.status(d)):
            await self.cleanup_deployment(old, d)
        await self.sync_rollout_status([*old, new], new, d)

    async def _reconcile_new_replica_set(self, all_rss: list[ReplicaSet], new: ReplicaSet, d: Deployment) -> tuple[bool, ReplicaSet]:
        if du.replicas(new) == du.replicas(d):
            return False, new
        if du.replicas(new) > du.replicas(d):
            return await self.scale_replica_set_and_record_event(new, du.replicas(d), d)
        return await self.scale_replica_set_and_record_event(new, du.new_rs_new_replicas(d, all_rss, new), d)

    async def _reconcile_old_replica_sets(self, all_rss: list[ReplicaSet], old: list[ReplicaSet], new: ReplicaSet, d: Deployment) -> bool:
        if du.replica_count(old) == 0:
            return False  # nothing left to scale down
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new) - (du.status(new).get("availableReplicas") or 0)
        # Pods may go only while (all - minAvailable - the new RS's unavailable ones) stays
        # positive: the new RS's unavailable pods may never become available, so they must
        # not be counted on.
        max_scaled_down = du.replica_count(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old, cleaned = await self._cleanup_unhealthy_replicas(old, d, max_scaled_down)
        scaled = await self._scale_down_old_for_rolling_update([*old, new], old, d)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy_replicas(self, old: list[ReplicaSet], d: Deployment, max_cleanup: int) -> tuple[list[ReplicaSet], int]:
        """Scale down old ReplicaSets' unavailable pods first: they serve nobody."""
        old = du.sort_by_creation(old)
        total = 0
        for i, rs in enumerate(old):
            if total >= max_cleanup:
                break
            available = du.status(rs).get("availableReplicas") or 0
            # No unavailable pod to clean up. Status lags spec: an RS just scaled down still
            # counts the available pods it had (available > replicas), and "replicas minus
            # available" would then be a scale *up* of an old ReplicaSet (Kubernetes refuses
            # that request with an error; it has nothing to clean up, so it is skipped here).
            if du.replicas(rs) == 0 or available >= du.replicas(rs):
                continue
            count = min(max_cleanup - total, du.replicas(rs) - available)
            _, old[i] = await self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return old, total

    async def _scale_down_old_for_rolling_update(self, all_rss: list[ReplicaSet], old: list[ReplicaSet], d: Deployment) -> int:
        """Scale old ReplicaSets down, oldest first, keeping minAvailable pods available."""
        min_available = du.replicas(d) - du.max_unavailable(d)
        available = du.available_replica_count(all_rss)
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in du.sort_by_creation(old):
            if total >= budget:
                break
            if du.replicas(rs) == 0:
                continue
            count = min(du.replicas(rs), budget - total)
            await self.scale_replica_set_and_record_event(rs, du.replicas(rs) - count, d)
            total += count
        return total
