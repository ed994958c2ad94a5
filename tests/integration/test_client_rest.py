"""ApiClient against a real apiserver: every verb, the error tree, watch streams, kubeconfig."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, NODES, PODS
from minik8s.client import kubeconfig
from minik8s.client.rest import ApiClient


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def cm(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": "v"}}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


async def test_create_get_update_delete(client: ApiClient, ns: str):
    created = await client.create(CONFIGMAPS, cm("a"), namespace=ns)
    assert created["metadata"]["namespace"] == ns and created["metadata"]["uid"]
    got = await client.get(CONFIGMAPS, "a", namespace=ns)
    assert got == created

    got["data"]["k"] = "v2"
    updated = await client.update(CONFIGMAPS, got)
    assert updated["data"]["k"] == "v2"
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    # The stale resourceVersion of `created` makes a PUT a lost race: 409 Conflict.
    created["data"]["k"] = "stale"
    with pytest.raises(errors.Conflict) as exc:
        await client.update(CONFIGMAPS, created)
    assert exc.value.code == 409

    await client.delete(CONFIGMAPS, "a", namespace=ns)
    with pytest.raises(errors.NotFound) as exc:
        await client.get(CONFIGMAPS, "a", namespace=ns)
    assert exc.value.reason == "NotFound" and '"a" not found' in exc.value.message


async def test_create_twice_is_already_exists(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("dup"), namespace=ns)
    with pytest.raises(errors.AlreadyExists) as exc:
        await client.create(CONFIGMAPS, cm("dup"), namespace=ns)
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"


async def test_invalid_object_names_the_field(client: ApiClient, ns: str):
    with pytest.raises(errors.Invalid) as exc:
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
                                   "spec": {"containers": [{"name": "c"}]}}, namespace=ns)
    assert exc.value.code == 422
    assert any("image" in (c.get("field") or "") for c in exc.value.causes)


async def test_namespace_comes_from_object_then_client_default(client: ApiClient, ns: str):
    obj = cm("in-obj")
    obj["metadata"]["namespace"] = ns
    assert (await client.create(CONFIGMAPS, obj))["metadata"]["namespace"] == ns
    assert (await client.get(CONFIGMAPS, "in-obj", namespace=ns))["metadata"]["name"] == "in-obj"
    made = await client.create(CONFIGMAPS, cm(f"dflt-{ns}"))
    try:
        assert made["metadata"]["namespace"] == "default"
    finally:
        await client.delete(CONFIGMAPS, f"dflt-{ns}")


async def test_dry_run_writes_nothing(client: ApiClient, ns: str):
    out = await client.create(CONFIGMAPS, cm("dry"), namespace=ns, dry_run=True)
    assert out["metadata"]["name"] == "dry"
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "dry", namespace=ns)


async def test_list_with_selectors_and_pages(client: ApiClient, ns: str):
    for i in range(7):
        await client.create(CONFIGMAPS, cm(f"x{i}", app="web" if i % 2 else "db"), namespace=ns)
    web = await client.list(CONFIGMAPS, namespace=ns, label_selector="app=web")
    assert web["kind"] == "ConfigMapList"
    assert sorted(o["metadata"]["name"] for o in web["items"]) == ["x1", "x3", "x5"]
    named = await client.list(CONFIGMAPS, namespace=ns, field_selector="metadata.name=x4")
    assert [o["metadata"]["name"] for o in named["items"]] == ["x4"]

    page = await client.list(CONFIGMAPS, namespace=ns, limit=3)
    assert len(page["items"]) == 3 and page["metadata"].get("continue")
    everything = await client.list_all(CONFIGMAPS, namespace=ns, limit=3)
    assert sorted(o["metadata"]["name"] for o in everything["items"]) == [f"x{i}" for i in range(7)]
    assert "continue" not in everything["metadata"] and everything["metadata"]["resourceVersion"]


async def test_list_all_namespaces(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("everywhere"), namespace=ns)
    items = (await client.list_all(CONFIGMAPS))["items"]
    assert any(o["metadata"]["namespace"] == ns for o in items)


async def test_bad_selector_is_bad_request(client: ApiClient, ns: str):
    with pytest.raises(errors.BadRequest):
        await client.list(CONFIGMAPS, namespace=ns, label_selector="a in x")


async def test_three_patch_types(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("p", app="web"), namespace=ns)
    out = await client.patch(CONFIGMAPS, "p", {"data": {"m": "1"}}, namespace=ns)
    assert out["data"] == {"k": "v", "m": "1"}
    out = await client.patch(CONFIGMAPS, "p", [{"op": "remove", "path": "/data/k"}], namespace=ns, patch_type="json")
    assert out["data"] == {"m": "1"}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}},
                                 "spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}}}}
    await client.create(DEPLOYMENTS, dep, namespace=ns)
    out = await client.patch(DEPLOYMENTS, "d", {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y:2"}]}}}},
                             namespace=ns, patch_type="strategic")
    images = {c["name"]: c["image"] for c in out["spec"]["template"]["spec"]["containers"]}
    assert images == {"a": "x:1", "b": "y:2"}, "strategic merge keys containers by name"
    with pytest.raises(ValueError):
        await client.patch(CONFIGMAPS, "p", {}, namespace=ns, patch_type="yaml")  # type: ignore[arg-type]


async def test_server_side_apply_creates_then_updates(client: ApiClient, ns: str):
    out = await client.patch(CONFIGMAPS, "ssa", cm("ssa"), namespace=ns, patch_type="apply", field_manager="test")
    assert out["data"] == {"k": "v"}
    again = cm("ssa")
    again["data"] = {"k": "v2"}
    out = await client.patch(CONFIGMAPS, "ssa", again, namespace=ns, patch_type="apply", field_manager="test")
    assert out["data"] == {"k": "v2"}


async def test_server_side_apply_needs_a_field_manager(client: ApiClient, ns: str):
    with pytest.raises(ValueError):
        await client.patch(CONFIGMAPS, "ssa", cm("ssa"), namespace=ns, patch_type="apply")


async def test_status_and_binding_subresources(client: ApiClient, ns: str):
    p = await client.create(PODS, pod("sub"), namespace=ns)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "sub"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    await client.create_subresource(PODS, "sub", "binding", binding, namespace=ns)
    bound = await client.get(PODS, "sub", namespace=ns)
    assert bound["spec"]["nodeName"] == "node-1"

    bound["status"] = {**bound.get("status", {}), "phase": "Running"}
    bound["spec"]["nodeName"] = "elsewhere"  # ignored: /status cannot change spec
    out = await client.update_status(PODS, bound)
    assert out["status"]["phase"] == "Running" and out["spec"]["nodeName"] == "node-1"
    st = await client.get_subresource(PODS, "sub", "status", namespace=ns)
    assert st["status"]["phase"] == "Running"
    out = await client.patch(PODS, "sub", {"status": {"message": "hi"}}, namespace=ns, subresource="status")
    assert out["status"]["message"] == "hi"
    assert p["metadata"]["uid"] == out["metadata"]["uid"]


async def test_delete_with_preconditions_and_collection(client: ApiClient, ns: str):
    await client.create(CONFIGMAPS, cm("pre"), namespace=ns)
    with pytest.raises(errors.Conflict):
        await client.delete(CONFIGMAPS, "pre", namespace=ns, preconditions={"uid": "not-the-uid"})
    for i in range(3):
        await client.create(CONFIGMAPS, cm(f"col{i}", batch="1"), namespace=ns)
    await client.delete_collection(CONFIGMAPS, namespace=ns, label_selector="batch=1")
    left = await client.list(CONFIGMAPS, namespace=ns, label_selector="batch=1")
    assert left["items"] == []
    assert (await client.get(CONFIGMAPS, "pre", namespace=ns))["metadata"]["name"] == "pre"


async def test_cluster_scoped_ignores_namespace(client: ApiClient):
    name = f"n-{uuid.uuid4().hex[:6]}"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    created = await client.create(NODES, node, namespace="ignored")
    assert "namespace" not in created["metadata"]
    assert (await client.get(NODES, name))["metadata"]["name"] == name
    await client.delete(NODES, name)


async def test_watch_streams_changes_in_order(client: ApiClient, ns: str):
    rv = (await client.list(CONFIGMAPS, namespace=ns))["metadata"]["resourceVersion"]
    seen: list[tuple[str, str, str | None]] = []

    async def consume():
        async with contextlib.aclosing(client.watch(CONFIGMAPS, namespace=ns, resource_version=rv,
                                                    timeout_seconds=60)) as stream:
            async for ev in stream:
                if ev.type == "BOOKMARK":
                    continue
                seen.append((ev.type, ev.object["metadata"]["name"], (ev.object.get("data") or {}).get("k")))
                if ev.type == "DELETED":
                    return

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, cm("w"), namespace=ns)
    await client.patch(CONFIGMAPS, "w", {"data": {"k": "v2"}}, namespace=ns)
    await client.delete(CONFIGMAPS, "w", namespace=ns)
    await asyncio.wait_for(task, 30)
    assert seen == [("ADDED", "w", "v"), ("MODIFIED", "w", "v2"), ("DELETED", "w", "v2")]


async def test_watch_with_selectors_and_many_events(client: ApiClient, ns: str):
    rv = (await client.list(CONFIGMAPS, namespace=ns))["metadata"]["resourceVersion"]
    for i in range(50):
        await client.create(CONFIGMAPS, cm(f"m{i}", keep="yes" if i % 5 == 0 else "no"), namespace=ns)
    names = []
    async with contextlib.aclosing(client.watch(CONFIGMAPS, namespace=ns, resource_version=rv,
                                                label_selector="keep=yes", timeout_seconds=60)) as stream:
        async for ev in stream:
            if ev.type == "ADDED":
                names.append(ev.object["metadata"]["name"])
            if len(names) == 10:
                break
    assert names == [f"m{i}" for i in range(0, 50, 5)]


async def test_watch_from_compacted_revision_raises_gone(apiserver_factory):
    # A restarted apiserver has an empty watch-cache ring, so an old resourceVersion falls back
    # to the store's history, which a short history window has compacted away: 410.
    server = apiserver_factory(extra_args=("--watch-history", "0.2", "--compaction-interval", "0.1"))
    async with server.client() as c:
        first = await c.create(CONFIGMAPS, cm("old"), namespace="default")
        for i in range(5):
            await c.patch(CONFIGMAPS, "old", {"data": {"k": str(i)}}, namespace="default")
    server.stop()
    server.start()
    async with server.client() as c:
        with pytest.raises(errors.Gone):
            # Retried until compaction has run on the new process; the bound is only a backstop.
            for _ in range(100):
                async with contextlib.aclosing(c.watch(CONFIGMAPS, namespace="default",
                                                       resource_version=first["metadata"]["resourceVersion"],
                                                       timeout_seconds=1)) as stream:
                    async for _ev in stream:
                        pass
                await asyncio.sleep(0.1)


async def test_unreachable_server_is_connection_failed(free_port: int):
    async with ApiClient(f"http://127.0.0.1:{free_port}", timeout=5) as c:
        with pytest.raises(errors.ConnectionFailed):
            await c.get(NAMESPACES, "default")
        with pytest.raises(errors.ConnectionFailed):
            async for _ in c.watch(PODS):
                pass


async def test_from_kubeconfig_reaches_the_server(apiserver_process, tmp_path, monkeypatch):
    """A kubeconfig written with the CA and a client certificate embedded verifies the server
    and authenticates; a token nobody issued is refused with 401."""
    pki = apiserver_process.pki
    path = tmp_path / "config"
    kubeconfig.write(str(path), apiserver_process.url, context="itest", namespace="kube-system",
                     ca_data=(pki / "ca.crt").read_bytes(), client_cert_data=(pki / "admin.crt").read_bytes(),
                     client_key_data=(pki / "admin.key").read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(path))
    async with ApiClient.from_kubeconfig() as c:
        assert c.namespace == "kube-system"
        got = await c.get(NAMESPACES, "kube-system")
        assert got["metadata"]["name"] == "kube-system"
    kubeconfig.write(str(path), apiserver_process.url, context="bogus", ca_data=(pki / "ca.crt").read_bytes(),
                     token="secret")
    async with ApiClient.from_kubeconfig(context="bogus") as c:
        assert c._headers["Authorization"] == "Bearer secret"
        with pytest.raises(errors.Unauthorized):
            await c.get(NAMESPACES, "kube-system")


async def test_raw_request(client: ApiClient):
    resp = await client.request("GET", "/version")
    assert resp.json()["major"] == "1"
    with pytest.raises(errors.NotFound):
        await client.request("GET", "/api/v1/nonsense-resources")
