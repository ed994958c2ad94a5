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

from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

if TYPE_CHECKING:
    class StrategyHost(Protocol):
        @overload
        async def get_all_replica_sets(self, d: dict[str, Any], rss: list[dict[str, Any]], *,
                                       create: Literal[True]) -> tuple[dict[str, Any], list[dict[str, Any]]]: ...

        @overload
        async def get_all_replica_sets(self, d: dict[str, Any], rss: list[dict[str, Any]], *,
                                       create: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]: ...

        async def get_all_replica_sets(self, d: dict[str, Any], rss: list[dict[str, Any]], *,
                                       create: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            """(the new ReplicaSet or None, all the old ones); the new one made with ``create``."""

        async def scale_replica_set_and_record_event(self, rs: dict[str, Any], new_scale: int,
                                                     d: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
            """(whether it was scaled, the ReplicaSet as updated)."""

        async def cleanup_deployment(self, old: list[dict[str, Any]], d: dict[str, Any]) -> None:
            """Delete the idle old ReplicaSets beyond revisionHistoryLimit."""

        async def sync_rollout_status(self, all_rss: list[dict[str, Any] | None], new: dict[str, Any] | None,
                                      d: dict[str, Any]) -> None:
            """Write the status, with the Progressing condition, that the ReplicaSets imply."""
else:
    class StrategyHost:
        """The strategies' base at run time: empty (see the module docstring)."""
