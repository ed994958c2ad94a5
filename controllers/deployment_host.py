"""What the Deployment controller's rollout strategies (``deployment_rolling``,
``deployment_recreate``: Kubernetes' ``rolling.go`` and ``recreate.go``) need from the
:class:`controllers.deployment.DeploymentController` they are mixed into.

For the type checker :class:`StrategyHost` is a :class:`typing.Protocol` stating those needs:
the strategies subclass it, so mypy knows what ``self`` offers them, and the controller (which
subclasses the strategies) must define each method with a compatible signature, checked as an
override. At run time it is an empty class: a Protocol in a base list would put
``Protocol.__init__`` in the controller's MRO before :class:`controllers.base.Controller`, whose
``__init__`` the controller's ``super().__init__()`` would then never reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, overload

from minik8s.api.typed import Deployment, ReplicaSet

if TYPE_CHECKING:
    class StrategyHost(Protocol):
        @overload
        async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                       create: Literal[True]) -> tuple[ReplicaSet, list[ReplicaSet]]: ...

        @overload
        async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                       create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]: ...

        async def get_all_replica_sets(self, d: Deployment, rss: list[ReplicaSet], *,
                                       create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
            """(the new ReplicaSet or None, all the old ones); the new one made with ``create``."""

        async def scale_replica_set_and_record_event(self, rs: ReplicaSet, new_scale: int,
                                                     d: Deployment) -> tuple[bool, ReplicaSet]:
            """(whether it was scaled, the ReplicaSet as updated)."""

        async def cleanup_deployment(self, old: list[ReplicaSet], d: Deployment) -> None:
            """Delete the idle old ReplicaSets beyond revisionHistoryLimit."""

        async def sync_rollout_status(self, all_rss: list[ReplicaSet | None], new: ReplicaSet | None,
                                      d: Deployment) -> None:
            """Write the status, with the Progressing condition, that the ReplicaSets imply."""
else:
    class StrategyHost:
        """The strategies' base at run time: empty (see the module docstring)."""
