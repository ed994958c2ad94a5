"""Watch over real HTTP: ordered events from a resourceVersion, selector transitions, bookmarks,
the /watch/ path form, 410 Gone for history that is gone, and a slow watcher that does not
hold back the others."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest

from tests.conftest import ApiServer


@pytest.fixture
def api(apiserver_process):
    with apiserver_process.http(timeout=10) as c:
        yield c


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def cm(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


def read_events(server: ApiServer, path: str, params: dict, count: int, timeout: float = 10) -> list[dict]:
    out: list[dict] = []
    with server.http(timeout=timeout) as c:
        with c.stream("GET", path, params={**params, "watch": "true"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line:
                    out.append(json.loads(line))
                if len(out) >= count:
                    break
    return out


def test_watch_from_resource_version_in_order(api, apiserver_process, ns):
    listed = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()
    rv = listed["metadata"]["resourceVersion"]
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("a"))
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/a", content=json.dumps({"data": {"k": "v"}}),
              headers={"content-type": "application/merge-patch+json"})
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/a")
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps", {"resourceVersion": rv}, 3)
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert evs[1]["object"]["data"] == {"k": "v"}


def test_watch_without_rv_starts_with_current_state(api, apiserver_process, ns):
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("x"))
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps", {}, 1)
    assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "x"


def test_live_events_and_watch_path(api, apiserver_process, ns):
    got: list[dict] = []

    def watch() -> None:
        got.extend(read_events(apiserver_process, f"/api/v1/watch/namespaces/{ns}/configmaps/live", {"resourceVersion": "0"}, 2))

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.3)
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("other"))
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("live"))
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/live")
    t.join(10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [("ADDED", "live"), ("DELETED", "live")]


def test_label_selector_transitions(api, apiserver_process, ns):
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("t", app="no"))
    for app in ("yes", "no"):
        api.patch(f"/api/v1/namespaces/{ns}/configmaps/t", content=json.dumps({"metadata": {"labels": {"app": app}}}),
                  headers={"content-type": "application/merge-patch+json"})
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps", {"resourceVersion": rv, "labelSelector": "app=yes"}, 2)
    # entering the selector is ADDED, leaving it is DELETED, as Kubernetes' watch cache reports
    assert [e["type"] for e in evs] == ["ADDED", "DELETED"]


def test_bookmarks(api, apiserver_process, ns):
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps",
                      {"resourceVersion": rv, "allowWatchBookmarks": "true"}, 1, timeout=15)
    assert evs[0]["type"] == "BOOKMARK"
    assert int(evs[0]["object"]["metadata"]["resourceVersion"]) >= int(rv)
    assert evs[0]["object"]["kind"] == "ConfigMap"


def test_send_initial_events(api, apiserver_process, ns):
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("i1"))
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps",
                      {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                       "allowWatchBookmarks": "true"}, 2)
    assert evs[0]["type"] == "ADDED"
    assert evs[1]["type"] == "BOOKMARK"
    assert evs[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_timeout_seconds_ends_the_watch(apiserver_process, ns):
    t0 = time.monotonic()
    with apiserver_process.http(timeout=10) as c:
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps", params={"watch": "1", "timeoutSeconds": "1", "resourceVersion": "0"})
    assert r.status_code == 200 and time.monotonic() - t0 < 8


def test_compacted_history_is_gone(apiserver_factory):
    server = apiserver_factory(extra_args=("--watch-history", "0.5", "--compaction-interval", "0.2"))
    with server.http(timeout=10) as api:
        rv = api.get("/api/v1/namespaces/default/configmaps").json()["metadata"]["resourceVersion"]
        for i in range(3):
            api.post("/api/v1/namespaces/default/configmaps", json=cm(f"g{i}"))
        time.sleep(2.0)
        # restart so the watch cache's own ring cannot answer: the storage history is compacted
        server.stop()
        server.start()
        evs = read_events(server, "/api/v1/namespaces/default/configmaps", {"resourceVersion": rv}, 1)
    assert evs[0]["type"] == "ERROR"
    assert evs[0]["object"]["code"] == 410 and evs[0]["object"]["reason"] == "Expired"


def test_slow_watcher_does_not_block_others(api, apiserver_process, ns):
    """A client that never reads its stream must not hold back writes or other watchers."""
    import socket
    raw = socket.create_connection(("127.0.0.1", apiserver_process.port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow = apiserver_process.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    slow.sendall(f"GET /api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion=0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
        payload = "x" * 20000
        n = 300
        for i in range(n):
            r = api.post(f"/api/v1/namespaces/{ns}/configmaps", json={**cm(f"s{i}"), "data": {"p": payload}})
            assert r.status_code == 201
        evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/configmaps", {"resourceVersion": rv}, n)
        assert len(evs) == n and all(e["type"] == "ADDED" for e in evs)
    finally:
        slow.close()


def test_node_pinned_pod_watch_sees_binding_and_moves(api, apiserver_process, ns):
    """Pod watches pinned to a node (as every kubelet's) are indexed by node; they still see a
    pod bound to their node, its changes, and its deletion."""
    rv = api.get(f"/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"]
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    api.post(f"/api/v1/namespaces/{ns}/pods/p/binding",
             json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"name": "n1"}})
    api.patch(f"/api/v1/namespaces/{ns}/pods/p/status", content=json.dumps({"status": {"phase": "Running"}}),
              headers={"content-type": "application/merge-patch+json"})
    api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/p", json={"gracePeriodSeconds": 0})
    evs = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/pods",
                      {"resourceVersion": rv, "fieldSelector": "spec.nodeName=n1"}, 3)
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
    assert evs[0]["object"]["spec"]["nodeName"] == "n1"
    other = read_events(apiserver_process, f"/api/v1/namespaces/{ns}/pods",
                        {"resourceVersion": rv, "fieldSelector": "spec.nodeName=", "timeoutSeconds": "1"}, 10)
    assert [e["type"] for e in other] == ["ADDED", "DELETED"]  # unbound, then bound away
