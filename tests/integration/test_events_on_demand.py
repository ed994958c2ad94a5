"""Events through the real apiserver while its watch cache decodes them only on demand
(watchcache.DECODED_ON_DEMAND): lists, reads, watches from a resourceVersion and from a list,
and changes made while nobody watches, then while someone does."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.integration.test_apiserver_watch import read_events


@pytest.fixture
def api(apiserver_process):
    with apiserver_process.http(timeout=10) as c:
        yield c


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"ev-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def event(name: str, reason: str) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": name.split(".")[0], "namespace": "x"},
            "reason": reason, "message": f"{reason} {name}", "type": "Normal", "count": 1}


def test_events_listed_read_and_watched_as_written(api, apiserver_process, ns):
    path = f"/api/v1/namespaces/{ns}/events"
    start = api.get(path).json()["metadata"]["resourceVersion"]
    for i in range(5):  # nobody watches these
        assert api.post(path, json=event(f"p{i}.a", "Pulled")).status_code == 201
    r = api.patch(f"{path}/p1.a", content=json.dumps({"count": 2}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["count"] == 2
    assert api.delete(f"{path}/p2.a").status_code == 200
    listed = api.get(path).json()
    assert [(e["metadata"]["name"], e["count"]) for e in listed["items"]] == \
        [("p0.a", 1), ("p1.a", 2), ("p3.a", 1), ("p4.a", 1)]
    assert api.get(f"{path}/p1.a").json()["count"] == 2
    assert api.get(f"{path}/p2.a").status_code == 404
    # a watch from before them replays every change in order, with each one's object
    evs = read_events(apiserver_process, path, {"resourceVersion": start}, 7)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == \
        [("ADDED", "p0.a"), ("ADDED", "p1.a"), ("ADDED", "p2.a"), ("ADDED", "p3.a"), ("ADDED", "p4.a"),
         ("MODIFIED", "p1.a"), ("DELETED", "p2.a")]
    assert evs[5]["object"]["count"] == 2
    # a watch from the list sees it, then changes made while it watches (selector: reason)
    with apiserver_process.http(timeout=10) as c:
        with c.stream("GET", path, params={"watch": "true", "fieldSelector": "reason=Pulled"}) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            seen = [json.loads(next(ln for ln in lines if ln)) for _ in range(4)]
            assert sorted(e["object"]["metadata"]["name"] for e in seen) == ["p0.a", "p1.a", "p3.a", "p4.a"]
            api.patch(f"{path}/p3.a", content=json.dumps({"reason": "Started"}),
                      headers={"content-type": "application/merge-patch+json"})  # leaves the selection
            api.post(path, json=event("p5.a", "Pulled"))
            after = [json.loads(next(ln for ln in lines if ln)) for _ in range(2)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in after] == [("DELETED", "p3.a"), ("ADDED", "p5.a")]
    # and when the watch is gone, lists and reads still answer the current objects
    api.patch(f"{path}/p4.a", content=json.dumps({"count": 9}), headers={"content-type": "application/merge-patch+json"})
    assert {e["metadata"]["name"]: e["count"] for e in api.get(path).json()["items"]} == \
        {"p0.a": 1, "p1.a": 2, "p3.a": 1, "p4.a": 9, "p5.a": 1}
