"""The scheduling queue: order, backoff, which events wake which unschedulable pods, leftovers."""

from __future__ import annotations

import asyncio
import copy

import pytest

from minik8s.workqueue import FakeClock, ShutDown
from scheduler import queue as q
from scheduler.framework import pod_key
from scheduler.plugins.node_affinity import NAME as NODE_AFFINITY
from scheduler.plugins.node_resources_fit import FIT_NAME
from scheduler.plugins.node_unschedulable import NAME as NODE_UNSCHEDULABLE
from scheduler.plugins.taint_toleration import NAME as TAINT_TOLERATION
from tests.unit.scheduler_objects import make_node, make_pod


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> q.SchedulingQueue:
    return q.SchedulingQueue(clock=clock)


def pop(queue: q.SchedulingQueue) -> q.QueuedPodInfo | None:
    return queue._pop_nowait()


def names(queue: q.SchedulingQueue) -> list[str]:
    out = []
    while (qpi := pop(queue)) is not None:
        out.append(qpi.info.name)
    return out


def test_active_order_is_priority_then_arrival(queue):
    queue.add(make_pod("low-1"))
    queue.add(make_pod("high", priority=1000))
    queue.add(make_pod("low-2"))
    queue.add(make_pod("mid", priority=10))
    assert names(queue) == ["high", "mid", "low-1", "low-2"]


def test_priority_change_refiles_a_queued_pod(queue):
    a, b = make_pod("a"), make_pod("b")
    queue.add(a)
    queue.add(b)
    b2 = copy.deepcopy(b)
    b2["spec"]["priority"] = 5
    queue.update(b2)
    assert names(queue) == ["b", "a"]


def test_adding_a_pod_twice_queues_it_once(queue):
    pod = make_pod("a")
    queue.add(pod)
    queue.add(copy.deepcopy(pod))
    assert names(queue) == ["a"]


def test_unschedulable_pod_waits_for_an_event_that_could_help(queue):
    pod = make_pod("a", cpu="8")
    queue.add(pod)
    qpi = pop(queue)
    queue.add_unschedulable(qpi, {FIT_NAME})
    assert queue.where(qpi.key) == "unschedulable"

    # A label change only matters to NodeAffinity, which did not reject this pod.
    assert queue.move_all_to_active_or_backoff(q.ClusterEvent("NodeUpdate", frozenset({NODE_AFFINITY}))) == 0
    assert queue.where(qpi.key) == "unschedulable"
    # Freed resources could help.
    assert queue.move_all_to_active_or_backoff(q.ASSIGNED_POD_DELETE) == 1
    assert queue.where(qpi.key) in ("backoff", "active")


def test_a_pod_no_plugin_rejected_is_moved_by_any_event(queue):
    queue.add(make_pod("a"))
    qpi = pop(queue)
    queue.add_unschedulable(qpi, ())  # no nodes at all
    assert queue.move_all_to_active_or_backoff(q.ClusterEvent("NodeUpdate", frozenset({NODE_AFFINITY}))) == 1


def test_moved_pod_waits_out_its_backoff_then_becomes_active(queue, clock):
    queue.add(make_pod("a"))
    qpi = pop(queue)
    queue.add_unschedulable(qpi, {FIT_NAME})
    queue.move_all_to_active_or_backoff(q.NODE_ADD)
    assert queue.where(qpi.key) == "backoff"
    clock.step(0.9)
    assert pop(queue) is None
    clock.step(0.2)  # 1 s after the failure
    assert queue.where(qpi.key) == "active"
    assert pop(queue) is qpi
    assert qpi.attempts == 2


def test_backoff_doubles_per_attempt_up_to_ten_seconds(queue, clock):
    queue.add(make_pod("a"))
    durations = []
    for _ in range(6):
        qpi = pop(queue)
        assert qpi is not None
        durations.append(queue.backoff_duration(qpi))
        queue.add_backoff(qpi)
        clock.step(queue.backoff_duration(qpi))
    assert durations == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_releases_pods_in_expiry_order(queue, clock):
    for name in ("a", "b"):
        queue.add(make_pod(name))
    first = pop(queue)
    queue.add_backoff(first)  # expires at +1 s
    second = pop(queue)
    second.attempts = 3  # 4 s backoff
    queue.add_backoff(second)
    clock.step(1.0)
    assert queue.where(first.key) == "active" and queue.where(second.key) == "backoff"
    clock.step(3.0)
    assert queue.where(second.key) == "active"


