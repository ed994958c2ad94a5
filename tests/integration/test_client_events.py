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
