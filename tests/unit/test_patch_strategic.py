"""Strategic merge patch, as Kubernetes' strategicpatch applies it.

Two schemas: ``MERGE_ITEM``, the shape of the test struct Kubernetes' own tests use (their
vectors are reproduced here), and pydantic models shaped like the real Pod/Deployment types
for the patches kubectl sends.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.patch import DictSchema, PatchError, apply_strategic_merge_patch, schema_from_model
from minik8s.api.base import K8sModel, merge_key, set_strategy
from minik8s.api.meta import LabelSelector, ObjectMeta

# --- Kubernetes' MergeItem test struct as a DictSchema -----------------------------------------

_ITEM_FIELDS: dict[str, Any] = {}
_ITEM = {"fields": _ITEM_FIELDS}
_ITEM_FIELDS.update(
    {
        "mergingList": {"merge_key": "name", "patch_strategy": "merge", "items": _ITEM},
        "nonMergingList": {"items": _ITEM},
        "mergingIntList": {"patch_strategy": "merge"},
        "nonMergingIntList": {},
        "simpleMap": {},
        "replacingItem": {"patch_strategy": "replace"},
        "retainKeysMap": {
            "patch_strategy": "retainKeys",
            "fields": {
                "mergingIntList": {"patch_strategy": "merge"},
                "mergingList": {"merge_key": "name", "patch_strategy": "merge", "items": _ITEM},
            },
        },
        "retainKeysMergingList": {"merge_key": "name", "patch_strategy": "merge,retainKeys", "items": _ITEM},
    }
)
MERGE_ITEM = DictSchema(_ITEM)


def smp(doc, patch, schema=MERGE_ITEM):
    """Apply, and check neither input was changed along the way."""
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    out = apply_strategic_merge_patch(doc, patch, schema)
    assert doc == doc_before, "the original document was mutated"
    assert patch == patch_before, "the patch was mutated"
    assert not _has_directive(out), f"a directive leaked into the result: {out}"
    return out


def _has_directive(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.startswith(("$patch", "$retainKeys", "$setElementOrder", "$deleteFromPrimitiveList")) or _has_directive(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_directive(v) for v in value)
    return False


# Vectors from Kubernetes' strategicpatch tests: (description, original, patch, expected).
K8S_VECTORS = [
    ("unique scalars when merging lists", {"mergingIntList": [1, 2]}, {"mergingIntList": [2, 3]}, {"mergingIntList": [1, 2, 3]}),
    ("delete map from nested map", {"simpleMap": {"key1": 1, "key2": 1}}, {"simpleMap": {"$patch": "delete"}}, {"simpleMap": {}}),
    ("delete all items from merging list", {"mergingList": [{"name": 1}, {"name": 2}]}, {"mergingList": [{"$patch": "replace"}]}, {"mergingList": []}),
    ("merge empty merging lists", {"mergingList": []}, {"mergingList": []}, {"mergingList": []}),
    ("delete all keys from map", {"name": 1, "value": 1}, {"$patch": "replace"}, {}),
    ("add key and delete all keys from map", {"name": 1, "value": 1}, {"other": "a", "$patch": "replace"}, {"other": "a"}),
    (
        "delete all duplicate entries in a merging list",
        {"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]},
        {"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]},
        {"mergingList": [{"name": 2, "value": "a"}]},
    ),
    ("retainKeys map can add a field", {"retainKeysMap": {"name": "foo"}}, {"retainKeysMap": {"value": "bar"}}, {"retainKeysMap": {"name": "foo", "value": "bar"}}),
    ("retainKeys map can delete a field", {"retainKeysMap": {"name": "foo", "value": "a"}}, {"retainKeysMap": {"value": None}}, {"retainKeysMap": {"name": "foo"}}),
    ("retainKeys map merge an empty map", {"retainKeysMap": {"name": "foo", "value": "a"}}, {"retainKeysMap": {}}, {"retainKeysMap": {"name": "foo", "value": "a"}}),
    (
        "retainKeys list can change a field",
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]},
        {"retainKeysMergingList": [{"name": "foo", "value": "b"}]},
        {"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "b"}]},
    ),
    (
        "preserve the order from the patch in a merging list",
        {"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]},
        {"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]},
        {"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}]},
    ),
    (
        "preserve the order from the patch in a merging list 2",
        {"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]},
        {"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]},
        {"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]},
    ),
    ("preserve the order in a merging int list", {"mergingIntList": [1, 2, 3]}, {"mergingIntList": [3, 1, 2]}, {"mergingIntList": [3, 1, 2]}),
    ("preserve the order in a merging int list 2", {"mergingIntList": [1, 2, 3]}, {"mergingIntList": [3, 1]}, {"mergingIntList": [2, 3, 1]}),
    (
        "$setElementOrder contains an item not in the list",
        {"mergingList": [{"name": 1}, {"name": 3}]},
        {"$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}], "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]},
        {"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]},
    ),
    ("$setElementOrder alone reorders an int list", {"mergingIntList": [1, 3]}, {"$setElementOrder/mergingIntList": [3, 2, 1]}, {"mergingIntList": [3, 1]}),
    ("$deleteFromPrimitiveList of a missing item", {"mergingIntList": [1, 2]}, {"$deleteFromPrimitiveList/mergingIntList": [3]}, {"mergingIntList": [1, 2]}),
    ("$deleteFromPrimitiveList on an absent list", {"foo": ["bar"]}, {"$deleteFromPrimitiveList/mergingIntList": [3]}, {"foo": ["bar"]}),
    ("$deleteFromPrimitiveList with merge strategy", {"mergingIntList": [1, 2, 3]}, {"$deleteFromPrimitiveList/mergingIntList": [2]}, {"mergingIntList": [1, 3]}),
    ("$deleteFromPrimitiveList without merge strategy", {"nonMergingIntList": [1, 2, 3]}, {"$deleteFromPrimitiveList/nonMergingIntList": [2]}, {"nonMergingIntList": [1, 3]}),
    (
        "nested patch merge with empty list (two-way result)",
        {"name": "hi"},
        {"mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]},
        {"name": "hi", "mergingList": [{"name": "hello"}]},
    ),
    (
        "nested patch merge with empty list (three-way result)",
        {"name": "hi", "mergingList": [{"name": "hello2"}]},
        {"$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}], "mergingList": [{"name": "hello"}, {"$patch": "delete", "name": "doesntexist"}]},
        {"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]},
    ),
    (
        "delete items in lists of scalars",
        {"mergingIntList": [1, 2, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "delete all duplicate items in lists of scalars",
        {"mergingIntList": [1, 2, 3, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "add and delete items in lists of scalars",
        {"mergingIntList": [1, 2, 3]},
        {"$setElementOrder/mergingIntList": [1, 2, 4], "$deleteFromPrimitiveList/mergingIntList": [3], "mergingIntList": [4]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "merge lists of maps (three-way result on the live object)",
        {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
        {"$setElementOrder/mergingList": [{"name": 4}, {"name": 1}, {"name": 2}, {"name": 3}], "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]},
        {"mergingList": [{"name": 4, "value": 4}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}]},
    ),
    ("defined nulls are dropped, not stored", {"name": 2}, {"name": 1, "value": 1, "other": None}, {"name": 1, "value": 1}),
    ("replace list of scalars", {"nonMergingIntList": [1, 2]}, {"nonMergingIntList": [2, 3]}, {"nonMergingIntList": [2, 3]}),
    ("non-merging list of maps is replaced", {"nonMergingList": [{"name": 1, "value": 1}]}, {"nonMergingList": [{"name": 1}]}, {"nonMergingList": [{"name": 1}]}),
    ("replace strategy on a map", {"replacingItem": {"a": 1, "b": 2}}, {"replacingItem": {"c": 3}}, {"replacingItem": {"c": 3}}),
    ("unknown field: plain merge", {"extra": {"a": 1, "l": [1, 2]}}, {"extra": {"b": 2, "l": [3]}}, {"extra": {"a": 1, "b": 2, "l": [3]}}),
    ("type change replaces", {"name": {"a": 1}}, {"name": "x"}, {"name": "x"}),
    (
        "merge into a nested merging list element",
        {"mergingList": [{"name": 1, "mergingList": [{"name": "a", "value": 1}, {"name": "b"}]}]},
        {"mergingList": [{"name": 1, "mergingList": [{"name": "a", "value": None, "other": "x"}]}]},
        {"mergingList": [{"name": 1, "mergingList": [{"name": "a", "other": "x"}, {"name": "b"}]}]},
    ),
]


@pytest.mark.parametrize(("original", "patch", "expected"), [v[1:] for v in K8S_VECTORS], ids=[v[0] for v in K8S_VECTORS])
def test_kubernetes_vectors(original, patch, expected):
    assert smp(original, patch) == expected


K8S_ERRORS = [
    (
        "order in $setElementOrder does not match the patch list",
        {"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]},
        {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}], "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]},
        "doesn't match",
    ),
    (
        "order in $setElementOrder does not match the int patch list",
        {"mergingIntList": [1, 3, 2]},
        {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
        "doesn't match",
    ),
    ("missing merge key", {"mergingList": [{"name": 1, "value": "a"}]}, {"mergingList": [{"value": "b"}]}, "does not contain declared merge key"),
    ("unknown $patch in a map", {"simpleMap": {"a": 1}}, {"simpleMap": {"$patch": "squash"}}, "unknown patch type"),
    ("unknown $patch in a list", {"mergingList": [{"name": 1}]}, {"mergingList": [{"name": 1, "$patch": "squash"}]}, "unknown patch type"),
    ("$patch: delete without the merge key", {"mergingList": [{"name": 1}]}, {"mergingList": [{"$patch": "delete"}]}, "merge key"),
    ("$retainKeys not a list", {"retainKeysMap": {"name": 1}}, {"retainKeysMap": {"$retainKeys": "name"}}, "retainKeys"),
    ("patch sets a key outside $retainKeys", {"retainKeysMap": {"name": 1}}, {"retainKeysMap": {"$retainKeys": ["name"], "value": 2}}, "retainKeys"),
    ("mixed element types", {"mergingIntList": [1]}, {"mergingIntList": [{"a": 1}]}, "not identical"),
    ("lists of lists", {"mergingIntList": [[1]]}, {"mergingIntList": [[2]]}, "lists of lists"),
    ("bad setElementOrder key", {}, {"$setElementOrder": []}, "setElementOrder"),
    ("setElementOrder not a list", {"mergingList": []}, {"$setElementOrder/mergingList": {}}, "setElementOrder"),
]


@pytest.mark.parametrize(("original", "patch", "message"), [v[1:] for v in K8S_ERRORS], ids=[v[0] for v in K8S_ERRORS])
def test_kubernetes_errors(original, patch, message):
    with pytest.raises(PatchError, match=message):
        apply_strategic_merge_patch(original, patch, MERGE_ITEM)


def test_patch_must_be_an_object():
    with pytest.raises(PatchError):
        apply_strategic_merge_patch({}, [], MERGE_ITEM)  # type: ignore[arg-type]


def test_patch_merge_directive_is_the_default():
    assert smp({"simpleMap": {"a": 1}}, {"simpleMap": {"$patch": "merge", "b": 2}}) == {"simpleMap": {"a": 1, "b": 2}}
    assert smp({"mergingList": [{"name": 1, "value": 1}]}, {"mergingList": [{"$patch": "merge"}, {"name": 1, "other": 2}]}) == {
        "mergingList": [{"name": 1, "value": 1, "other": 2}]
    }


def test_directives_in_new_values_do_not_leak():
    patch = {
        "simpleMap": {"$patch": "replace", "a": "x"},
        "mergingList": [{"name": 1, "$setElementOrder/mergingList": [{"name": "z"}], "mergingList": [{"name": "z", "value": None}]}],
        "gone": {"$patch": "delete"},
        "retainKeysMap": {"$retainKeys": ["name"], "name": "n"},
    }
    assert smp({}, patch) == {
        "simpleMap": {"a": "x"},
        "mergingList": [{"name": 1, "mergingList": [{"name": "z"}]}],
        "retainKeysMap": {"name": "n"},
    }


def test_null_for_absent_key_is_ignored():
    assert smp({"name": 1}, {"value": None}) == {"name": 1}


def test_untouched_subtrees_are_shared():
    doc = {"simpleMap": {"a": 1}, "mergingList": [{"name": 1, "value": 1}, {"name": 2}]}
    out = apply_strategic_merge_patch(doc, {"mergingList": [{"name": 2, "value": 2}]}, MERGE_ITEM)
    assert out["simpleMap"] is doc["simpleMap"]
    assert out["mergingList"][0] is doc["mergingList"][0]
    assert doc["mergingList"][1] == {"name": 2}


def test_no_schema_means_plain_merge():
    out = smp({"a": {"b": 1}, "l": [{"name": "x", "v": 1}]}, {"a": {"c": 2}, "l": [{"name": "x"}]}, schema=None)
    assert out == {"a": {"b": 1, "c": 2}, "l": [{"name": "x"}]}


# --- Pod/Deployment-shaped models, the patches kubectl sends ------------------------------------


class ContainerPort(K8sModel):
    container_port: int
    name: str | None = None
    protocol: str | None = None


class EnvVar(K8sModel):
    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class VolumeMount(K8sModel):
    name: str
    mount_path: str
    read_only: bool | None = None


class Container(K8sModel):
    name: str
    image: str | None = None
    args: list[str] | None = None
    ports: list[ContainerPort] | None = merge_key("containerPort")
    env: list[EnvVar] | None = merge_key("name")
    volume_mounts: list[VolumeMount] | None = merge_key("mountPath")


class Volume(K8sModel):
    name: str
    config_map: dict[str, Any] | None = None
    empty_dir: dict[str, Any] | None = None


class PodSpec(K8sModel):
    containers: list[Container] | None = merge_key("name")
    init_containers: list[Container] | None = merge_key("name")
    volumes: list[Volume] | None = merge_key("name", strategy="merge,retainKeys")
    node_selector: dict[str, str] | None = None


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


class RollingUpdateDeployment(K8sModel):
    max_unavailable: int | str | None = None
    max_surge: int | str | None = None


class DeploymentStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(K8sModel):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = set_strategy("retainKeys")


class Deployment(K8sModel):
    api_version: str = "apps/v1"
    kind: str = "Deployment"
    metadata: ObjectMeta | None = None
    spec: DeploymentSpec | None = None


DEPLOYMENT = schema_from_model(Deployment)


def deployment(**spec_overrides: Any) -> dict[str, Any]:
    containers = [
        {
            "name": "nginx",
            "image": "nginx:1.25",
            "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx"}, {"name": "data", "mountPath": "/data"}],
        },
        {"name": "sidecar", "image": "busybox"},
    ]
    spec = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers, "volumes": [{"name": "conf", "configMap": {"name": "c"}}]}},
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a.io/x", "b.io/y"]},
        "spec": spec,
    }


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def test_kubectl_apply_image_change_with_set_element_order():
    """The exact body kubectl apply sends (KUBECTL-WIRE.md), against a two-container live object."""
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}], "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    containers = pod_spec(out)["containers"]
    assert [c["name"] for c in containers] == ["nginx", "sidecar"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["ports"] == deployment()["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert containers[1] == {"name": "sidecar", "image": "busybox"}


def test_set_element_order_reorders_and_adds():
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "new"}, {"name": "nginx"}],
        "containers": [{"name": "new", "image": "x"}],
    }}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["sidecar", "new", "nginx"]


def test_env_merged_by_name():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    env = pod_spec(out)["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env} == {"A": "1", "B": "20", "C": "3"}
    assert pod_spec(out)["containers"][0]["image"] == "nginx:1.25"


def test_env_delete_by_name():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [{"name": "A", "$patch": "delete"}]}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert pod_spec(out)["containers"][0]["env"] == [{"name": "B", "value": "2"}]


def test_ports_merged_by_container_port():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 443, "name": "https"}, {"containerPort": 8080}]}]}}}}
    ports = pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"][0]["ports"]
    by_port = {p["containerPort"]: p for p in ports}
    assert set(by_port) == {80, 443, 8080}
    assert by_port[443] == {"containerPort": 443, "protocol": "TCP", "name": "https"}


def test_volume_mounts_merged_by_mount_path():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "volumeMounts": [{"mountPath": "/data", "$patch": "delete"}]}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert pod_spec(out)["containers"][0]["volumeMounts"] == [{"name": "conf", "mountPath": "/etc/nginx"}]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "volumeMounts": [{"mountPath": "/data", "readOnly": True, "name": "data"}]}]}}}}
    mounts = pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "conf", "mountPath": "/etc/nginx"}, {"name": "data", "mountPath": "/data", "readOnly": True}]


def test_delete_runs_before_merge_in_the_same_list():
    """Kubernetes removes ``$patch: delete`` elements first, so deleting and re-adding a key in
    one patch yields the patch's element alone (placed before the server-only ones)."""
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "volumeMounts": [
        {"mountPath": "/data", "name": "data2"}, {"mountPath": "/data", "$patch": "delete"},
    ]}]}}}}
    mounts = pod_spec(smp(deployment(), patch, DEPLOYMENT))["containers"][0]["volumeMounts"]
    assert mounts == [{"mountPath": "/data", "name": "data2"}, {"name": "conf", "mountPath": "/etc/nginx"}]


