"""The kubelet's exec endpoint: the remote-command protocol's rules (``kubelet/exec.py``) and
a WebSocket round trip through the node API (served by uvicorn over TLS, callers authenticated by
their client certificates) on the hollow runtime. Docker's exec, the
apiserver's proxy and the real kubectl are the e2e test's (``tests/e2e/test_exec_docker.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from starlette.datastructures import QueryParams
from websockets.asyncio.client import connect

from kubelet import exec as exec_
from kubelet.runtime import interface as ri
from kubelet.runtime.fake import FakeRuntime
from kubelet.server import NodeServer
from minik8s import pki, tlspeer
from tests.conftest import pick_free_port

NODE = "n1"


def test_options_follow_the_kubelet() -> None:
    opts = exec_.parse_options(QueryParams("command=sh&command=-c&command=id&output=1&error=1&tty=1"))
    assert opts.command == ("sh", "-c", "id")
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (False, True, False, True)  # a TTY has no stderr
    with pytest.raises(ValueError, match="at least 1 of stdin, stdout, stderr"):
        exec_.parse_options(QueryParams("command=true"))
    with pytest.raises(ValueError, match="at least one command"):
        exec_.parse_options(QueryParams("output=1"))


def test_the_clients_order_picks_the_protocol() -> None:
    assert exec_.choose_protocol(["v4.channel.k8s.io", "v5.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert exec_.choose_protocol(["base64.channel.k8s.io", "v5.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert exec_.choose_protocol(["SPDY/3.1"]) is None
    assert exec_.choose_protocol([]) == ""


def test_final_status_is_what_kubectl_reads_an_exit_code_from() -> None:
    assert exec_.final_status(0, ["true"]) == {"metadata": {}, "status": "Success"}
    st = exec_.final_status(3, ["sh", "-c", "exit 3"])
    assert st["status"] == "Failure" and st["reason"] == "NonZeroExitCode"
    assert st["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert st["message"].startswith("command terminated with non-zero exit code")


class _Session(ri.ExecSession):
    """A command that prints nothing and exits 0 once its stdin (when it has one) is closed,
    as ``cat > /dev/null`` would: enough to drive the protocol."""

    def __init__(self, *, stdin: bool) -> None:
        self._input_done = asyncio.Event()
        if not stdin:
            self._input_done.set()

    async def read(self) -> tuple[int, bytes] | None:
        await self._input_done.wait()
        return None

    async def write(self, data: bytes) -> None:
        pass

    async def close_stdin(self) -> None:
        self._input_done.set()

    async def resize(self, *, width: int, height: int) -> None:
        pass

    async def wait(self) -> int:
        await self._input_done.wait()
        return 0

    async def close(self) -> None:
        self._input_done.set()


class _QuietRuntime(FakeRuntime):
    """The hollow runtime, whose containers can run :class:`_Session` (a hollow node's cannot)."""

    async def exec(self, container_id: ri.ContainerId, cmd, *, stdin: bool = False,
                   tty: bool = False) -> ri.ExecSession:
        if (await self.container_status(container_id)).state is not ri.ContainerState.RUNNING:
            raise ri.RuntimeError_(f"container {container_id[:12]} is not running")
        return _Session(stdin=stdin)


class _Node:
    """The part of a kubelet the node API reads."""

    def __init__(self, runtime: FakeRuntime, pod: dict) -> None:
        self.node_name = NODE
        self.runtime = runtime
        self._pod = pod

    def find_pod(self, namespace: str, name: str) -> dict | None:
        md = self._pod["metadata"]
        return self._pod if (md["namespace"], md["name"]) == (namespace, name) else None

    def pods(self) -> list[dict]:
        return [self._pod]


@dataclasses.dataclass
class NodeApi:
    addr: str  # 127.0.0.1:port
    ssl: ssl.SSLContext  # trusts its CA, presents a client certificate of it
    anonymous: ssl.SSLContext  # trusts its CA, presents nothing


@pytest.fixture(params=["quiet"])
async def node_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NodeApi]:
    """The node API, a pod ``ns/p`` with ``main`` running and ``idle`` created but never
    started."""
    ca = pki.ensure_ca(tmp_path)
    serving = pki.ensure_serving_cert(ca, tmp_path, "kubelet", NODE, ips=["127.0.0.1"])
    client = pki.ensure_client_cert(ca, tmp_path, "client", "kube-apiserver-kubelet-client", ["system:masters"])
    tls = tlspeer.uvicorn_options(str(serving.cert_path), str(serving.key_path), str(ca.cert_path))
    with_cert = ssl.create_default_context(cafile=str(ca.cert_path))
    with_cert.load_cert_chain(str(client.cert_path), str(client.key_path))
    runtime = _QuietRuntime() if request.param == "quiet" else FakeRuntime()
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"containers": [{"name": "main"}, {"name": "idle"}]}}
    await runtime.ensure_pod_network(ri.PodNetworkConfig("net", "10.244.9.0/24", "10.244.9.1", "mk-test"))
    sandbox = await runtime.run_pod_sandbox(ri.PodSandboxConfig("u1", "p", "ns", NODE, network="net"))
    await runtime.start_container(await runtime.create_container(sandbox, ri.ContainerConfig("main", "busybox")))
    await runtime.create_container(sandbox, ri.ContainerConfig("idle", "busybox"))
    port = pick_free_port()
    server = NodeServer(lambda: [_Node(runtime, pod)], host="127.0.0.1", port=port, tls=tls)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the node API did not start"
        await asyncio.sleep(0.01)
    yield NodeApi(f"127.0.0.1:{port}", with_cert, ssl.create_default_context(cafile=str(ca.cert_path)))
    await server.shutdown()
    await task


