"""Client failover between apiservers (issue #12): a kubeconfig names a primary ``server`` and the
cluster's other apiservers in its ``minik8s.io/servers`` extension; minik8s' clients (the async
ApiClient of the components, the one-shot client and process of ``mkctl``) move on to the next
server when theirs cannot be reached, and an informer's watch resumes from its last
resourceVersion there, without a relist. Two real apiservers on one real etcd, sharing one
``--cert-dir`` (one CA, as the control-plane hosts of one cluster); the primary is SIGKILLed."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS
from minik8s.client import connection, kubeconfig
from minik8s.client.informer import Informer
from minik8s.client.oneshot import OneShotClient
from minik8s.client.rest import ApiClient
from tests.conftest import pick_free_port
from tests.etcd_harness import etcd_factory  # noqa: F401 (fixture)

NS = "default"


def cm(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": NS}, "data": {"k": name}}


async def test_clients_and_informer_fail_over_to_the_next_apiserver(
        apiserver_factory, etcd_factory, tmp_path, kubectl_path) -> None:
    etcd = etcd_factory()
    pki = tmp_path / "pki"
    a = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--cert-dir", str(pki)))
    b = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--cert-dir", str(pki)))
    # A server nobody listens on comes first among the others: failover moves on past it too.
    dead = f"https://127.0.0.1:{pick_free_port()}"
    path = a.kubeconfig_for("ha-admin", ("system:masters",), other_servers=(dead, b.url))

    # The real kubectl reads the same file: it talks to the primary and ignores the extension.
    run = subprocess.run([kubectl_path, "--kubeconfig", str(path), "--cache-dir", str(tmp_path / "kc"),
                          "get", "configmaps", "-n", NS, "-o", "name"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr

    access = kubeconfig.load(str(path)).resolve()
    assert access.other_servers == (dead, b.url)
    oneshot = OneShotClient(connection.from_access(access), timeout=10)
    async with ApiClient.from_kubeconfig(str(path), timeout=10) as client:
        assert client.server == a.url
        await client.create(CONFIGMAPS, cm("before"), namespace=NS)
        assert (await oneshot.get(CONFIGMAPS, "before", namespace=NS))["data"] == {"k": "before"}

        informer = Informer(client, CONFIGMAPS, namespace=NS)
        lists = 0
        real_list = client.list_all

        async def counted_list(*args, **kwargs):
            nonlocal lists
            lists += 1
            return await real_list(*args, **kwargs)

        client.list_all = counted_list  # type: ignore[method-assign]  (counts, then asks the server)
        seen: list[str] = []
        informer.add_handler(on_add=lambda obj: seen.append(obj["metadata"]["name"]))
        task = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.wait_synced(), 30)
            assert "before" in seen and lists == 1

            a.proc.kill()  # SIGKILL: no goodbye, its sockets reset
            a.proc.wait()

            # The next write goes to b (past the dead server), acknowledged once.
            made = await client.create(CONFIGMAPS, cm("after"), namespace=NS)
            assert client.server == b.url
            assert made["metadata"]["name"] == "after"

            # The informer's watch carried on from its resourceVersion on b: the new object
            # arrives by watch, with no second list.
            async def arrived() -> None:
                while "after" not in seen:
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(arrived(), 60)
            assert lists == 1, "the informer relisted instead of resuming its watch"
            assert informer.store.get(f"{NS}/after") is not None

            # The one-shot client (mkctl's) shares nothing with the async one and fails over too.
            assert oneshot.server == a.url
            got = await oneshot.get(CONFIGMAPS, "after", namespace=NS)
            assert got["metadata"]["uid"] == made["metadata"]["uid"] and oneshot.server == b.url
        finally:
            informer.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await oneshot.close()

    # mkctl as a process, given the same kubeconfig while the primary is down.
    out = subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--kubeconfig", str(path),
                          "get", "configmaps", "-n", NS, "-o", "name"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "configmap/after" in out.stdout.split()


async def test_an_http_answer_is_never_a_reason_to_fail_over(apiserver_factory, tmp_path) -> None:
    """A 404 from the primary is its answer: the client does not try the other server."""
    a = apiserver_factory()
    dead = f"https://127.0.0.1:{pick_free_port()}"
    path = a.kubeconfig_for("ha-admin", ("system:masters",), other_servers=(dead,))
    async with ApiClient.from_kubeconfig(str(path), timeout=10) as client:
        try:
            await client.get(CONFIGMAPS, "absent", namespace=NS)
        except errors.NotFound:
            pass
        else:
            raise AssertionError("a missing ConfigMap was found")
        assert client.server == a.url
    # With every server gone, the error names the last one tried and says why.
    a.stop()
    async with ApiClient.from_kubeconfig(str(path), timeout=10) as client:
        try:
            await client.get(CONFIGMAPS, "absent", namespace=NS)
        except errors.ConnectionFailed as e:
            assert "connection failed" in str(e)
        else:
            raise AssertionError("a request reached a stopped apiserver")


async def test_a_websocket_upgrade_fails_over_too(apiserver_factory) -> None:
    """exec/attach/port-forward open a WebSocket: a dead primary hands it to the next server,
    whose answer (here 404 for a pod that does not exist) is the caller's."""
    a = apiserver_factory()
    dead = f"https://127.0.0.1:{pick_free_port()}"
    path = a.kubeconfig_for("ha-admin", ("system:masters",), server_url=dead, other_servers=(a.url,))
    async with ApiClient.from_kubeconfig(str(path), timeout=10) as client:
        try:
            await client.websocket(f"/api/v1/namespaces/{NS}/pods/absent/exec",
                                   params=[("command", "true"), ("stdout", "true")],
                                   protocols=("v4.channel.k8s.io",))
        except errors.NotFound:
            pass
        else:
            raise AssertionError("an exec into a missing pod was upgraded")
        assert client.server == a.url