def test_delete_a_container():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert [c["name"] for c in pod_spec(out)["containers"]] == ["nginx"]


def test_replace_the_container_list():
    patch = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert pod_spec(out)["containers"] == [{"name": "only", "image": "x"}]


def test_replace_a_map():
    patch = {"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "app": "web", "v": "2"}}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert out["spec"]["template"]["metadata"]["labels"] == {"app": "web", "v": "2"}
    patch = {"metadata": {"labels": {"$patch": "replace", "only": "me"}}}
    assert smp(deployment(), patch, DEPLOYMENT)["metadata"]["labels"] == {"only": "me"}


def test_retain_keys_switching_to_recreate_drops_rolling_update():
    """kubectl apply switching RollingUpdate → Recreate: the patch lists the keys to keep."""
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    assert smp(deployment(), patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    # Without the null, $retainKeys alone removes rollingUpdate.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(deployment(), patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    # And without $retainKeys a plain merge keeps it (which the API would then reject).
    patch = {"spec": {"strategy": {"type": "Recreate"}}}
    assert "rollingUpdate" in smp(deployment(), patch, DEPLOYMENT)["spec"]["strategy"]


def test_retain_keys_on_merged_list_elements():
    """volumes are ``merge,retainKeys``: switching a volume's source drops the old one."""
    patch = {"spec": {"template": {"spec": {"volumes": [{"name": "conf", "$retainKeys": ["emptyDir", "name"], "emptyDir": {}}]}}}}
    assert pod_spec(smp(deployment(), patch, DEPLOYMENT))["volumes"] == [{"name": "conf", "emptyDir": {}}]


def test_delete_from_primitive_list_finalizers():
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}}
    assert smp(deployment(), patch, DEPLOYMENT)["metadata"]["finalizers"] == ["b.io/y"]


