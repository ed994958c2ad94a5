"""What the Deployment controller's rollout strategies (``deployment_rolling``,
``deployment_recreate``: Kubernetes' ``rolling.go`` and ``recreate.go``) call on the
:class:`controllers.deployment.DeploymentController` they are mixed into.

:class:`StrategyHost` declares those methods for the type checker only: at run time it is an
empty base, so the controller's own definitions are the ones called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload


class StrategyHost:
    if TYPE_CHECKING:
        @overload
        async def get_all_replica_sets(self, d: dict, rss: list[dict], *,
                                       create: Literal[True]) -> tuple[dict, list[dict]]: ...

        @overload
        async def get_all_replica_sets(self, d: dict, rss: list[dict], *,
                                       create: bool) -> tuple[dict | None, list[dict]]: ...

        async def get_all_replica_sets(self, d: dict, rss: list[dict], *,
                                       create: bool) -> tuple[dict | None, list[dict]]: ...

        async def scale_replica_set_and_record_event(self, rs: dict, new_scale: int,
                                                     d: dict) -> tuple[bool, dict]: ...

        async def cleanup_deployment(self, old: list[dict], d: dict) -> None: ...

        async def sync_rollout_status(self, all_rss: list[dict | None], new: dict | None, d: dict) -> None: ...
