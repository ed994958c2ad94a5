"""The Deployment controller's pure arithmetic, against Kubernetes' documented behaviour."""

from __future__ import annotations

import datetime
import re

import pytest

from controllers import deployment_utils as du

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def deploy(replicas=10, surge="25%", unavailable="25%", strategy="RollingUpdate", **status):
    spec = {"replicas": replicas, "strategy": {"type": strategy}}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "generation": 1}, "spec": spec, "status": status}


def rs(name, replicas, *, available=0, created="2025-01-01T00:00:00Z", revision=None, **ann):
    annotations = {f"deployment.kubernetes.io/{k.replace('_', '-')}": str(v) for k, v in ann.items()}
    if revision is not None:
        annotations[du.REVISION] = str(revision)
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created,
                         "annotations": annotations},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}}


@pytest.mark.parametrize("surge,unavailable,desired,expected", [
    ("25%", "25%", 10, (3, 2)),     # surge rounds up, unavailable down
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 1, (1, 0)),
    (0, 0, 5, (0, 1)),              # both zero: one may be unavailable
    ("0%", "0%", 5, (0, 1)),
    (2, "50%", 5, (2, 2)),
    ("100%", 0, 4, (4, 0)),
])
def test_resolve_fenceposts(surge, unavailable, desired, expected):
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate():
    assert du.max_unavailable(deploy(replicas=2, unavailable=5)) == 2
    assert du.max_unavailable(deploy(replicas=0)) == 0
    assert du.max_unavailable(deploy(strategy="Recreate")) == 0
    assert du.max_surge(deploy(strategy="Recreate")) == 0


def test_new_rs_new_replicas_respects_surge():
    d = deploy(replicas=10, surge=3, unavailable=2)
    old = rs("old", 10)
    new = rs("new", 0)
    assert du.new_rs_new_replicas(d, [old, new], new) == 3
    old8, new3 = rs("old", 8), rs("new", 3)
    assert du.new_rs_new_replicas(d, [old8, new3], new3) == 5
    assert du.new_rs_new_replicas(deploy(strategy="Recreate"), [old, new], new) == 10


def test_proportional_scaling_matches_the_kubernetes_docs_example():
    # 10 replicas, maxSurge 3: stalled at old 8 + new 5 (sized for max 13); scale to 15.
    d = deploy(replicas=15, surge=3, unavailable=2)
    d["status"]["replicas"] = 13
    old = rs("old", 8, max_replicas=13)
    new = rs("new", 5, max_replicas=13)
    to_add = 15 + 3 - 13
    sorted_rss = du.sort_by_size_newer([new, old])
    assert [r["metadata"]["name"] for r in sorted_rss] == ["old", "new"]
    p_old = du.proportion(old, d, to_add, 0)
    p_new = du.proportion(new, d, to_add, p_old)
    assert (p_old, p_new) == (3, 2)


def test_proportion_without_annotation_uses_deployment_status_and_scales_down():
    d = deploy(replicas=5, surge=0, unavailable=1)
    d["status"] = {"replicas": 10}
    a = rs("a", 6)
    assert du.replica_set_fraction(a, d) == -3  # 6 * 5/10 = 3
    assert du.proportion(a, d, -5, 0) == -3
    assert du.proportion(a, d, -5, -4) == -1  # never beyond what is left to remove
    assert du.replica_set_fraction(a, deploy(replicas=0)) == -6


