"""Pods of one template are decoded once (apiserver/rest.py, ``RestStorage.admit_body``): a pod
body like one decoded before but for its metadata is answered from the remembered rest with
its own metadata decoded, and must come out exactly as decoding the whole body would give it,
errors included. Likewise an update that keeps the stored pod's spec (a status write, a label
change) has only its metadata and status decoded."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest

from apiserver import errors
from apiserver.registry.table import BY_TYPE
from apiserver.rest import RestStorage
from apiserver.storage.sqlite import SQLiteStorage
from apiserver.watchcache import WatchCache
from minik8s.api.resources import PODS

SPECS: list[Any] = [
    {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]},
    # limits become requests; hostNetwork makes container ports host ports; a null is unset
    {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                     "ports": [{"containerPort": 80}], "env": None}],
     "hostNetwork": True, "enableServiceLinks": False},
    {"initContainers": [{"name": "i", "image": "busybox", "resources": {"limits": {"cpu": "100m"},
                                                                       "requests": {"memory": "1Mi"}}}],
     "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 8080, "protocol": "UDP"}]}],
     "volumes": [{"name": "v", "emptyDir": {}}], "tolerations": [{"operator": "Exists"}]},
    {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 70000}]}]},  # invalid
    None,
]
METADATAS: list[Any] = [
    {"name": "a", "labels": {"app": "x"}},
    {"generateName": "web-", "annotations": {"k": "v"},
     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u1",
                          "controller": True}]},
    {"name": "b", "labels": None, "finalizers": ["f"]},
    None,
    {"name": "bad", "labels": {"app": 1}},  # a label value must be a string
    {"name": "bad2", "ownerReferences": [{"kind": "ReplicaSet"}]},  # required fields missing
]


@pytest.fixture
def rest(tmp_path: Path) -> RestStorage:
    storage = SQLiteStorage(str(tmp_path / "store.db"))  # never started: admit_body reads nothing
    return RestStorage(storage, WatchCache(storage))


def admitted(rest: RestStorage, body: dict[str, Any]) -> tuple[str, Any]:
    try:
        obj = rest.admit_body(BY_TYPE[PODS], copy.deepcopy(body), field_validation="Strict", warnings=[])
    except errors.Invalid as e:
        return "invalid", (str(e), e.details)
    return "ok", (obj, list(obj), list(obj.get("metadata") or {}))  # key order too


def body(spec: Any, metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


@pytest.mark.parametrize("spec", SPECS)
def test_a_pod_like_one_seen_decodes_as_its_whole_body_would(tmp_path: Path, spec: Any) -> None:
    for first, then in itertools.product(METADATAS, METADATAS):
        fresh = RestStorage(SQLiteStorage(str(tmp_path / "a.db")), WatchCache(SQLiteStorage(str(tmp_path / "a.db"))))
        expected = admitted(fresh, body(spec, then))
        warm = RestStorage(SQLiteStorage(str(tmp_path / "b.db")), WatchCache(SQLiteStorage(str(tmp_path / "b.db"))))
        admitted(warm, body(spec, first))
        assert admitted(warm, body(spec, then)) == expected, (first, then)


def test_the_remembered_pod_is_a_copy_each_time(rest: RestStorage) -> None:
    one = rest.admit_body(BY_TYPE[PODS], body(SPECS[0], {"name": "a"}), field_validation="Strict", warnings=[])
    one["spec"]["containers"][0]["image"] = "changed"  # admission and the strategy mutate what they get
    two = rest.admit_body(BY_TYPE[PODS], body(SPECS[0], {"name": "b"}), field_validation="Strict", warnings=[])
    assert two["spec"]["containers"][0]["image"] == "busybox" and two["metadata"] == {"name": "b"}
    assert len(rest._admitted_pods) == 1


def test_pods_with_status_are_not_remembered(rest: RestStorage) -> None:
    with_status = {**body(SPECS[0], {"name": "a"}), "status": {"phase": "Running"}}
    rest.admit_body(BY_TYPE[PODS], with_status, field_validation="Strict", warnings=[])
    assert rest._admitted_pods == {}


STATUSES: list[Any] = [
    None,
    {},
    {"phase": "Running", "podIP": "10.0.0.5", "startTime": "2026-12-06T00:00:00Z",
     "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-06T00:00:01Z"}],
     "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "image": "busybox",
                            "imageID": "", "state": {"running": {"startedAt": "2026-12-06T00:00:01Z"}}}]},
    {"phase": "Pending", "hostIP": None, "qosClass": "BestEffort"},
    {"containerStatuses": [{"name": "c", "ready": "maybe", "restartCount": 0, "image": "i", "imageID": ""}]},  # invalid
    {"conditions": [{"type": "Ready"}]},  # status missing: invalid
    ["not", "a", "status"],  # invalid
]


@pytest.mark.parametrize("spec", [s for s in SPECS[:3]])
def test_an_update_keeping_the_stored_spec_decodes_as_its_whole_body_would(tmp_path: Path, spec: Any) -> None:
    fresh = RestStorage(SQLiteStorage(str(tmp_path / "a.db")), WatchCache(SQLiteStorage(str(tmp_path / "a.db"))))
    kind, (stored, _, _) = admitted(fresh, body(spec, {"name": "p"}))
    assert kind == "ok"
    for metadata, status in itertools.product(METADATAS, STATUSES):
        update = {**body(copy.deepcopy(stored["spec"]), metadata), "status": status}
        expected = admitted(fresh, update)
        try:
            got: tuple[str, Any] = ("ok", rest_admit(fresh, update, stored))
        except errors.Invalid as e:
            got = ("invalid", (str(e), e.details))
        if got[0] == "ok":
            obj = got[1]
            got = ("ok", (obj, list(obj), list(obj.get("metadata") or {})))
        assert got == expected, (metadata, status)


def rest_admit(rest: RestStorage, update: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    return rest.admit_body(BY_TYPE[PODS], copy.deepcopy(update), field_validation="Strict", warnings=[],
                           stored=stored)


def test_the_kept_spec_is_a_copy_and_a_changed_spec_is_decoded(rest: RestStorage) -> None:
    stored = rest.admit_body(BY_TYPE[PODS], body(SPECS[1], {"name": "p"}), field_validation="Strict", warnings=[])
    update = {**copy.deepcopy(stored), "status": {"phase": "Running"}}
    out = rest.admit_body(BY_TYPE[PODS], update, field_validation="Strict", warnings=[], stored=stored)
    out["spec"]["containers"][0]["image"] = "changed"  # the strategy and admission change what they get
    assert update["spec"]["containers"][0]["image"] == stored["spec"]["containers"][0]["image"] == "busybox"
    # a spec the update changes is decoded (and refused when invalid), not taken as stored
    bad = copy.deepcopy(stored)
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": "eighty"}]
    with pytest.raises(errors.Invalid, match="containerPort"):
        rest.admit_body(BY_TYPE[PODS], bad, field_validation="Strict", warnings=[], stored=stored)
    # a field a decoding drops is dropped: such a body takes the whole decoding
    odd = {**copy.deepcopy(stored), "extra": 1}
    out = rest.admit_body(BY_TYPE[PODS], odd, field_validation="Ignore", warnings=[], stored=stored)
    assert "extra" not in out
