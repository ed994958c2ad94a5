"""mkctl get --sort-by against the real kubectl on the same objects: numbers, quantities mixed
with plain strings, names, times, missing fields, tables and -o name/custom-columns, errors."""

from __future__ import annotations

import json

import pytest

from tests.integration.mkctl_harness import mk, ns, same  # noqa: F401 - fixtures

VALUES = {"q-100m": "100m", "q-2": "2", "q-1e3": "1e3", "q-512mi": "512Mi", "q-1gi": "1Gi", "s-b": "B",
          "s-a10": "a10", "s-a9": "a9", "c10": "x", "c9": "x"}
TIMES = ["2024-03-01T10:00:00Z", "2023-12-31T23:59:59Z", "2024-03-01T09:59:59Z"]


@pytest.fixture
def sortable(kubectl, ns: str) -> str:
    docs = []
    for i, (name, v) in enumerate(VALUES.items()):
        meta = {"name": name, "annotations": {"t": TIMES[i % 3]}} if i < 6 else {"name": name}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": v}})
    for name, replicas in (("web", 3), ("api", 12), ("db", 1)):
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                     "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                              "template": {"metadata": {"labels": {"app": name}},
                                           "spec": {"containers": [{"name": "c", "image": f"img-{name}"}]}}}})
    r = kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    assert r.returncode == 0, r.stderr
    return ns


@pytest.mark.parametrize("args", [
    ["cm", "--sort-by=.data.v", "-o", "custom-columns=N:.metadata.name,V:.data.v"],
    ["cm", "--sort-by=.data.v"],
    ["cm", "--sort-by=metadata.name", "-o", "name"],
    ["cm", "--sort-by={.metadata.annotations.t}", "-o", "name"],  # times; missing ones first
    ["cm", "--sort-by={metadata.annotations.t}"],
    ["cm", "--sort-by=.metadata.uid", "-o", "name"],
    ["deploy", "--sort-by=.spec.replicas"],
    ["deploy", "--sort-by=.spec.replicas", "-o", "wide"],
    ["deploy", "--sort-by=.spec.template.spec.containers[0].image", "-o", "name"],
    ["deploy", "--sort-by=.spec.replicas", "-o", "jsonpath={.items[*].metadata.name}"],
    ["cm", "--sort-by=.data.nope"],                    # table: dropped, "No resources found"
    ["cm", "--sort-by=.data.nope", "-o", "name"],       # list: the error
    ["cm", "--sort-by={.bad", "-o", "name"],
    ["cm", "c9", "c10", "--sort-by=.metadata.name"],    # several fetched: kubectl sorts those first
    ["cm", "c9", "c10", "--sort-by=.metadata.name", "-o", "name"],
    ["cm", "c9", "--sort-by=.nope", "-o", "name"],      # one object: nothing to sort
    ["cm,deploy", "--sort-by=.metadata.name"],
])
def test_sort_by_matches_kubectl(mk, kubectl, sortable: str, args: list[str]) -> None:
    same(mk, kubectl, "get", *args, "-n", sortable)


def test_sort_by_yaml_orders_items(mk, sortable: str) -> None:
    out = json.loads(mk("get", "deploy", "-n", sortable, "--sort-by=.spec.replicas", "-o", "json").ok())
    assert [i["metadata"]["name"] for i in out["items"]] == ["db", "web", "api"]


def test_sort_by_refuses_maps(mk, sortable: str) -> None:
    r = mk("get", "deploy", "-n", sortable, "--sort-by=.metadata", "-o", "name")
    assert r.code == 1 and "{.metadata} is an unsortable type: map" in r.err
