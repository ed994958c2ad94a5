"""What the etcd store does beyond the conformance suite, on a real etcd: Kubernetes' key layout
under ``--etcd-prefix``, progress notifications after writes outside the prefix (an etcd shared
with another cluster), the servers flag, and a health answer naming etcd when it is gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from aetcd import rpc

from apiserver.storage.etcd import EtcdStorage, parse_servers
from apiserver.storage.interface import KeyValue, Unavailable
from tests.etcd_harness import EtcdProcess, start_etcd

GUARD = 30.0


@pytest.fixture
def etcd(tmp_path) -> EtcdProcess:
    server = start_etcd(tmp_path / "etcd")
    yield server
    server.stop()


@pytest.fixture
async def stores(etcd: EtcdProcess) -> AsyncIterator[tuple[EtcdStorage, EtcdStorage]]:
    a = EtcdStorage(etcd.url, prefix="/cluster-a", compaction_interval=0)
    b = EtcdStorage(etcd.url, prefix="/cluster-b/registry", compaction_interval=0)
    await a.start()
    await b.start()
    yield a, b
    await a.close()
    await b.close()


async def raw_keys(url: str) -> list[bytes]:
    async with grpc.aio.insecure_channel(url.removeprefix("http://")) as channel:
        resp = await rpc.KVStub(channel).Range(rpc.RangeRequest(key=b"\0", range_end=b"\0", keys_only=True))
    return [kv.key for kv in resp.kvs]


async def test_keys_live_under_the_prefix(stores, etcd) -> None:
    a, b = stores
    await a.create("/registry/pods/default/web", b"a")
    await b.create("/registry/pods/default/web", b"b")
    assert sorted(await raw_keys(etcd.url)) == [b"/cluster-a/pods/default/web",
                                                 b"/cluster-b/registry/pods/default/web"]
    assert (await a.get("/registry/pods/default/web")).value == b"a"
    assert [kv.key for kv in (await b.list("/registry/")).items] == ["/registry/pods/default/web"]
    assert await a.count("") == 1
    with pytest.raises(ValueError):
        await a.create("/elsewhere/x", b"")


async def test_progress_after_writes_outside_the_prefix(stores) -> None:
    a, b = stores
    kv = await a.create("/registry/pods/default/a", b"1")
    events = a.watch("/registry/", after=kv.mod_revision)
    waiting = asyncio.create_task(anext(events))
    await asyncio.sleep(0.2)  # the stream is live
    for i in range(3):
        await b.create(f"/registry/pods/default/b{i}", b"x")  # revisions a never sees events for
    current = await a.current_revision()
    assert current == kv.mod_revision + 3
    await a.request_progress()
    event = await asyncio.wait_for(waiting, GUARD)
    assert event.type == "PROGRESS" and event.kv == KeyValue("/registry/", b"", 0, current)
    # Changes under the prefix still come as changes after it.
    kv2 = await a.update("/registry/pods/default/a", b"2")
    event = await asyncio.wait_for(anext(events), GUARD)
    assert event.type == "PUT" and event.kv == kv2
    await events.aclose()


async def test_health_names_etcd_when_it_is_gone(etcd) -> None:
    store = EtcdStorage(etcd.url, compaction_interval=0, request_timeout=5)
    await store.start()
    try:
        assert await store.health() is None
        etcd.kill()
        why = await store.health()
        assert why is not None and f"etcd at {etcd.url} is unavailable" in why
        with pytest.raises(Unavailable):
            await store.create("/registry/pods/default/x", b"")
    finally:
        await store.close()


def test_parse_servers() -> None:
    assert parse_servers("http://127.0.0.1:2379,http://10.0.0.2:32379") == [
        ("http", "127.0.0.1", 2379), ("http", "10.0.0.2", 32379)]
    assert parse_servers("localhost") == [("http", "localhost", 2379)]
    for bad, why in [("", "no server"), ("ftp://x:1", r"not an http\(s\)"), ("http://a:1,https://b:2", "mixes"),
                     ("http://a:port", "bad port")]:
        with pytest.raises(ValueError, match=why):
            parse_servers(bad)


async def test_tls_with_client_certificates(tmp_path) -> None:
    # etcd serving HTTPS and requiring client certificates (--client-cert-auth), as a production
    # etcd does: the store connects with --etcd-cafile/--etcd-certfile/--etcd-keyfile's files.
    from tests.etcd_harness import make_tls

    tls = make_tls(tmp_path / "pki")
    server = start_etcd(tmp_path / "etcd", tls=tls)
    try:
        assert server.url.startswith("https://")
        store = EtcdStorage(server.url, ca_file=tls.ca, cert_file=tls.client_cert, key_file=tls.client_key,
                            compaction_interval=0)
        await store.start()
        try:
            events = store.watch("/registry/", after=0)
            kv = await store.create("/registry/secrets/default/s", b"v")
            assert (await asyncio.wait_for(anext(events), GUARD)).kv == kv
            await events.aclose()
        finally:
            await store.close()
        # Without a client certificate etcd refuses the connection: unreachable, said so.
        anonymous = EtcdStorage(server.url, ca_file=tls.ca, compaction_interval=0, request_timeout=5)
        await anonymous.start()
        try:
            why = await anonymous.health()
            assert why is not None and "unavailable" in why
        finally:
            await anonymous.close()
    finally:
        server.stop()
