"""Pure pieces of mkctl's kustomize and --sort-by, with figures taken from the real tools:
kustomize's content hash (kubectl kustomize named a generated ConfigMap of literals a=1 and
b=two ``cfg-5m9tg7g54f``), image splitting, and kubectl 1.32's sort order."""

from __future__ import annotations

import pytest

from minik8s.cli import sortby
from minik8s.cli.kust import generate, patch, transform
from minik8s.cli.session import CliError


def test_content_hash_is_kustomizes() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "two"}}
    assert generate.content_hash(cm) == "5m9tg7g54f"
    renamed = {**cm, "metadata": {"name": "prod-cfg"}}
    assert generate.content_hash(renamed) == "5m9tg7g54f"  # kustomize reads the name as empty
    assert generate.content_hash({**cm, "data": {"a": "2", "b": "two"}}) != "5m9tg7g54f"


def test_split_image_keeps_a_registry_port_in_the_name() -> None:
    assert transform.split_image("nginx:1.25") == ("nginx", ":1.25")
    assert transform.split_image("registry.local:5000/x/y") == ("registry.local:5000/x/y", "")
    assert transform.split_image("registry.local:5000/x/y:2@sha256:ab") == ("registry.local:5000/x/y", ":2@sha256:ab")


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}}
    out = patch.json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "replace", "path": "/a/b/0",
                                                                               "value": 0},
                                 {"op": "copy", "from": "/a/b", "path": "/c"}, {"op": "remove", "path": "/a/b/1"}])
    assert out == {"a": {"b": [0, 3]}, "c": [0, 2, 3]} and doc == {"a": {"b": [1, 2]}}
    with pytest.raises(CliError):
        patch.json_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])


def _sorted(values: list) -> list:
    objs = [{"metadata": {"name": str(i)}, "v": v} for i, v in enumerate(values)]
    return [o.get("v") for o in sortby.sort_objects(objs, ".v")]


def test_sort_by_quantities_then_strings_bytewise() -> None:
    assert _sorted(["1Gi", "512Mi", "2", "100m", "a10", "a9", "B", "1e3"]) == \
        ["100m", "2", "1e3", "512Mi", "1Gi", "B", "a10", "a9"]
    assert _sorted([3, 1, 2]) == [1, 2, 3]
    assert _sorted(["2024-03-01T10:00:00Z", "2023-12-31T23:59:59Z"]) == ["2023-12-31T23:59:59Z",
                                                                          "2024-03-01T10:00:00Z"]


def test_sort_by_refuses_what_kubectl_refuses() -> None:
    with pytest.raises(CliError, match="unsortable"):
        _sorted([{"a": 1}, {"a": 2}])
    with pytest.raises(CliError, match="couldn't find any field"):
        sortby.sort_objects([{"a": 1}, {"a": 2}], ".b")
    with pytest.raises(CliError, match="unexpected path string"):
        sortby.relaxed("{.a")
    assert sortby.relaxed("a.b") == sortby.relaxed(".a.b") == sortby.relaxed("{a.b}") == "{.a.b}"
