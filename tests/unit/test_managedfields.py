"""Field sets, ownership and server-side apply planning (apiserver.managedfields, apiserver.apply),
checked against what Kubernetes records for the same objects."""

from __future__ import annotations

import copy
import json

import pytest

from apiserver import apply, errors
from apiserver import managedfields as mf
from apiserver.managedfields import FieldSet, Managers
from minik8s.api.apps import Deployment
from minik8s.api.base import to_dict
from minik8s.api.core import ConfigMap, Event, Pod, Service

NGINX = 'k:{"name":"nginx"}'
CONTAINERS = ("f:spec", "f:template", "f:spec", "f:containers")


def deployment(**spec_changes) -> dict:
    obj = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                  "ports": [{"containerPort": 80}]}]}},
        },
    }
    obj["spec"].update(spec_changes)
    return obj


def stored(obj: dict, managed: list | None = None) -> dict:
    """The object as the apiserver stores it: defaulted, with its managedFields."""
    out = to_dict(Deployment.model_validate(obj))
    if managed is not None:
        out["metadata"]["managedFields"] = managed
    return out


def entry(managed: list, manager: str, operation: str | None = None) -> dict:
    found = [e for e in managed
             if e["manager"] == manager and (operation is None or e["operation"] == operation)]
    assert len(found) == 1, managed
    return found[0]


def owned(managed: list, manager: str, operation: str | None = None) -> FieldSet:
    return FieldSet.from_fields_v1(entry(managed, manager, operation)["fieldsV1"])


# ---- FieldSet ------------------------------------------------------------------------------


def test_fields_v1_marks_members_with_children_and_round_trips():
    fs = FieldSet([("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"), ("f:spec", "f:replicas")])
    v1 = fs.to_fields_v1()
    assert v1 == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}}
    assert list(v1["f:metadata"]["f:labels"]) == [".", "f:app"]  # "." first, as Kubernetes writes it
    assert FieldSet.from_fields_v1(v1) == fs


def test_set_operations_are_member_wise():
    a = FieldSet([("f:a",), ("f:a", "f:b"), ("f:c",)])
    b = FieldSet([("f:a", "f:b"), ("f:d",)])
    assert a | b == FieldSet([("f:a",), ("f:a", "f:b"), ("f:c",), ("f:d",)])
    assert a - b == FieldSet([("f:a",), ("f:c",)])
    assert a & b == FieldSet([("f:a", "f:b")])
    assert a.leaves() == FieldSet([("f:a", "f:b"), ("f:c",)])
    assert a.recursive_difference(FieldSet([("f:a",)])) == FieldSet([("f:c",)])
    assert a.has_below(("f:a",)) and not a.has_below(("f:c",))


def test_path_strings_read_as_kubernetes_prints_them():
    image = CONTAINERS + (NGINX, "f:image")
    assert mf.path_string(image) == '.spec.template.spec.containers[name="nginx"].image'
    port = 'k:{"containerPort":80,"protocol":"TCP"}'
    assert mf.path_string(("f:ports", port)) == '.ports[containerPort=80,protocol="TCP"]'
    assert mf.path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'


@pytest.mark.parametrize("bad", [{"f:a": 1}, {"x:a": {}}, {"k:{nope": {}}, {".": {}}])
def test_invalid_fields_v1_is_refused(bad):
    with pytest.raises(ValueError):
        FieldSet.from_fields_v1(bad)


# ---- what an applied configuration sets ------------------------------------------------------


def test_fieldset_of_an_applied_deployment_is_what_kubernetes_records():
    assert mf.fieldset_of(deployment(), Deployment).to_fields_v1() == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},  # LabelSelector is an atomic struct
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {NGINX: {
                    ".": {}, "f:image": {}, "f:name": {},
                    # ports are keyed by port and protocol, protocol defaulting to TCP
                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                }}},
            },
        },
    }


