"""PatchSchema built from pydantic models and from dicts."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.patch import DictSchema, schema_from_model
from minik8s.api.base import K8sModel, merge_key, set_strategy
from minik8s.api.meta import ObjectMeta


class Port(K8sModel):
    container_port: int


class Box(K8sModel):
    ports: list[Port] | None = merge_key("containerPort")
    plain_list: list[Port] | None = None
    by_name: dict[str, Port] | None = None
    anything: dict[str, Any] | None = None
    whatever: Any = None
    int_or_str: int | str | None = None
    tags: list[str] | None = set_strategy("merge")
    strategy: Port | None = set_strategy("retainKeys")
    children: list[Box] | None = merge_key("name", strategy="merge,retainKeys")


def test_object_meta_from_the_real_model():
    meta = schema_from_model(ObjectMeta)
    owners = meta.field("ownerReferences")
    assert owners is not None and owners.merge_key == "uid" and owners.patch_strategy == "merge"
    assert owners.items() is not None and owners.items().field("apiVersion") is None  # a scalar
    finalizers = meta.field("finalizers")
    assert finalizers is not None and finalizers.merge_key is None and finalizers.patch_strategy == "merge"
    assert meta.field("labels") is not None and meta.field("labels").field("app") is None
    assert meta.field("owner_references") is None  # wire names only
    assert meta.field("noSuchField") is None


def test_types_map_to_schemas():
    box = schema_from_model(Box)
    ports = box.field("ports")
    assert (ports.merge_key, ports.patch_strategy) == ("containerPort", "merge")
    assert ports.items() is schema_from_model(Port)
    plain = box.field("plainList")
    assert plain.merge_key is None and plain.patch_strategy is None and plain.items() is schema_from_model(Port)
    assert box.field("byName").field("anyKey") is schema_from_model(Port)
    assert box.field("anything").field("x") is None
    assert box.field("whatever") is None
    assert box.field("intOrStr") is None
    assert box.field("tags").patch_strategy == "merge"
    strategy = box.field("strategy")
    assert strategy.patch_strategy == "retainKeys" and strategy.field("containerPort") is None
    assert box.merge_key is None and box.patch_strategy is None and box.items() is None


def test_recursive_models_resolve_lazily():
    children = schema_from_model(Box).field("children")
    assert children.patch_strategy == "merge,retainKeys"
    assert children.items() is schema_from_model(Box)
    assert children.items().field("children").items().field("ports").merge_key == "containerPort"


def test_cached_per_class():
    assert schema_from_model(Box) is schema_from_model(Box)
    assert schema_from_model(Box).field("ports") is schema_from_model(Box).field("ports")


def test_dict_schema():
    schema = DictSchema({"fields": {"containers": {"merge_key": "name", "patch_strategy": "merge", "items": {"fields": {"env": {"merge_key": "name"}}}}}})
    containers = schema.field("containers")
    assert (containers.merge_key, containers.patch_strategy) == ("name", "merge")
    assert containers.items().field("env").merge_key == "name"
    assert containers.items().field("image") is None
    assert schema.items() is None and schema.merge_key is None
    with pytest.raises(ValueError, match="mergeKey"):
        DictSchema({"mergeKey": "name"})
