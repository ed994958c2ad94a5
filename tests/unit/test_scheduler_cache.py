"""The scheduler cache: incremental totals, assumed pods, confirmations, odd event orders."""

from __future__ import annotations

import copy

import pytest

from scheduler.algorithm import FitError, default_algorithm
from scheduler.cache import SchedulerCache
from scheduler.framework import PodInfo
from tests.unit.scheduler_objects import make_node, make_pod


def bound(pod: dict, node: str) -> dict:
    out = copy.deepcopy(pod)
    out["spec"]["nodeName"] = node
    return out


def test_assumed_pods_prevent_double_booking():
    cache = SchedulerCache()
    cache.add_node(make_node("n1", cpu="2"))
    cache.add_node(make_node("n2", cpu="2"))
    algo = default_algorithm()
    placed = []
    for i in range(4):
        pod = PodInfo(make_pod(f"p{i}", cpu="1"))
        node = algo.schedule(pod, cache.nodes()).node_name
        cache.assume_pod(pod, node)  # the watch has not shown the binding yet
        placed.append(node)
    assert sorted(placed) == ["n1", "n1", "n2", "n2"]
    with pytest.raises(FitError, match="2 Insufficient cpu"):
        algo.schedule(make_pod("p4", cpu="1"), cache.nodes())


def test_watch_confirms_assumption_without_counting_twice():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    pod = make_pod("p", cpu="1", memory="1Gi")
    info = cache.assume_pod(pod, "n1")
    assert cache.is_assumed(info.key)
    # A status update from before the binding landed must not undo the assumption.
    cache.update_pod(pod)
    assert cache.is_assumed(info.key)
    cache.add_pod(bound(pod, "n1"))
    assert not cache.is_assumed(info.key)
    n1 = cache.node("n1")
    assert (n1.req_cpu, n1.req_mem, len(n1.pods)) == (1000, 1024 ** 3, 1)
    cache.forget_pod(info.key)  # too late to forget: it is bound
    assert len(n1.pods) == 1


def test_forget_releases_an_assumed_pod():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    info = cache.assume_pod(make_pod("p", cpu="1", host_ports=[8080]), "n1")
    cache.forget_pod(info.key)
    n1 = cache.node("n1")
    assert (n1.req_cpu, n1.nz_cpu, n1.used_ports, n1.pods) == (0, 0, {}, {})
    assert len(cache) == 0


def test_pod_bound_elsewhere_than_assumed_moves():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    pod = make_pod("p", cpu="1")
    cache.assume_pod(pod, "n1")
    cache.add_pod(bound(pod, "n2"))
    assert cache.node("n1").req_cpu == 0
    assert cache.node("n2").req_cpu == 1000


def test_update_replaces_totals():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    pod = bound(make_pod("p", cpu="1"), "n1")
    cache.add_pod(pod)
    bigger = copy.deepcopy(pod)
    bigger["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3"
    cache.update_pod(bigger)
    assert cache.node("n1").req_cpu == 3000


def test_finished_and_deleted_pods_release_resources():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    a = bound(make_pod("a", cpu="1"), "n1")
    b = bound(make_pod("b", cpu="1"), "n1")
    cache.add_pod(a)
    cache.add_pod(b)
    done = copy.deepcopy(a)
    done["status"]["phase"] = "Succeeded"
    cache.update_pod(done)
    cache.remove_pod(b)
    assert (cache.node("n1").req_cpu, len(cache)) == (0, 0)


def test_pods_seen_before_their_node_are_counted_when_it_arrives():
    cache = SchedulerCache()
    cache.add_pod(bound(make_pod("a", cpu="3"), "late"))
    assert cache.nodes() == []
    cache.add_node(make_node("late", cpu="4"))
    assert [n.name for n in cache.nodes()] == ["late"]
    with pytest.raises(FitError, match="1 Insufficient cpu"):
        default_algorithm().schedule(make_pod("p", cpu="2"), cache.nodes())


def test_removed_node_is_offered_no_more():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.add_node(make_node("n2"))
    pod = bound(make_pod("a", cpu="1"), "n1")
    cache.add_pod(pod)
    cache.remove_node("n1")
    assert [n.name for n in cache.nodes()] == ["n2"]
    assert cache.node("n1") is not None  # kept while its pod is known
    cache.remove_pod(pod)
    assert cache.node("n1") is None
    cache.remove_node("n2")
    assert cache.nodes() == [] and cache.node("n2") is None


def test_node_update_changes_what_filters_see():
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    cache.update_node(make_node("n1", unschedulable=True))
    assert len(cache.nodes()) == 1
    with pytest.raises(FitError, match="1 node\\(s\\) were unschedulable"):
        default_algorithm().schedule(make_pod("p"), cache.nodes())


def test_node_info_add_and_remove_are_exact_inverses():
    from scheduler.framework import NodeInfo

    info = NodeInfo("n", make_node("n", extra={"example.com/gpu": "4"}))
    pods = [
        make_pod("a", cpu="1", memory="1Gi", owner_uid="rs-1", host_ports=[80]),
        make_pod("b", owner_uid="rs-1", host_ports=[80]),
        make_pod("c", containers=[{"name": "c", "image": "x",
                                   "resources": {"requests": {"example.com/gpu": "2", "ephemeral-storage": "1Gi"}}}]),
    ]
    infos = [PodInfo(p) for p in pods]
    for p in infos:
        info.add_pod(p)
    assert (info.req_cpu, info.req_scalars, info.spread_counts) == (1000, {"example.com/gpu": 2}, {"rs-1": 2})
    assert info.used_ports == {("TCP", 80): {"0.0.0.0": 2}}
    info.add_pod(infos[0])  # re-adding the same pod replaces it, never counts it twice
    assert info.req_cpu == 1000 and len(info.pods) == 3
    for p in infos:
        info.remove_pod(p.key)
    assert (info.req_cpu, info.req_mem, info.req_eph, info.nz_cpu, info.nz_mem) == (0, 0, 0, 0, 0)
    assert (info.req_scalars, info.used_ports, info.spread_counts, info.pods) == ({}, {}, {}, {})
