"""The lease endpoint reconciler's leases on a real store: every renewing apiserver is live, one
whose lease is older than the TTL drops out and its lease is deleted, a stopped one is gone at
once (the Endpoints writing itself is covered by tests/integration/test_apiserver_ha_etcd.py)."""

from __future__ import annotations

from apiserver.endpoint_reconciler import PREFIX, LeaseReconciler, default_type
from apiserver.storage.sqlite import SQLiteStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_leases_expire_after_the_ttl(tmp_path) -> None:
    store = SQLiteStorage(str(tmp_path / "store.db"), compaction_interval=0)
    await store.start()
    clock = Clock()
    try:
        a = LeaseReconciler(None, store, cluster_ip="10.96.0.1", address="10.0.0.2", port=6443, clock=clock)  # type: ignore[arg-type]
        b = LeaseReconciler(None, store, cluster_ip="10.96.0.1", address="10.0.0.1", port=6443, clock=clock)  # type: ignore[arg-type]
        await a.renew()
        await b.renew()
        assert await a.live() == ["10.0.0.1", "10.0.0.2"]
        clock.now += 10  # a renews on time, b does not
        await a.renew()
        clock.now += 10
        assert await a.live() == ["10.0.0.2"]
        assert [kv.key for kv in (await store.list(PREFIX)).items] == [PREFIX + "10.0.0.2"]
        await b.renew()  # back: live again
        assert await b.live() == ["10.0.0.1", "10.0.0.2"]
        await store.delete(b.key)  # what stop() does first
        assert await a.live() == ["10.0.0.2"]
    finally:
        await store.close()


def test_default_type() -> None:
    assert default_type(None, etcd=True) == "lease"
    assert default_type(None, etcd=False) == "master-count"
    assert default_type("none", etcd=True) == "none"
