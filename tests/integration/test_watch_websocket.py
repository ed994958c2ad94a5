"""Watch over WebSocket, as Kubernetes' apiserver serves it to browsers: a WebSocket upgrade on
a list URL with ``watch=true`` (or a ``/watch/`` path) gets the events of the HTTP watch, one
WatchEvent JSON per text message, from the same resourceVersion, selectors, bookmarks and
timeoutSeconds; the same authentication (the admin certificate, or a ServiceAccount token in
the ``base64url.bearer.authorization.k8s.io.`` subprotocol, which is never echoed back), RBAC
(verb ``watch``), errors before the upgrade as a meta/v1 Status, a 410 Gone during the watch as
an ERROR event, metrics and audit; custom resources too. Clients are the ``websockets`` library
with the harness's TLS context.

No official Kubernetes client library watches over WebSocket (kubectl and client-go watch over
HTTP; the Python client's ``stream()`` speaks the exec channel protocols: it offers two
subprotocols, which Kubernetes' watch handler refuses with 400 as this one does, and given one it
reads each message's first byte as a channel number). Browsers are its clients: the dashboard's
Chromium test (tests/e2e/test_dashboard_docker.py) is the real-client check."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import ApiServer
from tests.integration.crd_helpers import CRDS, create_crd, sprocket_crd, unique_group
from tests.integration.test_audit_log import POLICY, by_id, read_events

RBAC = "/apis/rbac.authorization.k8s.io/v1"
BEARER = "base64url.bearer.authorization.k8s.io."


def wss(server: ApiServer, path: str, **query: str) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"wss://127.0.0.1:{server.port}{path}" + (f"?{qs}" if qs else "")


def bearer_protocol(token: str) -> str:
    return BEARER + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def open_ws(server: ApiServer, path: str, *, anonymous: bool = False, subprotocols: list[str] | None = None,
            **query: str) -> Any:
    return connect(wss(server, path, **query), ssl=server.ssl_context(client_cert=not anonymous),
                   subprotocols=subprotocols, open_timeout=10, max_size=None)  # type: ignore[arg-type]


async def events(ws: ClientConnection, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    """The next ``count`` messages, each checked to be one whole WatchEvent in a text frame."""
    out = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            msg = await ws.recv()
            assert isinstance(msg, str), "JSON watch events travel in text frames"
            ev = json.loads(msg)
            assert set(ev) == {"type", "object"}
            out.append(ev)
    return out


async def refused(server: ApiServer, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and Status body of a refused upgrade."""
    with pytest.raises(websockets.InvalidStatus) as info:
        async with open_ws(server, path, **kwargs):
            pass
    r = info.value.response
    return r.status_code, json.loads(r.body or b"{}")


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


@pytest.fixture
def api(apiserver_process: ApiServer) -> Any:
    with apiserver_process.http(timeout=10) as c:
        yield c


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"ws-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def account_token(api: httpx.Client, ns: str, name: str, verbs: list[str]) -> str:
    """A TokenRequest token of ServiceAccount ``name``, bound to a Role with ``verbs`` on configmaps."""
    assert api.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": name}}).status_code == 201
    assert api.post(f"{RBAC}/namespaces/{ns}/roles", json={
        "metadata": {"name": name}, "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": verbs}],
    }).status_code == 201
    assert api.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
        "metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}]}).status_code == 201
    r = api.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
                 json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert r.status_code == 201, r.text
    token: str = r.json()["status"]["token"]
    return token


@pytest.fixture
async def watching(apiserver_process: ApiServer, ns: str) -> AsyncIterator[Any]:
    """``watching(path, **query)``: an open WebSocket watch as the admin, closed after the test."""
    opened: list[Any] = []

    async def start(path: str, **query: str) -> ClientConnection:
        cm_ = open_ws(apiserver_process, path, **query)
        opened.append(cm_)
        conn: ClientConnection = await cm_.__aenter__()
        return conn

    yield start
    for c in opened:
        await c.__aexit__(None, None, None)


