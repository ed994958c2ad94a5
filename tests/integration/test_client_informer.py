"""Informers and the shared factory against a real apiserver: list, watch, indexes, handlers,
and catching up after the apiserver went away."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import pytest

from minik8s.api.resources import CONFIGMAPS, NAMESPACES, PODS
from minik8s.client import cache
from minik8s.client.informer import Informer, SharedInformerFactory
from minik8s.client.rest import ApiClient


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"i-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def cm(name: str, value: str = "v", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": value}}


class Recorder:
    """Handlers that log what they saw and let a test wait for a condition on the log."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, str | None]] = []
        self._changed = asyncio.Event()

    def _note(self, kind: str, obj: dict) -> None:
        self.log.append((kind, obj["metadata"]["name"], (obj.get("data") or {}).get("k")))
        self._changed.set()

    def on_add(self, obj: dict) -> None:
        self._note("add", obj)

    def on_update(self, old: dict, new: dict) -> None:
        assert old["metadata"]["name"] == new["metadata"]["name"]
        self._note("update", new)

    def on_delete(self, obj: dict) -> None:
        self._note("delete", obj)

    async def wait_for(self, cond: Callable[[list], bool], timeout: float = 30.0) -> None:
        async def loop() -> None:
            while not cond(self.log):
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    def handlers(self) -> dict:
        return {"on_add": self.on_add, "on_update": self.on_update, "on_delete": self.on_delete}


async def run_informer(inf: Informer) -> asyncio.Task:
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.wait_synced(), 30)
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_list_then_watch_delivers_every_change(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("before"), namespace=ns)
    inf = Informer(client, CONFIGMAPS, namespace=ns)
    rec = Recorder()
    inf.add_handler(**rec.handlers())
    assert not inf.has_synced
    task = await run_informer(inf)
    try:
        assert inf.has_synced
        assert rec.log == [("add", "before", "v")]
        await client.create(CONFIGMAPS, cm("after"), namespace=ns)
        await client.patch(CONFIGMAPS, "before", {"data": {"k": "v2"}}, namespace=ns)
        await client.delete(CONFIGMAPS, "after", namespace=ns)
        await rec.wait_for(lambda log: ("delete", "after", "v") in log)
        assert rec.log == [("add", "before", "v"), ("add", "after", "v"), ("update", "before", "v2"),
                           ("delete", "after", "v")]
        assert inf.store.keys() == [f"{ns}/before"]
        assert inf.store.get(f"{ns}/before")["data"]["k"] == "v2"
        assert inf.last_sync_resource_version is not None
    finally:
        await stop(task)


async def test_selectors_and_indexes(client: ApiClient, ns: str):
    inf = Informer(client, CONFIGMAPS, namespace=ns, label_selector="team",
                   indexers={"team": cache.label_index("team")})
    rec = Recorder()
    inf.add_handler(on_add=rec.on_add)
    task = await run_informer(inf)
    try:
        await client.create(CONFIGMAPS, cm("a", team="red"), namespace=ns)
        await client.create(CONFIGMAPS, cm("b", team="blue"), namespace=ns)
        await client.create(CONFIGMAPS, cm("c", team="red"), namespace=ns)
        await client.create(CONFIGMAPS, cm("unlabelled"), namespace=ns)
        await rec.wait_for(lambda log: len(log) == 3)
        assert sorted(o["metadata"]["name"] for o in inf.store.by_index("team", "red")) == ["a", "c"]
        assert [o["metadata"]["name"] for o in inf.store.by_index("team", "blue")] == ["b"]
        assert len(inf.store.by_index(cache.NAMESPACE_INDEX, ns)) == 3
        # a relabel moves the object between index values
        await client.patch(CONFIGMAPS, "b", {"metadata": {"labels": {"team": "red"}}}, namespace=ns)
        for _ in range(300):
            if len(inf.store.by_index("team", "red")) == 3:
                break
            await asyncio.sleep(0.01)
        assert inf.store.by_index("team", "blue") == []
    finally:
        await stop(task)


async def test_node_name_index_on_pods(client: ApiClient, ns: str):
    inf = Informer(client, PODS, namespace=ns, indexers={cache.NODE_NAME_INDEX: cache.node_name_index})
    task = await run_informer(inf)
    try:
        for name in ("p1", "p2"):
            await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)
        await client.create_subresource(PODS, "p1", "binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
            "target": {"kind": "Node", "name": "n1"}}, namespace=ns)
        for _ in range(300):
            if inf.store.by_index(cache.NODE_NAME_INDEX, "n1"):
                break
            await asyncio.sleep(0.01)
        assert [p["metadata"]["name"] for p in inf.store.by_index(cache.NODE_NAME_INDEX, "n1")] == ["p1"]
        assert [p["metadata"]["name"] for p in inf.store.by_index(cache.NODE_NAME_INDEX, "")] == ["p2"]
    finally:
        await stop(task)


async def test_late_handler_is_replayed_the_cache(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("x"), namespace=ns)
    inf = Informer(client, CONFIGMAPS, namespace=ns)
    task = await run_informer(inf)
    try:
        rec = Recorder()
        inf.add_handler(**rec.handlers())
        assert rec.log == [("add", "x", "v")]
    finally:
        await stop(task)


