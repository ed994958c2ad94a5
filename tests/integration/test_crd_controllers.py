"""The controller-manager's controllers with custom resources, on a real apiserver: the garbage
collector resolves and watches custom kinds (a ConfigMap owned by a deleted Widget goes, a
Widget owned by a deleted ConfigMap goes), and the namespace controller deletes the custom
objects of a namespace being deleted."""

from __future__ import annotations

import pytest

from controllers.garbagecollector import GarbageCollector
from controllers.namespace import NamespaceController
from minik8s.api.resources import CONFIGMAPS, NAMESPACES, ResourceType
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import eventually, get_or_none, new_namespace, running
from tests.integration.crd_helpers import CRDS, create_crd, unique_group, widget_crd


@pytest.fixture
def widgets(api_http):
    g = unique_group()
    create_crd(api_http, widget_crd(g))
    yield ResourceType(g, "v1", "Widget", "widgets", True)
    api_http.delete(f"{CRDS}/widgets.{g}")


def ref(owner: dict) -> dict:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"]}


async def test_garbage_collector_follows_owner_references_to_and_from_custom_objects(client: ApiClient,
                                                                                     widgets) -> None:
    ns = await new_namespace(client, "crdgc")
    async with running(client, lambda f: GarbageCollector(client, f)):
        owner = await client.create(widgets, {"apiVersion": widgets.group_version, "kind": "Widget",
                                              "metadata": {"name": "owner"}, "spec": {"image": "x"}}, namespace=ns)
        await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "child", "ownerReferences": [ref(owner)]}},
                            namespace=ns)
        cm = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "parent"}}, namespace=ns)
        await client.create(widgets, {"apiVersion": widgets.group_version, "kind": "Widget",
                                      "metadata": {"name": "owned", "ownerReferences": [ref(cm)]},
                                      "spec": {"image": "x"}}, namespace=ns)
        await client.delete(widgets, "owner", namespace=ns)
        await eventually(lambda: _gone(client, CONFIGMAPS, "child", ns), what="the Widget's ConfigMap collected")
        await client.delete(CONFIGMAPS, "parent", namespace=ns)
        await eventually(lambda: _gone(client, widgets, "owned", ns), what="the ConfigMap's Widget collected")


async def test_namespace_controller_deletes_custom_objects(client: ApiClient, widgets) -> None:
    ns = await new_namespace(client, "crdns")
    await client.create(widgets, {"apiVersion": widgets.group_version, "kind": "Widget",
                                  "metadata": {"name": "w"}, "spec": {"image": "x"}}, namespace=ns)
    async with running(client, lambda f: NamespaceController(client, f)):
        await client.delete(NAMESPACES, ns)
        await eventually(lambda: _gone(client, widgets, "w", ns), what="the Widget deleted with its namespace")
        await eventually(lambda: _gone(client, NAMESPACES, ns, None), what="the namespace removed")


async def _gone(client: ApiClient, rt: ResourceType, name: str, ns: str | None) -> bool:
    return await get_or_none(client, rt, name, namespace=ns) is None
