"""ApiClient's HTTP transport over real sockets: what goes on the wire (auth headers from a
token or a kubeconfig's basic auth), TLS (CA, no verification, client certificates), streams
(huge watch events, early close freeing the connection, broken streams), timeouts, and the
:class:`~minik8s.client.rest.Response` of ``request()``.

These run against a small aiohttp server in the test that records what it receives and
misbehaves on demand (stalls, cuts a stream), which the real apiserver cannot be made to do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import yaml
from aiohttp import web

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS, NAMESPACES
from minik8s.client.rest import ApiClient, Response
from tests.conftest import missing

CM_PATH = "/api/v1/namespaces/default/configmaps"


class Recorder:
    """The test server's notes: request headers seen, and whether a watch client hung up."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        self.hung_up = asyncio.Event()
        self.big = "x" * (3 * 1024 * 1024)


def make_app(rec: Recorder) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        rec.headers.append(dict(request.headers))
        return web.json_response({"headers": dict(request.headers), "query": dict(request.query)})

    async def configmaps(request: web.Request) -> web.StreamResponse:
        rec.headers.append(dict(request.headers))
        mode = request.query.get("labelSelector", "")
        if request.query.get("watch") != "true":
            return web.json_response({"kind": "ConfigMapList", "metadata": {"resourceVersion": "1"}, "items": []})
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)

        def event(etype: str, name: str, data: str = "") -> bytes:
            return orjson.dumps({"type": etype, "object": {"metadata": {"name": name}, "data": {"k": data}}}) + b"\n"

        if mode == "big":
            # One event of megabytes between two small ones, all in one write, then the end.
            await resp.write(event("ADDED", "a") + event("ADDED", "huge", rec.big) + event("ADDED", "b"))
            await resp.write_eof()
        elif mode == "forever":
            try:
                while True:
                    await resp.write(b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1"}}}\n')
                    await asyncio.sleep(0.02)
            except (ConnectionError, RuntimeError):
                rec.hung_up.set()  # the client closed the connection: writes fail
                raise
        elif mode == "cut":
            await resp.write(event("ADDED", "a") + b'{"type":"ADDED","obj')
            assert request.transport is not None
            request.transport.abort()  # a crash mid-stream: the chunked body never ends
        elif mode == "expired":
            status = {"kind": "Status", "status": "Failure", "code": 410, "reason": "Expired", "message": "too old"}
            await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
            await resp.write_eof()
        return resp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_post("/echo", echo)
    app.router.add_get(CM_PATH, configmaps)
    app.router.add_get("/slow", slow)
    app.router.add_get(CM_PATH + "/slow", slow)
    return app


@contextlib.asynccontextmanager
async def serve(rec: Recorder, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    runner = web.AppRunner(make_app(rec), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def server(rec: Recorder) -> AsyncIterator[str]:
    async with serve(rec) as url:
        yield url


# --- what goes on the wire -------------------------------------------------------------------


async def test_bearer_token_and_user_agent_are_sent(server: str, rec: Recorder):
    async with ApiClient(server, token="s3cret", user_agent="kubelet/node-1") as c:
        resp = await c.request("GET", "/echo", params={"a": "x y", "b": True, "skip": None})
    sent = resp.json()["headers"]
    assert sent["Authorization"] == "Bearer s3cret"
    assert sent["User-Agent"] == "kubelet/node-1" and sent["Accept"] == "application/json"
    assert resp.json()["query"] == {"a": "x y", "b": "true"}


async def test_kubeconfig_basic_auth_is_sent(server: str, rec: Recorder, tmp_path: Path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "clusters": [{"name": "b", "cluster": {"server": server}}],
        "users": [{"name": "b", "user": {"username": "admin", "password": "pa:ss"}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b", "namespace": "ns1"}}],
    }))
    async with ApiClient.from_kubeconfig(str(path)) as c:
        assert c.namespace == "ns1"
        await c.request("GET", "/echo")
    assert rec.headers[-1]["Authorization"] == "Basic " + base64.b64encode(b"admin:pa:ss").decode()


async def test_response_object(server: str):
    async with ApiClient(server) as c:
        resp = await c.request("POST", "/echo", json={"x": 1})
        assert isinstance(resp, Response) and resp.status_code == 200 and resp.is_success
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.json()["headers"]["Content-Type"] == "application/json"
        assert orjson.loads(resp.text) == resp.json() and resp.content.startswith(b"{")

        streamed = await c.request("GET", "/echo", stream=True)
        with pytest.raises(RuntimeError):
            _ = streamed.content  # not read yet
        chunks = [chunk async for chunk in streamed.aiter_bytes()]
        await streamed.aclose()
        assert orjson.loads(b"".join(chunks))["headers"]["Accept"] == "application/json"

        streamed = await c.request("GET", "/echo", stream=True)
        body = await streamed.aread()
        await streamed.aclose()
        assert streamed.json() == orjson.loads(body)


# --- watch streams ---------------------------------------------------------------------------


async def test_watch_event_larger_than_any_buffer(server: str, rec: Recorder):
    async with ApiClient(server) as c:
        events = [ev async for ev in c.watch(CONFIGMAPS, namespace="default", label_selector="big")]
    assert [e.object["metadata"]["name"] for e in events] == ["a", "huge", "b"]
    assert events[1].object["data"]["k"] == rec.big


async def test_closing_a_watch_early_hangs_up_at_once(server: str, rec: Recorder):
    async with ApiClient(server) as c:
        async with contextlib.aclosing(c.watch(CONFIGMAPS, namespace="default", label_selector="forever")) as s:
            async for ev in s:
                assert ev.type == "BOOKMARK"
                break
        # The client is still open: only closing the stream can have ended the connection.
        await asyncio.wait_for(rec.hung_up.wait(), 10)
        # And the client goes on working.
        assert (await c.request("GET", "/echo")).status_code == 200


async def test_cut_stream_is_connection_failed(server: str):
    async with ApiClient(server) as c:
        seen = []
        with pytest.raises(errors.ConnectionFailed):
            async for ev in c.watch(CONFIGMAPS, namespace="default", label_selector="cut"):
                seen.append(ev.object["metadata"]["name"])
        assert seen == ["a"]


async def test_expired_event_is_watch_expired(server: str):
    async with ApiClient(server) as c:
        with pytest.raises(errors.WatchExpired) as exc:
            async for _ in c.watch(CONFIGMAPS, namespace="default", label_selector="expired"):
                pass
        assert exc.value.code == 410 and exc.value.reason == "Expired"


async def test_timeout_is_connection_failed(server: str):
    async with ApiClient(server, timeout=0.3) as c:
        with pytest.raises(errors.ConnectionFailed, match="timed out"):
            await c.request("GET", "/slow")
        with pytest.raises(errors.ConnectionFailed, match="timed out"):
            await c.request("GET", "/slow", timeout=0.3)
        with pytest.raises(errors.ConnectionFailed, match="timed out"):
            await c.get(CONFIGMAPS, "slow", namespace="default")  # the typed verbs' path


# --- event loops -----------------------------------------------------------------------------


def test_built_outside_a_loop_then_used_inside_one(apiserver_process):
    client = apiserver_process.client()  # no loop runs here: the session comes on first use

    async def use() -> str:
        try:
            return (await client.get(NAMESPACES, "default"))["metadata"]["name"]
        finally:
            await client.close()

    assert asyncio.run(use()) == "default"

    async def again() -> None:
        await client.get(NAMESPACES, "default")

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(again())


# --- TLS -------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    if shutil.which("openssl") is None:
        missing("no openssl command to make test certificates (apt-get install openssl)")
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "tester")):
        _openssl("req", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{who}.crt", "-days", "2", "-extfile", f"{who}.ext", cwd=d)
    return d


def server_tls(pki: Path, *, want_client_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    if want_client_cert:
        ctx.load_verify_locations(pki / "ca.crt")
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def test_tls_with_ca_verifies_and_without_fails(pki: Path, rec: Recorder):
    async with serve(rec, server_tls(pki, want_client_cert=False)) as url:
        async with ApiClient(url, ca_file=str(pki / "ca.crt")) as c:
            assert (await c.request("GET", "/echo")).status_code == 200
        async with ApiClient(url, timeout=5) as c:
            with pytest.raises(errors.ConnectionFailed, match="certificate"):
                await c.request("GET", "/echo")
        async with ApiClient(url, verify=False) as c:
            assert (await c.request("GET", "/echo")).status_code == 200


async def test_tls_client_certificate_from_files_and_kubeconfig_data(pki: Path, rec: Recorder, tmp_path: Path):
    async with serve(rec, server_tls(pki, want_client_cert=True)) as url:
        async with ApiClient(url, ca_file=str(pki / "ca.crt"),
                             client_cert=(str(pki / "client.crt"), str(pki / "client.key"))) as c:
            assert (await c.request("GET", "/echo")).status_code == 200
        async with ApiClient(url, ca_file=str(pki / "ca.crt"), timeout=5) as c:
            with pytest.raises(errors.ConnectionFailed):
                await c.request("GET", "/echo")

        def b64(name):
            return base64.b64encode((pki / name).read_bytes()).decode()
        path = tmp_path / "config"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "t", "cluster": {"server": url, "certificate-authority-data": b64("ca.crt")}}],
            "users": [{"name": "t", "user": {"client-certificate-data": b64("client.crt"),
                                             "client-key-data": b64("client.key")}}],
            "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
        }))
        async with ApiClient.from_kubeconfig(str(path)) as c:
            assert (await c.request("GET", "/echo")).status_code == 200