async def test_a_failing_handler_does_not_stop_the_informer(client: ApiClient, ns: str):
    inf = Informer(client, CONFIGMAPS, namespace=ns)

    def broken(obj: dict) -> None:
        raise RuntimeError("handler bug")

    rec = Recorder()
    inf.add_handler(on_add=broken)
    inf.add_handler(on_add=rec.on_add)
    task = await run_informer(inf)
    try:
        await client.create(CONFIGMAPS, cm("one"), namespace=ns)
        await client.create(CONFIGMAPS, cm("two"), namespace=ns)
        await rec.wait_for(lambda log: len(log) == 2)
    finally:
        await stop(task)


async def test_resync_redelivers_unchanged_objects(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("r"), namespace=ns)
    inf = Informer(client, CONFIGMAPS, namespace=ns, resync_period=0.05)
    same_rv: list[bool] = []
    got_two = asyncio.Event()

    def on_update(old: dict, new: dict) -> None:
        same_rv.append(old["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"])
        if len(same_rv) >= 2:
            got_two.set()

    inf.add_handler(on_update=on_update)
    task = await run_informer(inf)
    try:
        await asyncio.wait_for(got_two.wait(), 30)
        assert all(same_rv)
    finally:
        await stop(task)


async def test_shared_factory_shares_and_syncs(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("s"), namespace=ns)
    factory = SharedInformerFactory(client)
    a = factory.informer(CONFIGMAPS, namespace=ns)
    b = factory.informer(CONFIGMAPS, namespace=ns, indexers={"team": cache.label_index("team")})
    other = factory.informer(CONFIGMAPS, namespace=ns, label_selector="x=y")
    assert a is b and a is not other
    assert "team" in a.store.indexers
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30)
        assert a.store.keys() == [f"{ns}/s"] and other.store.keys() == []
        late = factory.informer(PODS, namespace=ns)
        factory.start()
        assert await factory.wait_for_sync(timeout=30)
        assert late.has_synced
    finally:
        await factory.shutdown()


async def test_informer_catches_up_after_apiserver_restart(apiserver_factory, caplog):
    """Changes made while the informer could not watch are delivered once it is back, whether
    by resuming the watch or by relisting (a short history makes the relist likely), and the
    outage is logged once, not once per retry."""
    server = apiserver_factory(extra_args=("--watch-history", "0.2", "--compaction-interval", "0.1"))
    async with server.client(timeout=5) as client:
        for name in ("keep", "gone", "changed"):
            await client.create(CONFIGMAPS, cm(name), namespace="default")
        inf = Informer(client, CONFIGMAPS, namespace="default")
        rec = Recorder()
        inf.add_handler(**rec.handlers())
        caplog.set_level(logging.INFO, logger="minik8s.client.informer")
        task = await run_informer(inf)
        try:
            server.stop()
            # Let the informer fail a few times so the log-once rule is exercised.
            for _ in range(200):
                if sum("cannot reach the apiserver" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)
            server.start()
            async with server.client() as other:
                await other.delete(CONFIGMAPS, "gone", namespace="default")
                await other.patch(CONFIGMAPS, "changed", {"data": {"k": "v2"}}, namespace="default")
                await other.create(CONFIGMAPS, cm("new"), namespace="default")
            await rec.wait_for(lambda log: {("delete", "gone", "v"), ("update", "changed", "v2"),
                                             ("add", "new", "v")} <= set(log), timeout=60)
            assert sorted(inf.store.keys()) == ["default/changed", "default/keep", "default/new"]
            assert sum("cannot reach the apiserver" in r.getMessage() for r in caplog.records) == 1
            assert not [r for r in caplog.records if r.exc_info], "no tracebacks for an unreachable server"
        finally:
            await stop(task)


async def test_relist_diffs_against_the_cache(client: ApiClient, ns: str):
    """A relist (as after a 410) tells handlers exactly what changed meanwhile: deletes for
    vanished objects, updates only where the resourceVersion moved, adds for new ones."""
    for name in ("same", "gone", "changed"):
        await client.create(CONFIGMAPS, cm(name), namespace=ns)
    inf = Informer(client, CONFIGMAPS, namespace=ns)
    rec = Recorder()
    inf.add_handler(**rec.handlers())
    await stop(await run_informer(inf))
    rec.log.clear()

    await client.delete(CONFIGMAPS, "gone", namespace=ns)
    await client.patch(CONFIGMAPS, "changed", {"data": {"k": "v2"}}, namespace=ns)
    await client.create(CONFIGMAPS, cm("new"), namespace=ns)
    task = asyncio.create_task(inf.run())  # run() always starts with a list
    try:
        await rec.wait_for(lambda log: len(log) >= 3)
        assert sorted(rec.log) == [("add", "new", "v"), ("delete", "gone", "v"), ("update", "changed", "v2")]
        assert sorted(inf.store.keys()) == [f"{ns}/changed", f"{ns}/new", f"{ns}/same"]
    finally:
        await stop(task)
