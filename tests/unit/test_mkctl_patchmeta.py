"""mkctl apply's merge keys from an OpenAPI v3 document: references, allOf wrappers carrying
their own strategy, maps, and the three-way patch they guide (the same patch as from the model)."""

from __future__ import annotations

from minik8s import patch3way
from minik8s.api import schema as models
from minik8s.cli import patchmeta
from minik8s.patchschema import schema_from_model

S = "#/components/schemas/"
DOC = {"components": {"schemas": {
    "apps.Deployment": {"x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                        "properties": {"metadata": {"$ref": S + "meta.ObjectMeta"},
                                       "spec": {"$ref": S + "apps.DeploymentSpec"}}},
    "apps.DeploymentSpec": {"properties": {
        "strategy": {"x-kubernetes-patch-strategy": "retainKeys", "allOf": [{"$ref": S + "apps.Strategy"}]},
        "template": {"$ref": S + "core.PodTemplateSpec"}}},
    "apps.Strategy": {"properties": {"type": {"type": "string"}}},
    "core.PodTemplateSpec": {"properties": {"spec": {"$ref": S + "core.PodSpec"}}},
    "core.PodSpec": {"properties": {"containers": {
        "type": "array", "items": {"$ref": S + "core.Container"},
        "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}},
    "core.Container": {"properties": {"name": {"type": "string"}, "image": {"type": "string"}, "env": {
        "type": "array", "items": {"$ref": S + "core.EnvVar"},
        "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}},
    "core.EnvVar": {"properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
    "meta.ObjectMeta": {"properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
}}}


def test_the_kind_is_found_by_its_group_version_kind() -> None:
    assert patchmeta.find_kind(DOC, "apps", "v1", "Deployment") is not None
    assert patchmeta.find_kind(DOC, "apps", "v1", "StatefulSet") is None
    assert patchmeta.find_kind(DOC, "", "v1", "Deployment") is None


def test_fields_follow_refs_allof_items_and_maps() -> None:
    dep = patchmeta.find_kind(DOC, "apps", "v1", "Deployment")
    assert dep is not None
    strategy = dep.field("spec").field("strategy")  # type: ignore[union-attr]
    assert strategy.patch_strategy == "retainKeys" and strategy.field("type") is not None  # type: ignore[union-attr]
    containers = dep.field("spec").field("template").field("spec").field("containers")  # type: ignore[union-attr]
    assert (containers.merge_key, containers.patch_strategy) == ("name", "merge")  # type: ignore[union-attr]
    env = containers.items().field("env")  # type: ignore[union-attr]
    assert env.merge_key == "name" and env.items().field("value") is not None  # type: ignore[union-attr]
    assert dep.field("metadata").field("labels").field("any-key") is not None  # type: ignore[union-attr]
    assert dep.field("nope") is None
    assert dep.field("spec").field("template").field("spec").field("containers").items().items() is None  # type: ignore[union-attr]


def test_the_patch_is_the_one_the_model_gives() -> None:
    def deployment(image: str, env: list[dict]) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "labels": {"a": "b"}},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "web", "image": image, "env": env}, {"name": "side", "image": "busybox"}]}}}}

    original = deployment("nginx:1.25", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    modified = deployment("nginx:1.26", [{"name": "B", "value": "3"}])
    current = deployment("nginx:1.25", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    via_openapi = patch3way.three_way_strategic(original, modified, current,
                                                patchmeta.find_kind(DOC, "apps", "v1", "Deployment"))
    via_model = patch3way.three_way_strategic(original, modified, current,
                                              schema_from_model(models.MODELS[("apps", "Deployment")]))
    assert via_openapi == via_model
    containers = via_openapi["spec"]["template"]["spec"]["containers"]
    assert {"name": "web", "image": "nginx:1.26"} .items() <= containers[0].items()
    assert "$setElementOrder/containers" in via_openapi["spec"]["template"]["spec"]