def test_finalizers_union():
    patch = {"metadata": {"finalizers": ["b.io/y", "c.io/z"]}}
    assert smp(deployment(), patch, DEPLOYMENT)["metadata"]["finalizers"] == ["a.io/x", "b.io/y", "c.io/z"]


def test_label_removal_by_null():
    patch = {"metadata": {"labels": {"tier": None}}}
    assert smp(deployment(), patch, DEPLOYMENT)["metadata"]["labels"] == {"app": "web"}


def test_rollout_restart_annotation_on_template():
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}}}}
    out = smp(deployment(), patch, DEPLOYMENT)
    assert out["spec"]["template"]["metadata"] == {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}


def test_container_args_are_replaced_not_merged():
    doc = deployment()
    doc["spec"]["template"]["spec"]["containers"][1]["args"] = ["sleep", "10"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["sleep", "20"]}]}}}}
    assert pod_spec(smp(doc, patch, DEPLOYMENT))["containers"][1]["args"] == ["sleep", "20"]


def test_owner_references_merge_by_uid():
    doc = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a", "kind": "ReplicaSet", "apiVersion": "apps/v1"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "ReplicaSet", "apiVersion": "apps/v1"}, {"uid": "1", "controller": True}]}}
    refs = smp(doc, patch, DEPLOYMENT)["metadata"]["ownerReferences"]
    assert {r["uid"]: r.get("controller") for r in refs} == {"1": True, "2": None}


def test_real_deployment_model_drives_the_merge():
    """The same kubectl apply body against the schema of minik8s' own apps/v1 Deployment."""
    from minik8s.api import apps

    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "nginx", "image": "nginx:1.26", "ports": [{"containerPort": 8080}]}],
    }}}}
    out = smp(deployment(), patch, schema_from_model(apps.Deployment))
    nginx, sidecar = pod_spec(out)["containers"]
    assert nginx["image"] == "nginx:1.26" and sidecar["name"] == "sidecar"
    assert [p["containerPort"] for p in nginx["ports"]] == [8080, 80, 443]
