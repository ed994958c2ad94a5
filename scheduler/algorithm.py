"""One scheduling cycle: pick a node for a pod, or explain in Kubernetes' words why none fits.

Steps (Kubernetes' ``schedulePod``)::

    pre_filter every filter plugin ──► checks for this pod
    walk the nodes from a rotating start index; a node passes when every check passes;
        stop once ``num_feasible_nodes_to_find`` nodes passed (percentageOfNodesToScore)
    0 feasible  ──► FitError ("0/3 nodes are available: ... preemption: ...")
    1 feasible  ──► that node, unscored
    else        ──► each score plugin × its weight, summed; the highest wins, ties at random

The walk starts where the previous cycle stopped, so every node is examined in turn even though
a big cluster only has part of its nodes looked at per pod.

The algorithm is pure: it reads NodeInfos (the cache's, see :mod:`scheduler.cache`) and changes
nothing. The caller assumes the pod onto the chosen node before the next cycle.

When no node is feasible, the preemption search (:mod:`scheduler.preemption`, Kubernetes'
PostFilter) runs on the same checks: the FitError then carries either the candidate (node and
victims) for the scheduler to act on, or the search's own explanation, appended to the message
as Kubernetes appends it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence

from minik8s.api import typed
from scheduler import preemption
from scheduler.framework import CycleState, FilterPlugin, NodeCheck, NodeInfo, PodInfo, Rejection, ScorePlugin
from scheduler.plugins import (
    BalancedAllocation,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeReady,
    NodeResourcesFit,
    NodeUnschedulable,
    SelectorSpread,
    TaintToleration,
    VolumeBinding,
)

__all__ = [
    "ScheduleResult",
    "SchedulingError",
    "NoNodesAvailableError",
    "FitError",
    "Algorithm",
    "default_algorithm",
    "num_feasible_nodes_to_find",
    "MIN_FEASIBLE_NODES_TO_FIND",
]

# Kubernetes' minFeasibleNodesToFind / minFeasibleNodesPercentageToFind / adaptive base.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
_BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50

NOT_HELPFUL = preemption.NOT_HELPFUL
NO_VICTIMS = preemption.NO_VICTIMS


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleResult:
    node_name: str
    evaluated_nodes: int  # nodes filtered this cycle
    feasible_nodes: int  # of which passed every filter


class SchedulingError(Exception):
    """The pod cannot be placed now; ``str()`` is the message for its event and condition."""


class NoNodesAvailableError(SchedulingError):
    def __init__(self) -> None:
        super().__init__("no nodes available to schedule pods")


def _histogram(reasons: Mapping[str, int]) -> str:
    # Kubernetes sorts the "<count> <reason>" strings themselves, so "10 ..." sorts before "2 ...".
    return ", ".join(sorted(f"{n} {reason}" for reason, n in reasons.items()))


class FitError(SchedulingError):
    """No node passed the filters. ``statuses`` says why each node failed."""

    def __init__(self, *, num_all_nodes: int, statuses: Mapping[str, Rejection], post_filter_msg: str = "",
                 pre_filter_msg: str = "", candidate: preemption.Candidate | None = None) -> None:
        self.num_all_nodes = num_all_nodes
        self.statuses = dict(statuses)
        self.post_filter_msg = post_filter_msg
        self.pre_filter_msg = pre_filter_msg
        #: what preemption found to evict so the pod fits (None: nothing)
        self.candidate = candidate
        super().__init__(self._message())

    @property
    def unschedulable_plugins(self) -> frozenset[str]:
        """The plugins that rejected at least one node (Kubernetes' Diagnosis.UnschedulablePlugins)."""
        return frozenset(r.plugin for r in self.statuses.values() if r.plugin)

    def reason_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rejection in self.statuses.values():
            for reason in rejection.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        return counts

    def _message(self) -> str:
        msg = f"0/{self.num_all_nodes} nodes are available:"
        counts = self.reason_counts()
        if self.pre_filter_msg:
            msg += f" {self.pre_filter_msg}."
        elif counts:
            msg += f" {_histogram(counts)}."
        if self.post_filter_msg:
            msg += f" {self.post_filter_msg}"
        return msg


def num_feasible_nodes_to_find(num_all_nodes: int, percentage_of_nodes_to_score: int = 0) -> int:
    """How many feasible nodes to find before scoring (Kubernetes' numFeasibleNodesToFind).
    ``percentage_of_nodes_to_score`` 0 means adaptive: 50% minus 1% per 125 nodes, at least 5%."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage_of_nodes_to_score >= 100:
        return num_all_nodes
    pct = percentage_of_nodes_to_score
    if pct <= 0:
        pct = max(_BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    """A scheduling profile: filter plugins in order, score plugins with weights."""

    def __init__(
        self,
        *,
        filters: Sequence[FilterPlugin],
        scorers: Sequence[tuple[ScorePlugin, int]],
        percentage_of_nodes_to_score: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self.filters = tuple(filters)
        self.scorers = tuple(scorers)
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self._rng = rng or random.Random()
        self._next_start = 0

    def schedule(self, pod: PodInfo | typed.Pod, nodes: Sequence[NodeInfo], *,
                 nominated_node: str | None = None) -> ScheduleResult:
        """The node for ``pod`` among ``nodes``; raises :class:`SchedulingError` when none fits
        (a :class:`FitError` with the preemption candidate, if any). ``nominated_node``: where
        an earlier preemption nominated the pod."""
        if not isinstance(pod, PodInfo):
            pod = PodInfo(pod)
        n = len(nodes)
        if n == 0:
            raise NoNodesAvailableError()

        state = CycleState()
        checks: list[NodeCheck] = []
        for f in self.filters:
            check = f.pre_filter(state, pod)
            if isinstance(check, Rejection):  # no node can take it: every node fails alike
                statuses = {node.name: check for node in nodes}
                # The search still runs, as Kubernetes' PostFilter does, and finds nothing: the
                # rejection stands on every node.
                found = preemption.find_candidate(pod, nodes, statuses, [*checks, _rejecting(check)])
                raise FitError(num_all_nodes=n, statuses=statuses, pre_filter_msg=check.reasons[0],
                               post_filter_msg=found if isinstance(found, str) else "")
            if check is not None:
                checks.append(check)
        feasible, statuses, processed = self._find_feasible(checks, nodes, num_feasible_nodes_to_find(
            n, self.percentage_of_nodes_to_score))
        self._next_start = (self._next_start + processed) % n

        if not feasible:
            found = preemption.find_candidate(pod, nodes, statuses, checks, nominated_node=nominated_node)
            if isinstance(found, preemption.Candidate):
                raise FitError(num_all_nodes=n, statuses=statuses, candidate=found)
            raise FitError(num_all_nodes=n, statuses=statuses, post_filter_msg=found)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, processed, 1)

        totals: list[int] | None = None
        for plugin, weight in self.scorers:
            scores = plugin.score(state, pod, feasible)
            if scores is None:
                continue
            if totals is None:
                totals = [s * weight for s in scores]
            else:
                totals = [t + s * weight for t, s in zip(totals, scores)]
        if totals is None:
            totals = [0] * len(feasible)
        best = max(totals)
        winners = [i for i, t in enumerate(totals) if t == best]
        chosen = feasible[winners[0] if len(winners) == 1 else self._rng.choice(winners)]
        return ScheduleResult(chosen.name, processed, len(feasible))

    def _find_feasible(
        self, checks: list[NodeCheck], nodes: Sequence[NodeInfo], limit: int,
    ) -> tuple[list[NodeInfo], dict[str, Rejection], int]:
        # Nodes are taken in batches of as many as are still wanted, and each check runs over a
        # whole batch in one comprehension: the same outcome as node-by-node (a node's status is
        # its first failing check, and the walk stops once `limit` nodes passed), with far less
        # interpreter overhead per node. A batch can never overshoot: at most all of it passes.
        # Batches are sliced straight from the node list, wrapping round at its end: no copy of
        # the whole list per pod.
        n = len(nodes)
        start = self._next_start % n
        feasible: list[NodeInfo] = []
        statuses: dict[str, Rejection] = {}
        processed = 0
        while processed < n and len(feasible) < limit:
            lo = (start + processed) % n
            hi = lo + min(limit - len(feasible), n - processed)
            batch = nodes[lo:hi] if hi <= n else [*nodes[lo:], *nodes[:hi - n]]
            processed += len(batch)
            for check in checks:
                results = [check(node) for node in batch]
                if results.count(None) != len(results):
                    passed = []
                    for node, rejection in zip(batch, results):
                        if rejection is None:
                            passed.append(node)
                        else:
                            statuses[node.name] = rejection
                    batch = passed
                    if not batch:
                        break
            feasible.extend(batch)
        return feasible, statuses, processed


def default_algorithm(*, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> Algorithm:
    """Kubernetes' default profile, restricted to the plugins minik8s has: filters in Kubernetes'
    order (NodeReady stands where the not-ready taint would be caught), score weights as in
    Kubernetes (SelectorSpread takes PodTopologySpread's weight, whose job it does)."""
    taints = TaintToleration()
    affinity = NodeAffinity()
    fit = NodeResourcesFit()
    return Algorithm(
        filters=[NodeUnschedulable(), NodeName(), taints, NodeReady(), affinity, NodePorts(), fit, VolumeBinding()],
        scorers=[(taints, 3), (affinity, 2), (fit, 1), (SelectorSpread(), 2), (BalancedAllocation(), 1)],
        percentage_of_nodes_to_score=percentage_of_nodes_to_score,
        rng=rng,
    )


def _rejecting(rejection: Rejection) -> NodeCheck:
    """A node check that rejects every node alike (what a PreFilter rejection means)."""
    return lambda _node: rejection
