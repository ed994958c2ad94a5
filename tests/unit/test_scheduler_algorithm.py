"""Whole scheduling cycles: the FitError message, spreading, scoring weights, node sampling."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from scheduler.algorithm import (
    FitError,
    NoNodesAvailableError,
    default_algorithm,
    num_feasible_nodes_to_find,
)
from scheduler.cache import SchedulerCache
from scheduler.framework import PodInfo
from tests.unit.scheduler_objects import expr, make_node, make_pod, required_affinity


def cluster(*nodes: dict) -> SchedulerCache:
    cache = SchedulerCache()
    for n in nodes:
        cache.add_node(n)
    return cache


def test_fit_error_message_for_a_mix_of_reasons():
    cache = cluster(
        make_node("n1", labels={"disk": "hdd"}),
        make_node("n2", cpu="1", labels={"disk": "ssd"}),
        make_node("n3", cpu="1", labels={"disk": "ssd"}),
    )
    pod = make_pod("p", cpu="2", node_selector={"disk": "ssd"})
    with pytest.raises(FitError) as err:
        default_algorithm().schedule(pod, cache.nodes())
    assert str(err.value) == (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )
    assert err.value.unschedulable_plugins == {"NodeAffinity", "NodeResourcesFit"}


def test_fit_error_counts_every_reason_of_a_node_and_sorts_as_strings():
    nodes = [make_node(f"n{i:02}", cpu="1", memory="1Gi") for i in range(10)]
    nodes += [make_node("t1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
              make_node("t2", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]),
              make_node("u", unschedulable=True)]
    pod = make_pod("p", cpu="2", memory="2Gi")
    with pytest.raises(FitError) as err:
        default_algorithm().schedule(pod, cluster(*nodes).nodes())
    # Kubernetes sorts the "<count> <reason>" strings byte-wise: "1 n" < "10 I" < "2 n".
    assert str(err.value) == (
        "0/13 nodes are available: 1 node(s) were unschedulable, 10 Insufficient cpu, "
        "10 Insufficient memory, 2 node(s) had untolerated taint {k: v}. "
        "preemption: 0/13 nodes are available: 10 No preemption victims found for incoming pod, "
        "3 Preemption is not helpful for scheduling."
    )


def test_fit_error_only_unresolvable_reasons():
    cache = cluster(make_node("n1", ready="False"), make_node("n2", unschedulable=True))
    with pytest.raises(FitError) as err:
        default_algorithm().schedule(make_pod("p"), cache.nodes())
    assert str(err.value) == (
        "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
        "1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_fit_error_when_pod_may_not_preempt():
    pod = make_pod("p", cpu="8", preemptionPolicy="Never")
    with pytest.raises(FitError) as err:
        default_algorithm().schedule(pod, cluster(make_node("n1")).nodes())
    assert str(err.value) == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    )


def test_no_nodes():
    with pytest.raises(NoNodesAvailableError, match="^no nodes available to schedule pods$"):
        default_algorithm().schedule(make_pod("p"), [])


def test_the_only_feasible_node_is_chosen():
    cache = cluster(make_node("a", cpu="1"), make_node("b", cpu="8"), make_node("c", cpu="1"))
    result = default_algorithm().schedule(make_pod("p", cpu="2"), cache.nodes())
    assert result.node_name == "b"
    assert (result.evaluated_nodes, result.feasible_nodes) == (3, 1)


def test_replicas_spread_across_nodes():
    cache = cluster(*[make_node(f"n{i}") for i in range(4)])
    algo = default_algorithm(rng=random.Random(1))
    for i in range(8):
        pod = PodInfo(make_pod(f"r{i}", cpu="100m", memory="64Mi", owner_uid="rs-1"))
        cache.assume_pod(pod, algo.schedule(pod, cache.nodes()).node_name)
    assert sorted(len(n.pods) for n in cache.nodes()) == [2, 2, 2, 2]


def test_emptier_node_wins():
    cache = cluster(make_node("busy"), make_node("idle"))
    cache.assume_pod(make_pod("q", cpu="3", memory="6Gi"), "busy")
    assert default_algorithm().schedule(make_pod("p", cpu="500m", memory="1Gi"), cache.nodes()).node_name == "idle"


def test_taint_weight_beats_resources():
    # PreferNoSchedule (weight 3) outweighs a small resource difference (weights 1 + 1).
    cache = cluster(make_node("soft", taints=[{"key": "k", "value": "", "effect": "PreferNoSchedule"}]),
                    make_node("clean"))
    cache.assume_pod(make_pod("q", cpu="1", memory="1Gi"), "clean")
    assert default_algorithm().schedule(make_pod("p", cpu="100m", memory="128Mi"), cache.nodes()).node_name == "clean"


def test_preferred_affinity_steers_placement():
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [expr("zone", "In", "b")]}}]}}
    cache = cluster(make_node("a", labels={"zone": "a"}), make_node("b", labels={"zone": "b"}))
    cache.assume_pod(make_pod("q", cpu="1", memory="1Gi"), "b")
    assert default_algorithm().schedule(make_pod("p", cpu="100m", affinity=pref), cache.nodes()).node_name == "b"


def test_required_affinity_limits_choice():
    pod = make_pod("p", affinity=required_affinity({"matchExpressions": [expr("zone", "NotIn", "a")]}))
    cache = cluster(make_node("a", labels={"zone": "a"}), make_node("b", labels={"zone": "b"}))
    assert {default_algorithm().schedule(pod, cache.nodes()).node_name for _ in range(20)} == {"b"}


def test_ties_are_broken_at_random():
    cache = cluster(*[make_node(f"n{i}") for i in range(3)])
    algo = default_algorithm(rng=random.Random(7))
    picks = Counter(algo.schedule(make_pod("p", cpu="1"), cache.nodes()).node_name for _ in range(300))
    assert set(picks) == {"n0", "n1", "n2"}


@pytest.mark.parametrize("nodes, pct, expected", [
    (50, 0, 50),  # small clusters: every node
    (1000, 0, 420),  # adaptive: 50% - 1000/125 = 42%
    (5000, 0, 500),  # 50 - 40 = 10%
    (6000, 0, 300),  # 50 - 48 = 2% -> raised to 5%
    (1000, 5, 100),  # never fewer than 100
    (1000, 100, 1000),
])
def test_num_feasible_nodes_to_find(nodes, pct, expected):
    assert num_feasible_nodes_to_find(nodes, pct) == expected


def test_large_cluster_evaluates_a_share_and_rotates_the_start():
    cache = cluster(*[make_node(f"n{i:03}") for i in range(200)])
    algo = default_algorithm()
    # 200 nodes: 48% is 96, raised to the minimum of 100 feasible nodes.
    first = algo.schedule(make_pod("p1"), cache.nodes())
    assert (first.evaluated_nodes, first.feasible_nodes) == (100, 100)
    assert first.node_name < "n100"
    # The next cycle starts where this one stopped.
    second = algo.schedule(make_pod("p2"), cache.nodes())
    assert second.node_name >= "n100"
    third = algo.schedule(make_pod("p3"), cache.nodes())
    assert third.node_name < "n100"


def test_window_skips_infeasible_nodes():
    nodes = [make_node(f"n{i:03}", cpu="1") for i in range(150)] + [make_node("big", cpu="64")]
    cache = cluster(*nodes)
    result = default_algorithm().schedule(make_pod("p", cpu="2"), cache.nodes())
    assert result.node_name == "big"
    assert result.evaluated_nodes == 151


def test_a_pre_filter_rejection_fails_every_node_with_one_message() -> None:
    from scheduler.algorithm import Algorithm, FitError
    from scheduler.framework import NodeInfo, Rejection

    class NoClaim:
        name = "VolumeBinding"

        def pre_filter(self, state, pod):
            return Rejection(('persistentvolumeclaim "x" not found',), plugin=self.name)

    nodes = [NodeInfo("a", {"metadata": {"name": "a"}}), NodeInfo("b", {"metadata": {"name": "b"}})]
    algo = Algorithm(filters=[NoClaim()], scorers=[])
    try:
        algo.schedule({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": []}}, nodes)
    except FitError as e:
        assert str(e) == ('0/2 nodes are available: persistentvolumeclaim "x" not found. '
                          "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
        assert e.unschedulable_plugins == {"VolumeBinding"}
    else:
        raise AssertionError("no FitError")