def test_fieldset_of_sets_nulls_empty_maps_and_skips_unknown_fields():
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "c", "finalizers": ["x"], "annotations": {}, "labels": None, "bogus": 1},
          "data": {"k": "v"}}
    assert mf.fieldset_of(cm, ConfigMap).to_fields_v1() == {
        "f:data": {"f:k": {}},
        "f:metadata": {"f:annotations": {}, "f:finalizers": {'v:"x"': {}}, "f:labels": {}},
    }


def test_atomic_maps_and_port_protocol_keys_as_kubernetes_declares_them():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
           "spec": {"selector": {"app": "dns"},
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}}
    v1 = mf.fieldset_of(svc, Service).to_fields_v1()
    assert v1["f:spec"]["f:selector"] == {}
    assert set(v1["f:spec"]["f:ports"]) == {'k:{"port":53,"protocol":"TCP"}', 'k:{"port":53,"protocol":"UDP"}'}


# ---- comparing -------------------------------------------------------------------------------


def test_compare_records_leaves_and_whole_added_or_removed_subtrees():
    old = stored(deployment())
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["metadata"]["annotations"] = {"a": "1"}
    del new["spec"]["template"]["spec"]["containers"][0]["ports"]
    cmp = mf.compare(old, new, Deployment)
    assert cmp.modified == FieldSet([("f:spec", "f:replicas")])
    assert cmp.added == FieldSet([("f:metadata", "f:annotations"), ("f:metadata", "f:annotations", "f:a")])
    port = CONTAINERS + (NGINX, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')
    assert port + ("f:protocol",) in cmp.removed and CONTAINERS + (NGINX, "f:ports") in cmp.removed
    assert mf.compare(old, copy.deepcopy(old), Deployment).empty()


def test_compare_tells_true_from_one():
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": 1}}
    new = {**old, "data": {"k": True}}
    assert mf.compare(old, new, ConfigMap).modified == FieldSet([("f:data", "f:k")])


# ---- ownership on Update ---------------------------------------------------------------------


def test_create_owns_every_field_set_but_not_always_present_structs():
    created = stored(deployment())
    managed = mf.update_managed_fields(None, created, "kubectl-client-side-apply", model=Deployment)
    e = entry(managed, "kubectl-client-side-apply")
    assert (e["operation"], e["apiVersion"], e["fieldsType"]) == ("Update", "apps/v1", "FieldsV1")
    v1 = e["fieldsV1"]
    assert "." not in v1["f:spec"] and "." not in v1["f:spec"]["f:template"]  # non-pointer structs
    assert v1["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert "f:progressDeadlineSeconds" in v1["f:spec"]  # defaults belong to the creator, as in Kubernetes
    assert v1["f:spec"]["f:template"]["f:spec"]["f:containers"][NGINX]["f:resources"] == {}
    assert "f:name" not in v1["f:metadata"]  # identity metadata is nobody's


def test_update_moves_changed_fields_and_drops_removed_ones():
    base = stored(deployment())
    managed = mf.update_managed_fields(None, base, "creator", model=Deployment, time="2024-01-01T00:00:00Z")
    old = {**base, "metadata": {**base["metadata"], "managedFields": managed}}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    del new["metadata"]["labels"]
    after = mf.update_managed_fields(old, new, "scaler", model=Deployment, time="2024-01-02T00:00:00Z")
    assert owned(after, "scaler") == FieldSet([("f:spec", "f:replicas")])
    creator = owned(after, "creator")
    assert ("f:spec", "f:replicas") not in creator
    assert ("f:metadata", "f:labels", "f:app") not in creator
    assert ("f:spec", "f:revisionHistoryLimit") in creator
    assert entry(after, "creator")["time"] == "2024-01-01T00:00:00Z"


def test_unchanged_update_keeps_managed_fields_identical():
    base = stored(deployment())
    managed = mf.update_managed_fields(None, base, "creator", model=Deployment, time="2024-01-01T00:00:00Z")
    old = {**base, "metadata": {**base["metadata"], "managedFields": managed}}
    assert mf.update_managed_fields(old, copy.deepcopy(old), "someone", model=Deployment) == managed


def test_request_may_replace_or_reset_managed_fields():
    base = stored(deployment())
    managed = mf.update_managed_fields(None, base, "creator", model=Deployment)
    old = {**base, "metadata": {**base["metadata"], "managedFields": managed}}
    reset = copy.deepcopy(old)
    reset["metadata"]["managedFields"] = [{}]
    assert mf.update_managed_fields(old, reset, "x", model=Deployment) == []
    mine = copy.deepcopy(old)
    mine["metadata"]["managedFields"] = [{"manager": "mine", "operation": "Update", "apiVersion": "apps/v1",
                                          "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}]
    assert [e["manager"] for e in mf.update_managed_fields(old, mine, "x", model=Deployment)] == ["mine"]


def test_entries_are_ordered_apply_first_then_by_time():
    managers = Managers.decode([
        {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}},
        {"manager": "c", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
        {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-03T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:z": {}}}},
    ])
    assert [e["manager"] for e in managers.encode()] == ["z", "c", "b"]


def test_manager_name_falls_back_to_the_user_agent_prefix():
    assert mf.manager_name("mine", "kubectl/v1.32") == "mine"
    assert mf.manager_name(None, "kubectl/v1.32.5 (linux/amd64) kubernetes/abc") == "kubectl"
    assert mf.manager_name(None, "python-httpx/0.28.1") == "python-httpx"
    # As Kubernetes' prefixFromUserAgent: no User-Agent, no manager; unprintable characters
    # dropped; at most 128 bytes, never half a character.
    assert mf.manager_name("", "") == ""
    assert mf.manager_name(None, None) == ""
    assert mf.manager_name(None, "my\ttool\x7f/1.0") == "mytool"
    assert mf.manager_name(None, "x" * 200) == "x" * 128
    assert mf.manager_name(None, "x" * 127 + "é") == "x" * 127


def test_an_entry_without_a_manager_omits_it():
    entry = mf.ManagerEntry.from_dict({"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
                                       "fieldsV1": {"f:data": {}}})
    assert entry.manager == "" and "manager" not in entry.to_dict()


# ---- merging and pruning ---------------------------------------------------------------------


def test_merge_keys_lists_by_merge_key_unions_sets_replaces_atomics():
    live = stored(deployment())
    live["metadata"]["finalizers"] = ["a"]
    live["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    config = {"metadata": {"finalizers": ["b"]},
              "spec": {"selector": {"matchLabels": {"x": "y"}},
                       "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}}}
    merged = mf.merge(live, config, Deployment)
    containers = merged["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx", "side"]
    assert containers[0]["image"] == "nginx:1.26"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert merged["metadata"]["finalizers"] == ["a", "b"]
    assert merged["spec"]["selector"] == {"matchLabels": {"x": "y"}}  # atomic: replaced, not merged
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"  # inputs untouched


def test_merge_follows_the_applied_order_for_shared_items():
    live = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}}
    config = {"spec": {"containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}}
    merged = mf.merge(live, config, Pod)
    assert [c["name"] for c in merged["spec"]["containers"]] == ["x", "b", "c", "a"]


def test_merge_refuses_duplicate_keys_in_the_config():
    config = {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}
    with pytest.raises(mf.MergeError) as e:
        mf.merge({"spec": {}}, config, Pod)
    assert e.value.field == "spec.containers"


def test_prune_removes_unowned_fields_with_what_lies_below():
    live = stored(deployment())
    live["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    side = CONTAINERS + ('k:{"name":"side"}',)
    last = FieldSet([side, side + ("f:name",), side + ("f:image",), ("f:spec", "f:replicas"),
                     ("f:metadata", "f:labels", "f:app")])
    others = FieldSet([("f:metadata", "f:labels", "f:app")])
    pruned = mf.prune(live, last, others, Deployment)
    assert [c["name"] for c in pruned["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert "replicas" not in pruned["spec"]
    assert pruned["metadata"]["labels"] == {"app": "web"}  # someone else owns it
    assert mf.prune(live, last, last, Deployment) is live


# ---- planning an apply -----------------------------------------------------------------------


def applied_by(manager: str, config: dict, live: dict | None = None, **kw) -> apply.ApplyPlan:
    if live is None:
        managed = mf.update_managed_fields(None, config, manager, model=Deployment, operation="Apply",
                                           applied=config)
        return apply.ApplyPlan(stored(config, managed), managed)
    plan = apply.plan_apply(live, config, manager=manager, force=kw.pop("force", False), model=Deployment,
                            **kw)
    # What the write path does with the plan: the object carries its new managedFields.
    plan.obj["metadata"] = {**plan.obj["metadata"], "managedFields": plan.managed_fields}
    return plan


def test_apply_then_same_apply_changes_nothing():
    first = applied_by("kubectl", deployment())
    again = applied_by("kubectl", deployment(), first.obj)
    assert again.managed_fields == first.managed_fields
    assert mf.compare(first.obj, again.obj, Deployment).empty()


def test_conflict_with_another_manager_then_force_moves_ownership():
    live = applied_by("kubectl", deployment()).obj
    with pytest.raises(errors.Conflict) as e:
        applied_by("other", deployment(replicas=5), live)
    assert e.value.message == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert e.value.details == {"causes": [{"reason": "FieldManagerConflict",
                                           "message": 'conflict with "kubectl"', "field": ".spec.replicas"}]}
    forced = applied_by("other", deployment(replicas=5), live, force=True)
    assert forced.obj["spec"]["replicas"] == 5
    assert ("f:spec", "f:replicas") in owned(forced.managed_fields, "other")
    assert ("f:spec", "f:replicas") not in owned(forced.managed_fields, "kubectl")
    assert CONTAINERS + (NGINX, "f:image") in owned(forced.managed_fields, "kubectl")


def test_equal_values_are_shared_without_conflict():
    live = applied_by("kubectl", deployment()).obj
    shared = applied_by("other", deployment(), live)
    assert ("f:spec", "f:replicas") in owned(shared.managed_fields, "other")
    assert ("f:spec", "f:replicas") in owned(shared.managed_fields, "kubectl")


def test_conflicts_with_update_managers_name_their_version_and_are_grouped():
    base = stored(deployment())
    live = stored(base, mf.update_managed_fields(None, base, "kubectl-client-side-apply", model=Deployment))
    config = deployment(replicas=5)
    config["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    with pytest.raises(errors.Conflict) as e:
        applied_by("ci", config, live)
    assert e.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        '- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image')


def test_a_field_no_longer_applied_is_removed_unless_someone_else_owns_it():
    config = deployment()
    config["metadata"]["labels"]["tier"] = "front"
    config["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = applied_by("kubectl", config).obj
    live = applied_by("other", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
                                "labels": {"tier": "front"}}}, live).obj
    plan = applied_by("kubectl", deployment(), live)
    assert [c["name"] for c in plan.obj["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert plan.obj["metadata"]["labels"] == {"app": "web", "tier": "front"}  # "other" applies tier
    plan = applied_by("kubectl", {**deployment(), "spec": {k: v for k, v in deployment()["spec"].items()
                                                           if k != "replicas"}}, plan.obj)
    assert "replicas" not in plan.obj["spec"]  # defaulting brings it back to 1 on write


def test_kubectl_takes_over_fields_its_client_side_apply_set():
    config = deployment()
    base = stored(config)
    base["metadata"]["annotations"] = {apply.LAST_APPLIED: json.dumps(config)}
    live = stored(base, mf.update_managed_fields(None, base, apply.CLIENT_SIDE_MANAGER, model=Deployment))
    # Another manager changing what client-side apply set conflicts; kubectl does not.
    with pytest.raises(errors.Conflict):
        applied_by("other", deployment(replicas=4), live)
    plan = applied_by("kubectl", deployment(replicas=4), live)
    assert plan.obj["spec"]["replicas"] == 4
    assert ("f:spec", "f:replicas") in owned(plan.managed_fields, "kubectl")
    assert ("f:spec", "f:replicas") not in owned(plan.managed_fields, apply.CLIENT_SIDE_MANAGER)
    # ... and keeps client-side apply's annotation in step with what it applied.
    assert json.loads(plan.obj["metadata"]["annotations"][apply.LAST_APPLIED])["spec"]["replicas"] == 4
    # A field whose live value no longer matches the annotation still conflicts.
    drifted = copy.deepcopy(live)
    drifted["spec"]["replicas"] = 7
    with pytest.raises(errors.Conflict):
        applied_by("kubectl", deployment(replicas=4), drifted)


def test_status_apply_owns_status_only():
    live = applied_by("kubectl", deployment()).obj
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "status": {"replicas": 2, "readyReplicas": 1}}
    plan = applied_by("ctrl", config, live, subresource="status")
    assert plan.obj["status"] == {"replicas": 2, "readyReplicas": 1}
    e = entry(plan.managed_fields, "ctrl")
    assert e["subresource"] == "status" and list(e["fieldsV1"]) == ["f:status"]


def test_created_memo_ignores_names_and_label_values_only() -> None:
    """The created-object memo shares entries between objects that differ in their own names
    and in label/annotation values, and still answers exactly what a walk of each finds."""
    def pod(name: str, labels: dict, annotations: dict | None = None, **md) -> dict:
        meta = {"name": name, "namespace": "default", "labels": labels, **md}
        if annotations is not None:
            meta["annotations"] = annotations
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}

    objs = [pod("a", {"app": "x"}), pod("b", {"app": "y"}), pod("c", {"app": ""}),
            pod("d", {"app": "x", "tier": "web"}), pod("e", {"app": "x"}, {"note": "1"}),
            pod("f", {"app": "x"}, {"note": ""}), pod("g", {}, generateName="g-"),
            pod("h", {"app": "x"}, ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                                     "uid": "u1", "controller": True}]),
            pod("i", {"app": "x"}, ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs2",
                                                     "uid": "u2"}])]
    memoized = [mf.update_managed_fields(None, o, "m", model=Pod, time="t") for o in objs]
    walked = []
    for o in objs:
        mf._CREATED.clear()
        mf._CREATED_OBJECTS.clear()
        walked.append(mf.update_managed_fields(None, o, "m", model=Pod, time="t"))
    assert memoized == walked
    # objects that differ in more than those strings are told apart
    fields = [json.dumps(m[0]["fieldsV1"], sort_keys=True) for m in walked]
    assert fields[0] == fields[1] and fields[0] != fields[3] and fields[0] != fields[4] and fields[7] != fields[8]
    # and a and b (other name, other label value) share every memo entry, per field and whole
    mf._CREATED.clear()
    mf._CREATED_OBJECTS.clear()
    mf.update_managed_fields(None, objs[0], "m", model=Pod)
    entries, objects = len(mf._CREATED), len(mf._CREATED_OBJECTS)
    mf.update_managed_fields(None, objs[1], "m", model=Pod)
    assert (len(mf._CREATED), len(mf._CREATED_OBJECTS)) == (entries, objects) == (2, 1)
    mf.update_managed_fields(None, objs[3], "m", model=Pod)  # another label key: another object
    assert len(mf._CREATED_OBJECTS) == 2


def test_created_memo_tells_objects_with_other_top_level_scalars_apart() -> None:
    """The whole-object memo keys top-level scalars by their type and value, so a created object is
    never answered with the field set of one whose walk would differ."""
    base = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}
    with_data = {**base, "data": {"k": "v"}}
    immutable = {**base, "immutable": True}
    for objs in ([base, with_data, immutable], [immutable, with_data, base]):
        mf._CREATED.clear()
        mf._CREATED_OBJECTS.clear()
        got = [mf.update_managed_fields(None, o, "m", model=ConfigMap, time="t") for o in objs]
        walked = []
        for o in objs:
            mf._CREATED.clear()
            mf._CREATED_OBJECTS.clear()
            walked.append(mf.update_managed_fields(None, o, "m", model=ConfigMap, time="t"))
        assert got == walked
    # the last round's order: immutable, data, nothing (the name is nobody's field)
    assert [[f for m in ms for f in m["fieldsV1"]] for ms in walked] == [["f:immutable"], ["f:data"], []]


def _created_walked(objs: list[dict], model) -> tuple[list, list]:
    """Each object's managedFields on create through the memos (in order), and by a walk with
    the memos emptied before each."""
    mf._CREATED.clear()
    mf._CREATED_OBJECTS.clear()
    memoized = [mf.update_managed_fields(None, o, "m", model=model, time="t") for o in objs]
    walked = []
    for o in objs:
        mf._CREATED.clear()
        mf._CREATED_OBJECTS.clear()
        walked.append(mf.update_managed_fields(None, o, "m", model=model, time="t"))
    return memoized, walked


def test_created_memo_shares_events_that_differ_in_their_strings() -> None:
    """A component's Events differ in their involved object, message and timestamps: all
    strings outside lists, which the walk never looks into on create. They share one
    whole-object memo entry, and each still gets what a walk of it finds."""
    def event(i: int, **extra) -> dict:
        return {"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"p{i}.{i:x}", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "namespace": "default", "name": f"p{i}", "uid": f"u{i}",
                                   "apiVersion": "v1", "resourceVersion": str(i), "fieldPath": "spec.containers{c}"},
                "reason": "Pulled", "message": f"image {i} present", "type": "Normal",
                "source": {"component": "kubelet", "host": f"n{i}"}, "firstTimestamp": f"2026-12-05T06:00:0{i}Z",
                "lastTimestamp": f"2026-12-05T06:00:0{i}Z", "count": 1, **extra}

    objs = [event(1), event(2), event(3, message=""), event(4, count=2), event(5, series=None),
            event(6, related={"kind": "Node", "name": "n6"})]
    memoized, walked = _created_walked(objs, Event)
    assert memoized == walked
    fields = [json.dumps(m[0]["fieldsV1"], sort_keys=True) for m in walked]
    assert fields[0] == fields[1] == fields[3] and fields[0] != fields[5]
    mf._CREATED.clear()
    mf._CREATED_OBJECTS.clear()
    mf.update_managed_fields(None, objs[0], "m", model=Event)
    mf.update_managed_fields(None, objs[1], "m", model=Event)
    assert len(mf._CREATED_OBJECTS) == 1


def test_created_memo_keeps_the_strings_inside_lists() -> None:
    """Inside a list an item's text names it (``k:{"name":...}``, ``v:...``): objects that differ
    there are told apart, and strings outside lists still do not split the memo."""
    def pod(containers: list[str], finalizers: list[str], node: str) -> dict:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default", "finalizers": finalizers},
                "spec": {"nodeName": node, "containers": [{"name": c, "image": "busybox"} for c in containers]}}

    objs = [pod(["a"], ["x"], "n1"), pod(["b"], ["x"], "n1"), pod(["a"], ["y"], "n1"), pod(["a"], ["x"], "n2"),
            pod(["a", "b"], [], ""), pod([], [], "n3")]
    memoized, walked = _created_walked(objs, Pod)
    assert memoized == walked
    fields = [json.dumps(m[0]["fieldsV1"], sort_keys=True) for m in walked]
    assert fields[0] != fields[1] and fields[0] != fields[2] and fields[0] == fields[3]
    assert '"f:nodeName"' in fields[0] and '"f:nodeName"' in fields[4]