async def test_v5_stdin_close_ends_the_command_and_the_status_follows(node_api: NodeApi) -> None:
    async with connect(f"wss://{node_api.addr}/exec/ns/p/main?command=cat&input=1&output=1&error=1",
                       subprotocols=["v5.channel.k8s.io"], ssl=node_api.ssl) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "v5.channel.k8s.io"
        await ws.send(b"\x00hello")
        await ws.send(b"\x04" + b'{"Width":80,"Height":24}')  # no TTY: ignored
        await ws.send(bytes((exec_.CLOSE, exec_.STDIN)))
        async with asyncio.timeout(10):  # a hang guard: without the close the command never ends
            msg = await ws.recv()
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
    assert isinstance(msg, bytes) and msg[0] == exec_.ERROR
    assert orjson.loads(msg[1:]) == {"metadata": {}, "status": "Success"}


@pytest.mark.parametrize(("path", "code", "text"), [
    ("/exec/ns/nope/main?command=true&output=1", 404, "pod does not exist"),
    ("/exec/ns/p/ghost?command=true&output=1", 500, 'container not found ("ghost")'),
    ("/exec/ns/p/idle?command=true&output=1", 500, 'container not found ("idle")'),
    ("/exec/ns/p/main?command=true", 400, "you must specify at least 1 of stdin, stdout, stderr"),
])
async def test_refusals_come_before_the_upgrade(node_api: NodeApi, path: str, code: int, text: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as denied:
        async with connect(f"wss://{node_api.addr}{path}", subprotocols=["v5.channel.k8s.io"], ssl=node_api.ssl):  # type: ignore[list-item]
            pass
    assert (denied.value.response.status_code, denied.value.response.body.decode()) == (code, text)
    # A plain request (the apiserver's check for kubectl's SPDY fallback) answers the same.
    async with httpx.AsyncClient(verify=node_api.ssl) as http:
        r = await http.get(f"https://{node_api.addr}{path}")
    assert (r.status_code, r.text) == (code, text)


async def test_a_plain_request_that_passes_the_checks_is_told_to_upgrade(node_api: NodeApi) -> None:
    async with httpx.AsyncClient(verify=node_api.ssl) as http:
        r = await http.get(f"https://{node_api.addr}/exec/ns/p/main?command=true&output=1")
    assert (r.status_code, r.text) == (400, "Upgrade request required")


@pytest.mark.parametrize("node_api", ["hollow"], indirect=True)
async def test_a_hollow_node_says_it_cannot_exec(node_api: NodeApi) -> None:
    async with connect(f"wss://{node_api.addr}/exec/ns/p/main?command=true&output=1",
                       subprotocols=["v5.channel.k8s.io"], ssl=node_api.ssl) as ws:  # type: ignore[list-item]
        async with asyncio.timeout(10):
            msg = await ws.recv()
    assert isinstance(msg, bytes) and msg[0] == exec_.ERROR
    status = orjson.loads(msg[1:])
    assert status["status"] == "Failure"
    assert 'container "main" not found: a hollow node (--runtime fake) runs no processes' in status["message"]


@pytest.mark.parametrize("node_api", ["hollow"], indirect=True)
async def test_a_hollow_node_says_it_has_no_logs(node_api: NodeApi) -> None:
    async with httpx.AsyncClient(verify=node_api.ssl) as http:
        r = await http.get(f"https://{node_api.addr}/containerLogs/ns/p/main")
    assert r.status_code == 400
    assert r.text == 'container "main" not found: a hollow node (--runtime fake) runs no processes to read logs of'


async def test_the_node_api_refuses_callers_without_a_certificate_of_its_ca(node_api: NodeApi, tmp_path: Path) -> None:
    async with httpx.AsyncClient(verify=node_api.anonymous) as http:
        for path in ("/healthz", "/pods", "/containerLogs/ns/p/main", "/exec/ns/p/main?command=true&output=1"):
            r = await http.get(f"https://{node_api.addr}{path}")
            assert (r.status_code, r.text) == (401, "Unauthorized"), path
    with pytest.raises(websockets.InvalidStatus) as denied:
        async with connect(f"wss://{node_api.addr}/exec/ns/p/main?command=id&output=1",
                           subprotocols=["v5.channel.k8s.io"], ssl=node_api.anonymous):  # type: ignore[list-item]
            pass
    assert denied.value.response.status_code == 401
    # A certificate of another CA does not get past the handshake.
    other = pki.ensure_ca(tmp_path / "other")
    mallory = pki.ensure_client_cert(other, tmp_path / "other", "m", "mallory", ["system:masters"])
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    ctx.load_cert_chain(str(mallory.cert_path), str(mallory.key_path))
    with pytest.raises(httpx.HTTPError):
        async with httpx.AsyncClient(verify=ctx) as http:
            await http.get(f"https://{node_api.addr}/pods")
    # Plain HTTP is not served.
    with pytest.raises(httpx.HTTPError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://{node_api.addr}/healthz")
    async with httpx.AsyncClient(verify=node_api.ssl) as http:
        assert (await http.get(f"https://{node_api.addr}/healthz")).text == "ok"