def test_event_during_the_cycle_sends_the_pod_to_backoff_not_unschedulable(queue, clock):
    queue.add(make_pod("a"))
    qpi = pop(queue)
    queue.move_all_to_active_or_backoff(q.NODE_ADD)  # a node arrived while it was being scheduled
    queue.add_unschedulable(qpi, {FIT_NAME})
    assert queue.where(qpi.key) == "backoff"


def test_pods_unschedulable_for_five_minutes_are_flushed(queue, clock):
    queue.add(make_pod("a"))
    qpi = pop(queue)
    queue.add_unschedulable(qpi, {NODE_AFFINITY})
    queue.start()
    clock.step(270)
    assert queue.where(qpi.key) == "unschedulable"
    clock.step(60)  # the 30 s flush after the 5 minutes ran out
    assert queue.where(qpi.key) == "active"


def test_status_only_update_does_not_wake_an_unschedulable_pod(queue):
    pod = make_pod("a", cpu="8")
    queue.add(pod)
    qpi = pop(queue)
    queue.add_unschedulable(qpi, {FIT_NAME})
    patched = copy.deepcopy(pod)
    patched["metadata"]["resourceVersion"] = "99"
    patched["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    queue.update(patched)
    assert queue.where(qpi.key) == "unschedulable"
    assert qpi.pod is patched  # but the newest version is kept

    relabelled = copy.deepcopy(patched)
    relabelled["spec"]["nodeSelector"] = {"disk": "ssd"}
    queue.update(relabelled)
    assert queue.where(qpi.key) in ("backoff", "active")
    assert qpi.info.node_selector == {"disk": "ssd"}


def test_pod_in_flight_is_not_queued_again_and_deleted_one_not_requeued(queue):
    pod = make_pod("a")
    queue.add(pod)
    qpi = pop(queue)
    newer = copy.deepcopy(pod)
    newer["metadata"]["labels"] = {"x": "y"}
    queue.update(newer)
    queue.add(newer)
    assert queue.where(qpi.key) == "in-flight" and len(queue) == 0
    assert qpi.pod is newer
    queue.delete(newer)
    queue.add_backoff(qpi)
    assert queue.where(qpi.key) is None


def test_delete_removes_a_queued_pod(queue):
    a, b = make_pod("a"), make_pod("b")
    queue.add(a)
    queue.add(b)
    queue.delete(a)
    assert names(queue) == ["b"]
    assert queue.where(pod_key(a)) is None


async def test_pop_waits_for_a_pod_and_close_ends_it():
    queue = q.SchedulingQueue()
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(make_pod("a"))
    qpi = await asyncio.wait_for(waiter, 1)
    assert qpi.info.name == "a"
    queue.close()
    with pytest.raises(ShutDown):
        await queue.pop()


def test_node_update_events():
    node = make_node("n1")
    heartbeat = copy.deepcopy(node)
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:00Z"
    heartbeat["metadata"]["resourceVersion"] = "7"
    assert q.node_update_event(node, heartbeat) is None

    cordoned = copy.deepcopy(node)
    cordoned["spec"]["unschedulable"] = True
    ev = q.node_update_event(node, cordoned)
    assert ev is not None and ev.plugins == {NODE_UNSCHEDULABLE, TAINT_TOLERATION}

    bigger = make_node("n1", cpu="16")
    ev = q.node_update_event(node, bigger)
    assert ev is not None and ev.plugins == {FIT_NAME}
    assert ev.may_help(frozenset({FIT_NAME, NODE_AFFINITY}))
    assert not ev.may_help(frozenset({NODE_AFFINITY}))

    not_ready = make_node("n1", ready="False")
    ev = q.node_update_event(node, not_ready)
    assert ev is not None and ev.plugins == {"NodeReady"}