async def test_events_in_order_from_the_list_resource_version(api, apiserver_process, ns, watching):
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("a"))
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/a", content=json.dumps({"data": {"k": "v"}}),
              headers={"content-type": "application/merge-patch+json"})
    api.delete(f"/api/v1/namespaces/{ns}/configmaps/a")
    ws = await watching(f"/api/v1/namespaces/{ns}/configmaps", watch="true", resourceVersion=rv)
    assert ws.subprotocol is None  # none offered, none chosen
    evs = await events(ws, 3)
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert evs[1]["object"]["data"] == {"k": "v"}
    # live events after the replay, through a label selector (a transition out is a DELETED)
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("b", tier="web"))
    assert [e["type"] for e in await events(ws, 1)] == ["ADDED"]
    sel = await watching(f"/api/v1/namespaces/{ns}/configmaps", watch="1", labelSelector="tier%3Dweb",
                         resourceVersion="0")
    first = await events(sel, 1)
    assert first[0]["type"] == "ADDED" and first[0]["object"]["metadata"]["name"] == "b"
    api.patch(f"/api/v1/namespaces/{ns}/configmaps/b", content=json.dumps({"metadata": {"labels": {"tier": "db"}}}),
              headers={"content-type": "application/merge-patch+json"})
    (moved,) = await events(sel, 1)
    assert moved["type"] == "DELETED" and moved["object"]["metadata"]["name"] == "b"


async def test_legacy_watch_path_and_field_selector(api, apiserver_process, ns, watching):
    ws = await watching(f"/api/v1/watch/namespaces/{ns}/configmaps", fieldSelector="metadata.name%3Dlive",
                        resourceVersion="0")
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("other"))
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("live"))
    evs = await events(ws, 1)
    assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "live"


async def test_bookmarks_and_the_end_at_timeout_seconds(api, apiserver_process, ns, watching):
    rv = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]
    ws = await watching(f"/api/v1/namespaces/{ns}/configmaps", watch="true", resourceVersion=rv,
                        allowWatchBookmarks="true", timeoutSeconds="7")
    (bookmark,) = await events(ws, 1, timeout=20)
    assert bookmark["type"] == "BOOKMARK" and bookmark["object"]["kind"] == "ConfigMap"
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(rv)
    # timeoutSeconds over: the server closes the connection normally
    with pytest.raises(websockets.ConnectionClosedOK):
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    assert ws.close_code == 1000


