"""Three-way patches (``minik8s.patch3way``): the exact patches kubectl's apply sends, and —
applied with the apiserver's strategic merge patch — the objects they lead to."""

from __future__ import annotations

import copy

import pytest

from apiserver.patch.mergepatch import apply_merge_patch
from apiserver.patch.strategic import apply_strategic_merge_patch
from minik8s import patch3way
from minik8s.api import apps, core
from minik8s.patchschema import DictSchema, schema_from_model

POD = schema_from_model(core.Pod)
DEPLOY = schema_from_model(apps.Deployment)


def pod(*containers: dict, labels: dict | None = None) -> dict:
    meta = {"name": "web", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": list(containers)}}


def live(obj: dict, **extra_spec) -> dict:
    """What the server holds: the object plus fields only the server (or others) wrote."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u1", resourceVersion="7")
    out["spec"].update(extra_spec)
    for c in out["spec"]["containers"]:
        c.setdefault("imagePullPolicy", "IfNotPresent")
    out["status"] = {"phase": "Pending"}
    return out


def roundtrip(original: dict | None, modified: dict, current: dict, schema=POD) -> tuple[dict, dict]:
    patch = patch3way.three_way_strategic(original, modified, current, schema)
    return patch, apply_strategic_merge_patch(copy.deepcopy(current), copy.deepcopy(patch), schema)


def test_nothing_changed_is_an_empty_patch() -> None:
    m = pod({"name": "a", "image": "x:1"})
    assert patch3way.three_way_strategic(m, m, live(m), POD) == {}


def test_image_change_is_what_kubectl_sends() -> None:
    before = pod({"name": "nginx", "image": "nginx:1.25"})
    after = pod({"name": "nginx", "image": "nginx:1.26"})
    patch, result = roundtrip(before, after, live(before))
    # byte-for-byte the patch of KUBECTL-WIRE.md (keys compared as a dict)
    assert patch == {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                              "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}
    assert result["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert result["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"  # server default kept


def test_removed_container_is_deleted_by_merge_key_and_order_kept() -> None:
    before = pod({"name": "a", "image": "a"}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"})
    after = pod({"name": "c", "image": "c"}, {"name": "a", "image": "a2"})
    patch, result = roundtrip(before, after, live(before))
    assert {"name": "b", "$patch": "delete"} in patch["spec"]["containers"]
    assert patch["spec"]["$setElementOrder/containers"] == [{"name": "c"}, {"name": "a"}]
    assert [c["name"] for c in result["spec"]["containers"]] == ["c", "a"]
    assert result["spec"]["containers"][1]["image"] == "a2"


def test_field_removed_from_the_manifest_is_pruned_but_server_fields_stay() -> None:
    before = pod({"name": "a", "image": "a"}, labels={"app": "web", "tier": "fe"})
    before["spec"]["restartPolicy"] = "Never"
    after = pod({"name": "a", "image": "a"}, labels={"app": "web"})
    current = live(before, nodeName="n1", dnsPolicy="ClusterFirst")
    patch, result = roundtrip(before, after, current)
    assert patch == {"metadata": {"labels": {"tier": None}}, "spec": {"restartPolicy": None}}
    assert result["metadata"]["labels"] == {"app": "web"}
    assert "restartPolicy" not in result["spec"]
    assert result["spec"]["nodeName"] == "n1" and result["spec"]["dnsPolicy"] == "ClusterFirst"


def test_without_original_nothing_is_deleted() -> None:
    current = live(pod({"name": "a", "image": "a"}, labels={"app": "web", "extra": "x"}))
    modified = pod({"name": "a", "image": "a"}, labels={"app": "web"})
    assert patch3way.three_way_strategic(None, modified, current, POD) == {}


def test_live_change_by_another_writer_is_reverted_to_the_manifest() -> None:
    m = pod({"name": "a", "image": "a:1"})
    current = live(m)
    current["spec"]["containers"][0]["image"] = "a:hacked"
    patch, result = roundtrip(m, m, current)
    assert patch["spec"]["containers"] == [{"image": "a:1", "name": "a"}]
    assert result["spec"]["containers"][0]["image"] == "a:1"


def test_env_merged_by_name_and_ports_by_container_port() -> None:
    before = pod({"name": "a", "image": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                  "ports": [{"containerPort": 80}, {"containerPort": 443}]})
    after = pod({"name": "a", "image": "a", "env": [{"name": "Y", "value": "3"}],
                 "ports": [{"containerPort": 443}]})
    patch, result = roundtrip(before, after, live(before))
    c = result["spec"]["containers"][0]
    assert c["env"] == [{"name": "Y", "value": "3"}]
    assert c["ports"] == [{"containerPort": 443}]
    assert {"containerPort": 80, "$patch": "delete"} in patch["spec"]["containers"][0]["ports"]


def test_retain_keys_switching_strategy_drops_rolling_update() -> None:
    def deploy(strategy: dict) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"replicas": 1, "strategy": strategy}}

    before = deploy({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    after = deploy({"type": "Recreate"})
    current = copy.deepcopy(before)
    current["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = "25%"  # a server default
    patch, result = roundtrip(before, after, current, DEPLOY)
    assert patch["spec"]["strategy"]["$retainKeys"] == ["type"]
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_scalar_merge_list_adds_and_deletes() -> None:
    schema = DictSchema({"fields": {"metadata": {"fields": {"finalizers": {"patch_strategy": "merge"}}}}})
    before = {"metadata": {"finalizers": ["a", "b"]}}
    after = {"metadata": {"finalizers": ["b", "c"]}}
    current = {"metadata": {"finalizers": ["a", "b", "z"]}}
    patch = patch3way.three_way_strategic(before, after, current, schema)
    assert patch["metadata"]["finalizers"] == ["c"]
    assert patch["metadata"]["$deleteFromPrimitiveList/finalizers"] == ["a"]
    result = apply_strategic_merge_patch(copy.deepcopy(current), copy.deepcopy(patch), schema)
    assert sorted(result["metadata"]["finalizers"]) == ["b", "c", "z"]


def test_a_keyed_list_item_without_its_key_is_an_error() -> None:
    with pytest.raises(patch3way.PatchCreationError, match="merge key"):
        patch3way.three_way_strategic(None, pod({"image": "no-name"}), pod({"name": "a", "image": "a"}), POD)


def test_unknown_schema_replaces_lists_and_merges_maps() -> None:
    before = {"spec": {"items": [1, 2], "m": {"a": 1, "b": 2}}}
    after = {"spec": {"items": [2], "m": {"a": 1}}}
    assert patch3way.three_way_strategic(before, after, before, None) == {"spec": {"items": [2], "m": {"b": None}}}


def test_json_merge_three_way() -> None:
    original = {"spec": {"a": 1, "b": 2, "list": [1]}}
    modified = {"spec": {"a": 5, "list": [1, 2]}}
    current = {"spec": {"a": 1, "b": 2, "list": [1], "serverSet": True}, "status": {"x": 1}}
    patch = patch3way.three_way_json_merge(original, modified, current)
    assert patch == {"spec": {"a": 5, "b": None, "list": [1, 2]}}
    assert apply_merge_patch(current, patch) == {"spec": {"a": 5, "list": [1, 2], "serverSet": True},
                                                 "status": {"x": 1}}
    assert patch3way.three_way_json_merge(modified, modified, apply_merge_patch(current, patch)) == {}
