"""EventRecorder against a real apiserver: Event shape, aggregation of repeats, never raising."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from minik8s.api.resources import CONFIGMAPS, EVENTS, NAMESPACES, NODES
from minik8s.client.events import EventRecorder
from minik8s.client.rest import ApiClient


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"e-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_event_shape_and_aggregation(client: ApiClient, ns: str):
    obj = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "subject"}},
                              namespace=ns)
    obj.setdefault("kind", "ConfigMap")
    obj.setdefault("apiVersion", "v1")
    rec = EventRecorder(client, component="test-controller", host="host-1")
    rec.event(obj, "Normal", "Synced", "all good")
    rec.event(obj, "Normal", "Synced", "all good")
    rec.event(obj, "Normal", "Synced", "all good")
    rec.event(obj, "Warning", "Failed", "something broke")
    await rec.flush()
    events = (await client.list(EVENTS, namespace=ns))["items"]
    by_reason = {e["reason"]: e for e in events}
    assert sorted(by_reason) == ["Failed", "Synced"], "repeats aggregate into one Event"
    synced = by_reason["Synced"]
    assert synced["count"] == 3
    assert synced["type"] == "Normal" and synced["message"] == "all good"
    assert synced["metadata"]["name"].startswith("subject.")
    int(synced["metadata"]["name"].split(".", 1)[1], 16)  # {name}.{hex}
    io = synced["involvedObject"]
    assert io["kind"] == "ConfigMap" and io["name"] == "subject" and io["namespace"] == ns
    assert io["uid"] == obj["metadata"]["uid"] and io["apiVersion"] == "v1"
    assert io["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert synced["source"] == {"component": "test-controller", "host": "host-1"}
    assert synced["reportingComponent"] == "test-controller"
    assert synced["firstTimestamp"] and synced["lastTimestamp"]
    assert by_reason["Failed"]["type"] == "Warning" and by_reason["Failed"]["count"] == 1
    # kubectl describe finds them by involvedObject fields
    found = await client.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name=subject,involvedObject.uid={obj['metadata']['uid']}")
    assert len(found["items"]) == 2
    await rec.close()


async def test_cluster_scoped_object_events_go_to_default(client: ApiClient):
    name = f"node-{uuid.uuid4().hex[:6]}"
    node = await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    rec = EventRecorder(client, component="kubelet")
    rec.event(node, "Normal", "Starting", "Starting kubelet.")
    await rec.flush()
    events = (await client.list(EVENTS, namespace="default", field_selector=f"involvedObject.name={name}"))["items"]
    assert len(events) == 1 and events[0]["involvedObject"]["kind"] == "Node"
    assert "namespace" not in events[0]["involvedObject"]
    await rec.close()
    await client.delete(NODES, name)


async def test_recording_never_raises_into_the_caller(free_port: int, caplog: pytest.LogCaptureFixture):
    """Against a server that is not there: no exception reaches the caller, the bounded queue
    drops what does not fit (one log line for the whole run of drops), and the outage is
    logged once at WARNING, not once per event."""
    caplog.set_level(logging.DEBUG, logger="minik8s.client.events")
    async with ApiClient(f"http://127.0.0.1:{free_port}", timeout=2) as dead:
        rec = EventRecorder(dead, component="x", queue_size=2)
        obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default"}}
        for i in range(10):  # more than the queue holds, against a server that is not there
            rec.event(obj, "Warning", f"Oops{i}", "no server")
        await asyncio.wait_for(rec.flush(), 30)
        await rec.close()
        rec.event(obj, "Warning", "AfterClose", "ignored")  # a closed recorder takes nothing, quietly
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [m for m in warnings if m.startswith("event queue full")] == [
        "event queue full; dropping events (first dropped: Oops2 no server)"], warnings
    assert len([m for m in warnings if m.startswith("could not write event")]) == 1, warnings
    attempted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not write event")]
    assert len(attempted) == 2, "only what the queue held was tried: the first event and one queued"


class Clock:
    """The recorder's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _subject(client: ApiClient, ns: str, name: str) -> dict:
    obj = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
                              namespace=ns)
    return {**obj, "kind": "ConfigMap", "apiVersion": "v1"}


