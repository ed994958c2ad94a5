"""The one-shot client of mkctl against a real apiserver: typed verbs over one blocking
keep-alive connection that never needs an event loop, streamed bodies, a connection the server
dropped, and the kubeconfig's TLS and credentials meaning the same as on the async client."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS
from minik8s.cli.main import run_without_loop as now  # fails when the client suspends
from minik8s.client import connection, kubeconfig
from minik8s.client.oneshot import OneShotClient
from minik8s.client.rest import ApiClient
from tests.conftest import ApiServer
from tests.integration.mkctl_harness import run_mkctl


def drain(stream: AsyncIterator[bytes]) -> bytes:
    out = []
    while True:
        try:
            out.append(now(stream.__anext__()))
        except StopAsyncIteration:
            return b"".join(out)


def access_of(server: ApiServer) -> kubeconfig.ClusterAccess:
    return kubeconfig.load(str(server.kubeconfig)).resolve()


@pytest.fixture
def client(apiserver_process: ApiServer) -> Any:
    c = OneShotClient(connection.from_access(access_of(apiserver_process)), timeout=10)
    yield c
    now(c.close())


@pytest.fixture
def namespace(api_http) -> str:
    name = f"os-{uuid.uuid4().hex[:8]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def cm(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": "v"}}


def test_typed_verbs_run_without_a_loop_on_one_connection(client: OneShotClient, namespace: str) -> None:
    created = now(client.create(CONFIGMAPS, cm("a", app="web", tier="front"), namespace=namespace))
    assert created["metadata"]["uid"]
    sock = client._http._sock
    now(client.create(CONFIGMAPS, cm("b", app="web", tier="back"), namespace=namespace))
    # the query is encoded as the server parses it ("=" and "," inside one value)
    listed = now(client.list_all(CONFIGMAPS, namespace=namespace, label_selector="app=web,tier=front"))
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    patched = now(client.patch(CONFIGMAPS, "a", {"data": {"k": "w"}}, namespace=namespace))
    assert patched["data"] == {"k": "w"}
    strategic = now(client.patch(CONFIGMAPS, "a", {"metadata": {"labels": {"x": "y"}}}, namespace=namespace,
                                 patch_type="strategic"))
    assert strategic["metadata"]["labels"] == {"app": "web", "tier": "front", "x": "y"}
    assert client._http._sock is sock, "every request went over the one kept-alive connection"
    now(client.delete(CONFIGMAPS, "a", namespace=namespace))
    with pytest.raises(errors.NotFound) as e:
        now(client.get(CONFIGMAPS, "a", namespace=namespace))
    assert e.value.message == 'configmaps "a" not found'
    with pytest.raises(errors.AlreadyExists):
        now(client.create(CONFIGMAPS, cm("b"), namespace=namespace))


def test_request_reads_whole_and_streamed_bodies(client: OneShotClient, namespace: str) -> None:
    now(client.create(CONFIGMAPS, cm("s"), namespace=namespace))
    resp = now(client.request("GET", "/version"))
    assert resp.status_code == 200 and resp.json()["major"] == "1"
    assert resp.headers["content-type"].startswith("application/json")  # any case
    # a watch the server ends after a second: chunked, read piece by piece with no loop
    stream = now(client.request("GET", CONFIGMAPS.path(namespace),
                                params={"watch": True, "timeoutSeconds": 1}, stream=True, timeout=None))
    body = drain(stream.aiter_bytes())
    now(stream.aclose())
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "s")]
    # the stream was read to its end: the connection serves the next request
    sock = client._http._sock
    assert now(client.get(CONFIGMAPS, "s", namespace=namespace))["metadata"]["name"] == "s"
    assert client._http._sock is sock


def test_a_connection_the_server_dropped_is_opened_again(client: OneShotClient, namespace: str) -> None:
    now(client.create(CONFIGMAPS, cm("d"), namespace=namespace))
    first = client._http._sock
    assert first is not None
    first.shutdown(socket.SHUT_RDWR)  # as when the server closes an idle kept-alive connection
    assert now(client.get(CONFIGMAPS, "d", namespace=namespace))["metadata"]["name"] == "d"
    assert client._http._sock is not first


def test_unreachable_server_is_connection_failed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        c = OneShotClient(connection.plain(f"http://127.0.0.1:{port}"), timeout=5)
        with pytest.raises(errors.ConnectionFailed) as e:
            now(c.request("GET", "/version"))
    assert isinstance(e.value.__cause__, ConnectionRefusedError)


def _whoami(resp: dict) -> tuple[str, list[str]]:
    info = resp["status"]["userInfo"]
    return info["username"], info.get("groups") or []


REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def test_impersonation_means_the_same_on_both_transports(apiserver_process: ApiServer) -> None:
    acting = connection.Impersonation("jane", ["dev", "ops"])
    conn = connection.from_access(access_of(apiserver_process), impersonate=acting)
    one = OneShotClient(conn, timeout=10)
    user, groups = _whoami(now(one.request("POST", REVIEW_PATH, json=REVIEW)).json())
    now(one.close())
    assert user == "jane" and {"dev", "ops"} <= set(groups)

    async def via_async() -> dict:
        async with ApiClient.from_connection(conn, timeout=10) as c:
            return (await c.request("POST", REVIEW_PATH, json=REVIEW)).json()

    assert _whoami(asyncio.run(via_async())) == (user, groups)
    # without it: the kubeconfig's own user
    plain = OneShotClient(connection.from_access(access_of(apiserver_process)), timeout=10)
    assert _whoami(now(plain.request("POST", REVIEW_PATH, json=REVIEW)).json())[0] != "jane"
    now(plain.close())


def test_tls_server_name_is_the_name_checked_on_both_transports(apiserver_process: ApiServer) -> None:
    access = access_of(apiserver_process)
    access.tls_server_name = "kubernetes.default.svc"  # one of the serving certificate's names
    good = OneShotClient(connection.from_access(access), timeout=10)
    assert now(good.request("GET", "/version")).status_code == 200
    now(good.close())
    access.tls_server_name = "wrong.example"
    conn = connection.from_access(access)
    with pytest.raises(errors.ConnectionFailed) as e:
        now(OneShotClient(conn, timeout=10).request("GET", "/version"))
    assert "wrong.example" in str(e.value)

    async def via_async() -> None:
        async with ApiClient.from_connection(conn, timeout=10) as c:
            await c.request("GET", "/version")

    with pytest.raises(errors.ConnectionFailed):
        asyncio.run(via_async())
    # skipping verification (kubectl's --insecure-skip-tls-verify) accepts any name
    insecure = OneShotClient(connection.from_access(access, insecure=True), timeout=10)
    assert now(insecure.request("GET", "/version")).status_code == 200
    now(insecure.close())


def test_mkctl_as_flags_impersonate(apiserver_process: ApiServer, namespace: str) -> None:
    kc = str(apiserver_process.kubeconfig)
    r = run_mkctl("get", "pods", "-n", namespace, "--as", "nobody", "--as-group", "team", kubeconfig=kc)
    assert r.code == 1
    assert r.err.strip() == (f'Error from server (Forbidden): pods is forbidden: User "nobody" cannot list '
                             f'resource "pods" in API group "" in the namespace "{namespace}"')
    assert run_mkctl("get", "pods", "-n", namespace, kubeconfig=kc).code == 0


async def test_a_command_said_to_run_without_a_loop_streams_blocking_even_inside_one(
        client: OneShotClient, namespace: str) -> None:
    """mkctl called from code already on a loop (a test, a notebook): the verb's own choice
    counts, not the loop around it."""
    now(client.create(CONFIGMAPS, cm("l"), namespace=namespace))
    params = {"watch": True, "timeoutSeconds": 1}
    client.on_loop = False
    stream = now(client.request("GET", CONFIGMAPS.path(namespace), params=params, stream=True, timeout=None))
    assert b'"ADDED"' in drain(stream.aiter_bytes())
    now(stream.aclose())
    now(client.pause(0.01))  # blocks instead of awaiting the loop
    assert client._async is None
    client.on_loop = True  # a verb on the loop: the stream is the async client's
    stream = await client.request("GET", CONFIGMAPS.path(namespace), params=params, stream=True, timeout=None)
    assert b'"ADDED"' in await stream.aread()
    await stream.aclose()
    assert client._async is not None
    await client._async.close()
