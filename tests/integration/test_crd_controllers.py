"""The controller-manager's controllers with custom resources, on a real apiserver: the garbage
collector resolves and watches custom kinds (a ConfigMap owned by a deleted Sprocket goes, a
Sprocket owned by a deleted ConfigMap goes), and the namespace controller deletes the custom
objects of a namespace being deleted."""

from __future__ import annotations

import pytest

from controllers.garbagecollector import GarbageCollector
from controllers.namespace import NamespaceController
from minik8s.api.resources import CONFIGMAPS, NAMESPACES, ResourceType
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.integration.crd_helpers import CRDS, create_crd, sprocket_crd, unique_group
from tests.waiting import eventually


@pytest.fixture
def sprockets(api_http):
    g = unique_group()
    create_crd(api_http, sprocket_crd(g))
    yield ResourceType(g, "v1", "Sprocket", "sprockets", True)
    api_http.delete(f"{CRDS}/sprockets.{g}")


def ref(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"]}


async def test_garbage_collector_follows_owner_references_to_and_from_custom_objects(client: ApiClient,
                                                                                     sprockets) -> None:
    ns = await new_namespace(client, "crdgc")
    async with running(client, lambda f: GarbageCollector(client, f)):
        owner = await client.create(sprockets, {"apiVersion": sprockets.group_version, "kind": "Sprocket",
                                              "metadata": {"name": "owner"}, "spec": {"image": "x"}}, namespace=ns)
        await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "child", "ownerReferences": [ref(owner)]}},
                            namespace=ns)
        cm = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "parent"}}, namespace=ns)
        await client.create(sprockets, {"apiVersion": sprockets.group_version, "kind": "Sprocket",
                                      "metadata": {"name": "owned", "ownerReferences": [ref(cm)]},
                                      "spec": {"image": "x"}}, namespace=ns)
        await client.delete(sprockets, "owner", namespace=ns)
        await eventually(lambda: _gone(client, CONFIGMAPS, "child", ns), what="the Sprocket's ConfigMap collected")
        await client.delete(CONFIGMAPS, "parent", namespace=ns)
        await eventually(lambda: _gone(client, sprockets, "owned", ns), what="the ConfigMap's Sprocket collected")


async def test_namespace_controller_deletes_custom_objects(client: ApiClient, sprockets) -> None:
    ns = await new_namespace(client, "crdns")
    await client.create(sprockets, {"apiVersion": sprockets.group_version, "kind": "Sprocket",
                                  "metadata": {"name": "w"}, "spec": {"image": "x"}}, namespace=ns)
    async with running(client, lambda f: NamespaceController(client, f)):
        await client.delete(NAMESPACES, ns)
        await eventually(lambda: _gone(client, sprockets, "w", ns), what="the Sprocket deleted with its namespace")
        await eventually(lambda: _gone(client, NAMESPACES, ns, None), what="the namespace removed")


async def _gone(client: ApiClient, rt: ResourceType, name: str, ns: str | None) -> bool:
    return await get_or_none(client, rt, name, namespace=ns) is None