async def test_similar_messages_combine_past_ten(client: ApiClient, ns: str):
    """client-go's aggregator: the tenth different message of one reason about one object, and
    every one after it within ten minutes, count on one combined Event."""
    obj = await _subject(client, ns, "flaky")
    clock = Clock()
    rec = EventRecorder(client, component="test-controller", clock=clock)
    for i in range(12):
        rec.event(obj, "Warning", "FailedSync", f"attempt {i} failed")
    await rec.flush()
    events = (await client.list(EVENTS, namespace=ns))["items"]
    plain = sorted(e["message"] for e in events if not e["message"].startswith("(combined"))
    combined = [e for e in events if e["message"].startswith("(combined")]
    assert plain == sorted(f"attempt {i} failed" for i in range(9))
    assert len(combined) == 1
    assert combined[0]["count"] == 3
    assert combined[0]["message"] == "(combined from similar events): attempt 11 failed"
    # ten minutes later the messages count afresh
    clock.now += 601
    rec.event(obj, "Warning", "FailedSync", "attempt 12 failed")
    await rec.flush()
    events = (await client.list(EVENTS, namespace=ns))["items"]
    assert "attempt 12 failed" in {e["message"] for e in events}
    await rec.close()


async def test_spam_filter_lets_25_through_then_one_per_five_minutes(client: ApiClient, ns: str):
    """client-go's EventSourceObjectSpamFilter: a burst of 25 per source and object, refilled at
    one per 300 s; another object has its own bucket."""
    obj = await _subject(client, ns, "noisy")
    other = await _subject(client, ns, "quiet")
    clock = Clock()
    rec = EventRecorder(client, component="test-controller", host="h", clock=clock)
    for i in range(30):
        rec.event(obj, "Normal", f"Reason{i}", "m")
    rec.event(other, "Normal", "Reason0", "m")
    await rec.flush()

    async def reasons(name: str) -> list[str]:
        items = (await client.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name={name}"))["items"]
        return sorted(e["reason"] for e in items)

    assert await reasons("noisy") == sorted(f"Reason{i}" for i in range(25))
    assert await reasons("quiet") == ["Reason0"]
    clock.now += 150  # half a token
    rec.event(obj, "Normal", "Late", "m")
    await rec.flush()
    assert "Late" not in await reasons("noisy")
    clock.now += 160  # a whole one (and a little)
    rec.event(obj, "Normal", "Later", "m")
    await rec.flush()
    assert "Later" in await reasons("noisy")
    await rec.close()


async def test_writers_keep_a_burst_and_each_objects_order(client: ApiClient, ns: str):
    """A recorder with several writers (the scheduler's) takes a burst one writer's queue could
    not hold, and events about one object still correlate (one writer per object)."""
    def subject(i: int) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": ns, "uid": f"u{i}"}}

    one = EventRecorder(client, component="one-writer", queue_size=100)
    for i in range(200):  # recorded back to back: the writer gets no turn in between
        one.event(subject(i), "Normal", "Scheduled", f"assigned p{i}")
    await one.close()
    many = EventRecorder(client, component="many-writers", queue_size=100, writers=8)
    for i in range(200):
        many.event(subject(i), "Normal", "Scheduled", f"assigned p{i}")
    for i in range(20):
        for _ in range(3):  # back to back: on writers of their own they would race to create
            many.event(subject(i), "Warning", "FailedMount", "volume not ready")
    await many.close()
    events = (await client.list(EVENTS, namespace=ns))["items"]
    by_source: dict[str, list[dict[str, object]]] = {}
    for e in events:
        by_source.setdefault(e["source"]["component"], []).append(e)
    assert len(by_source["one-writer"]) == 100, "one writer: a full queue drops the rest"
    scheduled = [e for e in by_source["many-writers"] if e["reason"] == "Scheduled"]
    assert sorted(e["involvedObject"]["name"] for e in scheduled) == sorted(f"p{i}" for i in range(200))
    failed = [e for e in by_source["many-writers"] if e["reason"] == "FailedMount"]
    assert len(failed) == 20 and {e["count"] for e in failed} == {3}


def test_writers_must_be_positive(client: ApiClient):
    with pytest.raises(ValueError, match="writers"):
        EventRecorder(client, component="x", writers=0)
