"""Preemption's victim search and node choice (Kubernetes' DefaultPreemption), and the
nominator that holds the room a preemption freed."""

from __future__ import annotations

import pytest

from scheduler.algorithm import FitError, default_algorithm
from scheduler.cache import SchedulerCache
from scheduler.framework import PodInfo
from scheduler.nominator import Nominator
from tests.unit.scheduler_objects import make_node, make_pod


def cluster(*nodes: dict, pods: tuple[dict, ...] = ()) -> SchedulerCache:
    cache = SchedulerCache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(p)
    return cache


def bound(name: str, node: str, cpu: str, priority: int, start: str = "2026-01-01T00:00:00Z") -> dict:
    pod = make_pod(name, cpu=cpu, node_name=node, priority=priority, phase="Running")
    pod["status"]["startTime"] = start
    return pod


def victims(err: FitError) -> list[str]:
    assert err.candidate is not None
    return sorted(v.name for v in err.candidate.victims)


def test_high_priority_pod_preempts_the_low_one_on_a_full_node():
    cache = cluster(make_node("n1", cpu="1"), pods=(bound("low", "n1", "800m", 0),))
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("high", cpu="500m", priority=1000), cache.nodes())
    assert e.value.candidate.node_name == "n1" and victims(e.value) == ["low"]
    # No "preemption:" part: the search found what to do (as Kubernetes' message then reads).
    assert str(e.value) == "0/1 nodes are available: 1 Insufficient cpu."


def test_no_lower_priority_pod_means_no_victims_found():
    cache = cluster(make_node("n1", cpu="1"), make_node("n2", cpu="1", unschedulable=True),
                    pods=(bound("same", "n1", "800m", 1000),))
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("p", cpu="500m", priority=1000), cache.nodes())
    assert e.value.candidate is None
    assert str(e.value).endswith("preemption: 0/2 nodes are available: 1 No preemption victims found for "
                                 "incoming pod, 1 Preemption is not helpful for scheduling.")


def test_victims_that_would_not_make_room_are_not_a_candidate():
    # Evicting the low pod frees 300m, the pod needs 900m beside the equal-priority one.
    cache = cluster(make_node("n1", cpu="1"),
                    pods=(bound("low", "n1", "300m", 0), bound("peer", "n1", "600m", 500)))
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("p", cpu="900m", priority=500), cache.nodes())
    assert e.value.candidate is None and "1 No preemption victims found" in str(e.value)


def test_fewest_victims_with_reprieve_most_important_first():
    cache = cluster(make_node("n1", cpu="2"), pods=(
        bound("a", "n1", "500m", 10), bound("b", "n1", "500m", 5), bound("c", "n1", "900m", 1)))
    # All three off, then back most important first: a fits beside p (1600m), b would not
    # (2100m), c would not (2500m): b and c go.
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("p", cpu="1100m", priority=100), cache.nodes())
    assert victims(e.value) == ["b", "c"]


def test_node_choice_lowest_highest_victim_then_fewest():
    cache = cluster(make_node("n1", cpu="1"), make_node("n2", cpu="1"), make_node("n3", cpu="1"), pods=(
        bound("n1-mid", "n1", "800m", 50),
        bound("n2-low1", "n2", "300m", 1), bound("n2-low2", "n2", "300m", 1), bound("n2-low3", "n2", "300m", 1),
        bound("n3-low", "n3", "800m", 1)))
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("p", cpu="500m", priority=100), cache.nodes())
    # n2 and n3 both have highest victim priority 1; n2 needs two victims, n3 one: less to sum.
    assert e.value.candidate.node_name == "n3" and victims(e.value) == ["n3-low"]


def test_never_policy_and_terminating_victims_on_the_nominated_node():
    low = bound("low", "n1", "800m", 0)
    cache = cluster(make_node("n1", cpu="1"), pods=(low,))
    never = make_pod("never", cpu="500m", priority=1000, preemptionPolicy="Never")
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(never, cache.nodes())
    assert e.value.candidate is None and str(e.value).endswith(
        "preemption: not eligible due to preemptionPolicy=Never.")
    low["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    cache.update_pod(low)
    with pytest.raises(FitError) as e:
        default_algorithm().schedule(make_pod("high", cpu="500m", priority=1000), cache.nodes(),
                                     nominated_node="n1")
    assert e.value.candidate is None and str(e.value).endswith(
        "preemption: not eligible due to a terminating pod on the nominated node.")


def test_nominated_pod_holds_its_room_from_less_important_pods():
    cache = cluster(make_node("n1", cpu="1"))
    high = PodInfo(make_pod("high", cpu="800m", priority=1000))
    nominator = Nominator()
    assert nominator.add(high, "n1") == []
    low = PodInfo(make_pod("low", cpu="500m", priority=0))
    with pytest.raises(FitError):
        default_algorithm().schedule(low, nominator.reserve(cache.nodes(), low))
    # The cache itself is untouched, and the nominated pod itself is not in its own way.
    assert cache.nodes()[0].req_cpu == 0
    assert default_algorithm().schedule(high, nominator.reserve(cache.nodes(), high)).node_name == "n1"
    # A more important nomination to the same node takes over.
    top = PodInfo(make_pod("top", cpu="100m", priority=2000))
    assert nominator.add(top, "n1") == [("default", "high")]
    assert nominator.node_of(high.key) is None and nominator.node_of(top.key) == "n1"
