"""Each filter and score plugin on its own, against Kubernetes' rules and reason strings."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.framework import CycleState, NodeInfo, PodInfo, Rejection
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
)
from tests.unit.scheduler_objects import container, expr, make_node, make_pod, required_affinity


def node_info(node: dict[str, Any], *pods: dict[str, Any]) -> NodeInfo:
    info = NodeInfo(node["metadata"]["name"], node)
    for p in pods:
        info.add_pod(PodInfo(p))
    return info


def run_filter(plugin: Any, pod: dict[str, Any], node: dict[str, Any], *on_node: dict[str, Any]) -> Rejection | None:
    check = plugin.pre_filter(CycleState(), PodInfo(pod))
    return None if check is None else check(node_info(node, *on_node))


def reasons(r: Rejection | None) -> tuple[str, ...] | None:
    return None if r is None else r.reasons


def score(plugin: Any, pod: dict[str, Any], *nodes: NodeInfo) -> list[int] | None:
    return plugin.score(CycleState(), PodInfo(pod), list(nodes))


# -- NodeUnschedulable -------------------------------------------------------------------------

def test_unschedulable_node_is_rejected():
    r = run_filter(NodeUnschedulable(), make_pod("p"), make_node("n", unschedulable=True))
    assert reasons(r) == ("node(s) were unschedulable",)
    assert not r.resolvable
    assert run_filter(NodeUnschedulable(), make_pod("p"), make_node("n")) is None


def test_pod_tolerating_unschedulable_taint_may_use_cordoned_node():
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
    assert run_filter(NodeUnschedulable(), make_pod("p", tolerations=tol), make_node("n", unschedulable=True)) is None


# -- NodeName ----------------------------------------------------------------------------------

def test_node_name():
    pod = make_pod("p", node_name="n1")
    assert reasons(run_filter(NodeName(), pod, make_node("n2"))) == ("node(s) didn't match the requested node name",)
    assert run_filter(NodeName(), pod, make_node("n1")) is None
    assert NodeName().pre_filter(CycleState(), PodInfo(make_pod("q"))) is None


# -- TaintToleration ---------------------------------------------------------------------------

GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def test_untolerated_taint_is_named():
    r = run_filter(TaintToleration(), make_pod("p"), make_node("n", taints=[GPU]))
    assert reasons(r) == ("node(s) had untolerated taint {dedicated: gpu}",)
    assert not r.resolvable


@pytest.mark.parametrize("tol, ok", [
    ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "value": "gpu"}, True),  # operator defaults to Equal, effect "" = any
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),  # empty key + Exists tolerates everything
    ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, False),
    ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
])
def test_toleration_rules(tol, ok):
    r = run_filter(TaintToleration(), make_pod("p", tolerations=[tol]), make_node("n", taints=[GPU]))
    assert (r is None) is ok


def test_first_untolerated_hard_taint_is_reported_and_prefer_is_ignored():
    taints = [
        {"key": "soft", "value": "x", "effect": "PreferNoSchedule"},
        {"key": "a", "value": "1", "effect": "NoSchedule"},
        {"key": "b", "value": "", "effect": "NoExecute"},
    ]
    pod = make_pod("p", tolerations=[{"key": "a", "operator": "Exists"}])
    assert reasons(run_filter(TaintToleration(), pod, make_node("n", taints=taints))) == (
        "node(s) had untolerated taint {b: }",)


def test_prefer_no_schedule_score():
    def soft(k):
        return {"key": k, "value": "", "effect": "PreferNoSchedule"}
    n0 = node_info(make_node("n0"))
    n1 = node_info(make_node("n1", taints=[soft("x")]))
    n2 = node_info(make_node("n2", taints=[soft("x"), soft("y")]))
    assert score(TaintToleration(), make_pod("p"), n0, n1, n2) == [100, 50, 0]
    tolerant = make_pod("p", tolerations=[{"operator": "Exists", "effect": "PreferNoSchedule"}])
    assert score(TaintToleration(), tolerant, n0, n1, n2) == [100, 100, 100]
    # A NoSchedule-only toleration does not count against PreferNoSchedule taints.
    hard_only = make_pod("p", tolerations=[{"key": "x", "operator": "Exists", "effect": "NoSchedule"}])
    assert score(TaintToleration(), hard_only, n0, n1, n2) == [100, 50, 0]


# -- NodeReady ---------------------------------------------------------------------------------

def test_not_ready_and_unreachable_nodes():
    assert reasons(run_filter(NodeReady(), make_pod("p"), make_node("n", ready="False"))) == (
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }",)
    assert reasons(run_filter(NodeReady(), make_pod("p"), make_node("n", ready="Unknown"))) == (
        "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",)
    assert run_filter(NodeReady(), make_pod("p"), make_node("n", ready="True")) is None
    assert run_filter(NodeReady(), make_pod("p"), make_node("n", ready=None)) is None
    tol = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]
    assert run_filter(NodeReady(), make_pod("p", tolerations=tol), make_node("n", ready="False")) is None


# -- NodeAffinity ------------------------------------------------------------------------------

AFFINITY_REASON = ("node(s) didn't match Pod's node affinity/selector",)
ZONE_A = make_node("a", labels={"zone": "a", "gen": "5"})
ZONE_B = make_node("b", labels={"zone": "b"})


def fits(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    r = run_filter(NodeAffinity(), pod, node)
    assert r is None or r.reasons == AFFINITY_REASON
    return r is None


def test_node_selector():
    pod = make_pod("p", node_selector={"zone": "a"})
    assert fits(pod, ZONE_A) and not fits(pod, ZONE_B)
    assert NodeAffinity().pre_filter(CycleState(), PodInfo(make_pod("q"))) is None


@pytest.mark.parametrize("requirement, on_a, on_b", [
    (expr("zone", "In", "a", "c"), True, False),
    (expr("zone", "NotIn", "a"), False, True),
    (expr("gen", "NotIn", "4"), True, True),  # missing label satisfies NotIn
    (expr("gen", "Exists"), True, False),
    (expr("gen", "DoesNotExist"), False, True),
    (expr("gen", "Gt", "4"), True, False),
    (expr("gen", "Gt", "5"), False, False),
    (expr("gen", "Lt", "6"), True, False),
    (expr("zone", "Gt", "1"), False, False),  # non-integer label never matches
    (expr("gen", "Gt", "x"), False, False),  # malformed term matches nothing
    (expr("gen", "In"), False, False),  # In without values is malformed
])
def test_label_operators(requirement, on_a, on_b):
    pod = make_pod("p", affinity=required_affinity({"matchExpressions": [requirement]}))
    assert (fits(pod, ZONE_A), fits(pod, ZONE_B)) == (on_a, on_b)


def test_terms_are_ored_and_requirements_anded():
    both = {"matchExpressions": [expr("zone", "In", "a"), expr("gen", "Exists")]}
    impossible = {"matchExpressions": [expr("zone", "In", "b"), expr("gen", "Exists")]}
    pod = make_pod("p", affinity=required_affinity(impossible, both))
    assert fits(pod, ZONE_A) and not fits(pod, ZONE_B)
    assert not fits(make_pod("p", affinity=required_affinity(impossible)), ZONE_B)


def test_empty_term_matches_nothing():
    pod = make_pod("p", affinity=required_affinity({}))
    assert not fits(pod, ZONE_A) and not fits(pod, ZONE_B)


def test_match_fields_on_node_name():
    pod = make_pod("p", affinity=required_affinity({"matchFields": [expr("metadata.name", "In", "b")]}))
    assert not fits(pod, ZONE_A) and fits(pod, ZONE_B)


def test_node_selector_and_affinity_must_both_hold():
    pod = make_pod("p", node_selector={"zone": "a"},
                   affinity=required_affinity({"matchExpressions": [expr("gen", "DoesNotExist")]}))
    assert not fits(pod, ZONE_A) and not fits(pod, ZONE_B)


def test_preferred_terms_score():
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 30, "preference": {"matchExpressions": [expr("zone", "In", "a")]}},
        {"weight": 10, "preference": {"matchExpressions": [expr("zone", "Exists")]}},
    ]}}
    plain = node_info(make_node("c"))
    assert score(NodeAffinity(), make_pod("p", affinity=pref), node_info(ZONE_A), node_info(ZONE_B), plain) == [
        100, 25, 0]
    assert score(NodeAffinity(), make_pod("q"), plain) is None


# -- NodePorts ---------------------------------------------------------------------------------

PORTS_REASON = ("node(s) didn't have free ports for the requested pod ports",)


def with_port(name: str, port: int, *, ip: str | None = None, protocol: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"containerPort": port, "hostPort": port}
    if ip:
        p["hostIP"] = ip
    if protocol:
        p["protocol"] = protocol
    return make_pod(name, containers=[{"name": "c", "image": "x", "ports": [p]}])


@pytest.mark.parametrize("taken, wanted, clash", [
    (with_port("a", 80), with_port("b", 80), True),
    (with_port("a", 80), with_port("b", 81), False),
    (with_port("a", 53, protocol="UDP"), with_port("b", 53), False),
    (with_port("a", 80, ip="10.0.0.1"), with_port("b", 80, ip="10.0.0.2"), False),
    (with_port("a", 80, ip="10.0.0.1"), with_port("b", 80), True),
    (with_port("a", 80), with_port("b", 80, ip="10.0.0.2"), True),
])
def test_host_port_conflicts(taken, wanted, clash):
    r = run_filter(NodePorts(), wanted, make_node("n"), taken)
    assert reasons(r) == (PORTS_REASON if clash else None)
    assert r is None or r.resolvable


def test_port_freed_when_pod_leaves():
    taken = with_port("a", 80)
    info = node_info(make_node("n"), taken)
    info.remove_pod(PodInfo(taken).key)
    check = NodePorts().pre_filter(CycleState(), PodInfo(with_port("b", 80)))
    assert check(info) is None


# -- NodeResourcesFit --------------------------------------------------------------------------

def test_insufficient_resources_are_all_reported():
    node = make_node("n", cpu="2", memory="1Gi")
    r = run_filter(NodeResourcesFit(), make_pod("p", cpu="1500m", memory="600Mi"), node,
                   make_pod("q", cpu="1", memory="512Mi"))
    assert reasons(r) == ("Insufficient cpu", "Insufficient memory")
    assert r.resolvable
    assert run_filter(NodeResourcesFit(), make_pod("p", cpu="1", memory="512Mi"), node,
                      make_pod("q", cpu="1", memory="512Mi")) is None


def test_too_many_pods_applies_even_without_requests():
    node = make_node("n", pods=1)
    assert reasons(run_filter(NodeResourcesFit(), make_pod("p"), node, make_pod("q"))) == ("Too many pods",)
    assert run_filter(NodeResourcesFit(), make_pod("p"), node) is None


def test_pod_without_requests_fits_a_full_node():
    node = make_node("n", cpu="1")
    assert run_filter(NodeResourcesFit(), make_pod("p"), node, make_pod("q", cpu="1")) is None


def test_extended_resource():
    pod = make_pod("p", containers=[container(cpu="100m", **{"example.com/gpu": "1"})])
    assert reasons(run_filter(NodeResourcesFit(), pod, make_node("n"))) == ("Insufficient example.com/gpu",)
    assert run_filter(NodeResourcesFit(), pod, make_node("n", extra={"example.com/gpu": "1"})) is None


def test_least_allocated_score():
    empty = node_info(make_node("a", cpu="4", memory="8Gi"))
    half = node_info(make_node("b", cpu="4", memory="8Gi"), make_pod("q", cpu="2", memory="4Gi"))
    pod = make_pod("p", cpu="1", memory="2Gi")
    # empty: cpu (4000-1000)/4000 = 75, memory (8-2)/8 = 75; half: 25 and 25.
    assert score(NodeResourcesFit(), pod, empty, half) == [75, 25]


def test_least_allocated_counts_pods_without_requests_by_defaults():
    busy = node_info(make_node("a", cpu="1", memory="1Gi"), *[make_pod(f"q{i}") for i in range(5)])
    idle = node_info(make_node("b", cpu="1", memory="1Gi"))
    s = score(NodeResourcesFit(), make_pod("p"), busy, idle)
    assert s[0] < s[1]


def test_balanced_allocation_score():
    node = node_info(make_node("n", cpu="4", memory="8Gi"))
    # cpu 1/4 = .25, memory 1/8 = .125: std .0625 -> 93
    assert score(BalancedAllocation(), make_pod("p", cpu="1", memory="1Gi"), node) == [93]
    assert score(BalancedAllocation(), make_pod("p", cpu="2", memory="4Gi"), node) == [100]
    # Best-effort pods are not scored by it at all.
    assert score(BalancedAllocation(), make_pod("p"), node) is None


# -- SelectorSpread ----------------------------------------------------------------------------

def test_spread_prefers_nodes_with_fewer_siblings():
    def sib(n):
        return make_pod(n, owner_uid="rs-1")
    n0 = node_info(make_node("n0"), sib("a"), sib("b"))
    n1 = node_info(make_node("n1"), sib("c"), make_pod("other", owner_uid="rs-2"))
    n2 = node_info(make_node("n2"))
    assert score(SelectorSpread(), make_pod("p", owner_uid="rs-1"), n0, n1, n2) == [0, 50, 100]
    assert score(SelectorSpread(), make_pod("p", owner_uid="rs-3"), n0, n1, n2) == [100, 100, 100]
    assert score(SelectorSpread(), make_pod("p"), n0) is None


def test_spread_weighs_zones():
    def sib(n):
        return make_pod(n, owner_uid="rs-1")
    def zone(z):
        return {"topology.kubernetes.io/zone": z}
    a1 = node_info(make_node("a1", labels=zone("a")), sib("x"))
    a2 = node_info(make_node("a2", labels=zone("a")))
    b1 = node_info(make_node("b1", labels=zone("b")))
    s = score(SelectorSpread(), make_pod("p", owner_uid="rs-1"), a1, a2, b1)
    # a2 is empty but its zone is not: the empty zone's node wins.
    assert s == [0, 33, 100]


def test_terminating_pods_do_not_count_for_spread():
    dying = make_pod("a", owner_uid="rs-1")
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    n0 = node_info(make_node("n0"), dying)
    n1 = node_info(make_node("n1"), make_pod("b", owner_uid="rs-1"))
    assert score(SelectorSpread(), make_pod("p", owner_uid="rs-1"), n0, n1) == [100, 0]