def test_compute_hash_is_stable_label_safe_and_sensitive():
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    h = du.compute_hash(t, None)
    assert h == du.compute_hash({"spec": {"containers": [{"image": "a", "name": "c"}]},
                                 "metadata": {"labels": {"app": "web"}, "annotations": {}}}, None)
    assert re.fullmatch(r"[bcdfghjklmnpqrstvwxz2456789]{1,10}", h)
    assert h != du.compute_hash(t, 1)
    assert du.compute_hash(t, 1) != du.compute_hash(t, 2)
    t2 = {**t, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    assert h != du.compute_hash(t2, None)


def test_find_new_replica_set_ignores_the_hash_label_and_prefers_the_oldest():
    tmpl = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    d = {"metadata": {"name": "web"}, "spec": {"template": tmpl}}
    with_hash = {"metadata": {"labels": {"app": "web", "pod-template-hash": "x"}}, "spec": tmpl["spec"]}
    r1 = {"metadata": {"name": "b", "uid": "1", "creationTimestamp": "2025-01-01T00:00:02Z"}, "spec": {"template": with_hash}}
    r2 = {"metadata": {"name": "a", "uid": "2", "creationTimestamp": "2025-01-01T00:00:01Z"}, "spec": {"template": with_hash}}
    other = {"metadata": {"name": "c", "uid": "3", "creationTimestamp": "2025-01-01T00:00:00Z"},
             "spec": {"template": {**tmpl, "spec": {"containers": [{"name": "c", "image": "b"}]}}}}
    assert du.find_new_replica_set(d, [r1, other, r2])["metadata"]["name"] == "a"
    active, all_old = du.find_old_replica_sets(d, [r1, other, r2])
    assert {r["metadata"]["name"] for r in all_old} == {"b", "c"}


def test_new_replica_set_annotations_and_rollback_history():
    d = {"metadata": {"annotations": {"kubernetes.io/change-cause": "v2", du.REVISION: "9",
                                      du.LAST_APPLIED: "{}"}}, "spec": {"replicas": 4}}
    new = {"metadata": {}, "spec": {}}
    assert du.set_new_replica_set_annotations(d, new, "1", exists=False)
    ann = new["metadata"]["annotations"]
    assert ann == {"kubernetes.io/change-cause": "v2", du.REVISION: "1", du.DESIRED_REPLICAS: "4",
                   du.MAX_REPLICAS: "5"}
    # Nothing new: no change reported.
    assert not du.set_new_replica_set_annotations(d, new, "1", exists=True)
    # Rolled back to: takes revision 3, remembers 1.
    assert du.set_new_replica_set_annotations(d, new, "3", exists=True)
    assert new["metadata"]["annotations"][du.REVISION] == "3"
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    du.set_new_replica_set_annotations(d, new, "5", exists=True)
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "1,3"


def test_find_active_or_latest():
    a, b = rs("a", 0, created="2025-01-01T00:00:01Z"), rs("b", 0, created="2025-01-01T00:00:02Z")
    assert du.find_active_or_latest(None, [a, b])["metadata"]["name"] == "b"
    assert du.find_active_or_latest(rs("n", 0), [a, b])["metadata"]["name"] == "n"
    assert du.find_active_or_latest(rs("n", 0), [a, rs("c", 2)])["metadata"]["name"] == "c"
    assert du.find_active_or_latest(rs("n", 1), [rs("c", 2)]) is None


def test_set_condition_keeps_times_unless_status_changes():
    st: dict = {}
    du.set_condition(st, du.new_condition("Progressing", "True", "A", "m", at=NOW))
    later = NOW + datetime.timedelta(minutes=1)
    du.set_condition(st, du.new_condition("Progressing", "True", "A", "other message", at=later))
    assert st["conditions"][0]["message"] == "m"  # same status and reason: untouched
    du.set_condition(st, du.new_condition("Progressing", "True", "B", "m2", at=later))
    c = st["conditions"][0]
    assert (c["reason"], c["lastTransitionTime"], c["lastUpdateTime"]) == ("B", "2025-01-01T12:00:00Z", "2025-01-01T12:01:00Z")
    du.set_condition(st, du.new_condition("Progressing", "False", "C", "m3", at=later))
    assert st["conditions"][0]["lastTransitionTime"] == "2025-01-01T12:01:00Z"


def test_set_condition_copies_and_leaves_the_given_condition_alone():
    st: dict = {"conditions": [du.new_condition("Progressing", "True", "A", "m", at=NOW)]}
    cond = du.new_condition("Progressing", "True", "B", "m2", at=NOW + datetime.timedelta(minutes=1))
    du.set_condition(st, cond)
    assert cond["lastTransitionTime"] == "2025-01-01T12:01:00Z"  # the caller's condition is not changed
    assert st["conditions"][0]["lastTransitionTime"] == "2025-01-01T12:00:00Z"


def test_set_condition_never_writes_a_null_transition_time():
    # A condition written without lastTransitionTime (by another writer): the new one of the same
    # status keeps its own time rather than copying the absent one as null.
    st: dict = {"conditions": [{"type": "Progressing", "status": "True", "reason": "A"}]}
    du.set_condition(st, du.new_condition("Progressing", "True", "B", "m", at=NOW))
    assert st["conditions"][0]["lastTransitionTime"] == "2025-01-01T12:00:00Z"


def test_rs_condition_to_deployment():
    c = du.rs_condition_to_deployment({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                       "message": "quota", "lastTransitionTime": "2025-01-01T12:00:00Z"})
    assert c == {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota",
                 "lastUpdateTime": "2025-01-01T12:00:00Z", "lastTransitionTime": "2025-01-01T12:00:00Z"}
    # What the ReplicaSet's condition lacks stays unset (never a null in the Deployment's status).
    assert du.rs_condition_to_deployment({"type": "ReplicaFailure", "status": "True"}) == {
        "type": "ReplicaFailure", "status": "True"}


def test_calculate_status_and_availability():
    d = deploy(replicas=4, surge=1, unavailable=1)
    old = rs("old", 1, available=1)
    old["status"]["readyReplicas"] = 1
    new = rs("new", 4, available=2)
    new["status"]["readyReplicas"] = 3
    st = du.calculate_status([old, new], new, d, at=NOW)
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"],
            st["unavailableReplicas"], st["observedGeneration"]) == (5, 4, 4, 3, 2, 1)
    assert du.get_condition(st, "Available")["status"] == "True"  # 3 >= 4 - 1
    st = du.calculate_status([new], new, deploy(replicas=4, surge=1, unavailable=0), at=NOW)
    assert du.get_condition(st, "Available")["reason"] == "MinimumReplicasUnavailable"


def test_complete_progressing_and_timed_out():
    d = deploy(replicas=2)
    d["status"] = {"replicas": 2, "updatedReplicas": 1, "availableReplicas": 1}
    assert du.deployment_complete(d, {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "observedGeneration": 1})
    assert not du.deployment_complete(d, {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2, "observedGeneration": 1})
    assert du.deployment_progressing(d, {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1})
    assert not du.deployment_progressing(d, {"replicas": 2, "updatedReplicas": 1, "availableReplicas": 1})
    d["spec"]["progressDeadlineSeconds"] = 60
    st = {"conditions": [du.new_condition("Progressing", "True", du.RS_UPDATED_REASON, "", at=NOW)]}
    assert not du.deployment_timed_out(d, st, at=NOW + datetime.timedelta(seconds=60))
    assert du.deployment_timed_out(d, st, at=NOW + datetime.timedelta(seconds=61))
    done = {"conditions": [du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE_REASON, "", at=NOW)]}
    assert not du.deployment_timed_out(d, done, at=NOW + datetime.timedelta(hours=1))


def test_is_saturated():
    d = deploy(replicas=3)
    assert du.is_saturated(d, rs("n", 3, available=3, desired_replicas=3))
    assert not du.is_saturated(d, rs("n", 3, available=2, desired_replicas=3))
    assert not du.is_saturated(d, rs("n", 3, available=3))