async def test_subprotocol_token_is_the_credential_and_never_echoed(api, apiserver_process, ns):
    token = account_token(api, ns, "watcher", ["get", "list", "watch"])
    path = f"/api/v1/namespaces/{ns}/configmaps"
    async with open_ws(apiserver_process, path, anonymous=True, watch="true",
                       subprotocols=["base64.binary.k8s.io", bearer_protocol(token)]) as ws:
        assert ws.subprotocol == "base64.binary.k8s.io"
        assert token not in str(ws.response.headers)
        api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("seen"))
        evs = await events(ws, 1)
        assert evs[0]["object"]["metadata"]["name"] == "seen"
    # the same token in an Authorization header works too (the headers a non-browser client sets)
    async with connect(wss(apiserver_process, path, watch="true", resourceVersion="0"),
                       ssl=apiserver_process.ssl_context(client_cert=False), open_timeout=10,
                       additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert (await events(ws, 1))[0]["type"] == "ADDED"


async def test_refusals_before_the_upgrade_are_statuses(api, apiserver_process, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    token = account_token(api, ns, "lister", ["get", "list"])
    # a wrong token: 401
    code, status = await refused(apiserver_process, path, anonymous=True, watch="true",
                                 subprotocols=["base64.binary.k8s.io", bearer_protocol(token[:-4] + "xxxx")])
    assert code == 401 and status["kind"] == "Status" and status["reason"] == "Unauthorized"
    # the token protocol alone: nothing would be left to echo, 401 as Kubernetes answers
    code, _ = await refused(apiserver_process, path, anonymous=True, watch="true", subprotocols=[bearer_protocol(token)])
    assert code == 401
    # a good token of an account that may list but not watch: 403 naming the verb
    code, status = await refused(apiserver_process, path, anonymous=True, watch="true",
                                 subprotocols=["base64.binary.k8s.io", bearer_protocol(token)])
    assert code == 403 and status["reason"] == "Forbidden"
    assert f'cannot watch resource "configmaps" in API group "" in the namespace "{ns}"' in status["message"]
    # anonymous: 403 as well
    code, _ = await refused(apiserver_process, path, anonymous=True, watch="true")
    assert code == 403
    # a resource that does not exist: 404; a bad resourceVersion: 400 (both before any upgrade)
    code, status = await refused(apiserver_process, f"/api/v1/namespaces/{ns}/nopes", watch="true")
    assert code == 404 and status["reason"] == "NotFound"
    code, status = await refused(apiserver_process, path, watch="true", resourceVersion="abc")
    assert code == 400 and status["kind"] == "Status"
    # two subprotocols besides the token: Kubernetes' handler echoes one and refuses several
    code, status = await refused(apiserver_process, path, watch="true",
                                 subprotocols=["base64.binary.k8s.io", "binary.k8s.io"])
    assert code == 400 and "subprotocol" in status["message"]
    # an upgrade that is no watch
    code, status = await refused(apiserver_process, path)
    assert code == 400 and "watch" in status["message"]


async def test_metrics_count_the_watch(api, apiserver_process, ns, watching):
    def scrape() -> str:
        text: str = api.get("/metrics").text
        return text

    def sample(text: str, name: str, **labels: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    labels = {"verb": "WATCH", "resource": "configmaps", "scope": "namespace"}
    before = scrape()
    ws = await watching(f"/api/v1/namespaces/{ns}/configmaps", watch="true", resourceVersion="0")
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("m"))
    await events(ws, 1)
    during = scrape()
    assert sample(during, "apiserver_longrunning_requests", **labels) == \
        sample(before, "apiserver_longrunning_requests", **labels) + 1
    await ws.close()
    deadline = time.monotonic() + 10
    while True:  # the request is counted when it ends
        after = scrape()
        counted = sample(after, "apiserver_request_total", code="101", **labels)
        if counted == sample(before, "apiserver_request_total", code="101", **labels) + 1 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert counted == sample(before, "apiserver_request_total", code="101", **labels) + 1
    assert sample(after, "apiserver_longrunning_requests", **labels) == \
        sample(before, "apiserver_longrunning_requests", **labels)


async def test_gone_history_is_an_error_event_and_the_watch_is_audited(apiserver_factory, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "audit" / "audit.log"
    server = apiserver_factory(extra_args=("--watch-history", "0.5", "--compaction-interval", "0.2",
                                           "--audit-policy-file", str(policy), "--audit-log-path", str(log)))
    with server.http(timeout=10) as api:
        rv = api.get("/api/v1/namespaces/default/configmaps").json()["metadata"]["resourceVersion"]
        for i in range(3):
            api.post("/api/v1/namespaces/default/configmaps", json=cm(f"g{i}"))
        await asyncio.sleep(2.0)
    # restart so the watch cache's own ring cannot answer: the storage history is compacted
    server.stop()
    server.start()
    async with open_ws(server, "/api/v1/namespaces/default/configmaps", watch="true", resourceVersion=rv) as ws:
        audit_id = ws.response.headers["Audit-Id"]
        (err,) = await events(ws, 1)
        assert err["type"] == "ERROR"
        assert err["object"]["code"] == 410 and err["object"]["reason"] == "Expired"
        with pytest.raises(websockets.ConnectionClosedOK):  # the watch ends after its error
            async with asyncio.timeout(15):
                await ws.recv()
    audited = read_events(log, lambda evs: len(by_id(evs, audit_id)) == 3)
    mine = by_id(audited, audit_id)
    assert [e["stage"] for e in mine] == ["RequestReceived", "ResponseStarted", "ResponseComplete"]
    assert all(e["verb"] == "watch" and e["objectRef"]["resource"] == "configmaps" for e in mine)
    assert mine[0]["user"]["username"] == "kubernetes-admin"
    assert mine[2]["responseStatus"]["code"] == 101


async def test_custom_resources_are_watched_over_websocket_too(api, apiserver_process, ns, watching):
    # A CustomResourceDefinition's objects take their own encoding path (the version asked for).
    group = unique_group("wswatch")
    create_crd(api, sprocket_crd(group))
    path = f"/apis/{group}/v1/namespaces/{ns}/sprockets"
    rv = api.get(path).json()["metadata"]["resourceVersion"]
    ws = await watching(path, watch="true", resourceVersion=rv)
    r = api.post(path, json={"apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": {"name": "s1"},
                             "spec": {"image": "busybox"}})
    assert r.status_code == 201, r.text
    (ev,) = await events(ws, 1)
    assert ev["type"] == "ADDED" and ev["object"]["kind"] == "Sprocket"
    assert ev["object"]["apiVersion"] == f"{group}/v1" and ev["object"]["spec"]["replicas"] == 1  # defaulted
    api.delete(f"{CRDS}/sprockets.{group}")
