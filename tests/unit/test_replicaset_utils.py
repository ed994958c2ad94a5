"""The ReplicaSet controller's pure parts: deletion ranking, status, expectations, slow start."""

from __future__ import annotations

import datetime

from controllers import controller_utils as cu
from controllers import replicaset_utils as rsutil
from controllers.expectations import ControllerExpectations, UIDTrackingControllerExpectations
from minik8s import errors, timestamps

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def ts(seconds_ago: float) -> str:
    return timestamps.format_time(NOW - datetime.timedelta(seconds=seconds_ago))


def pod(name, *, node="n1", phase="Running", ready=True, ready_ago=3600, created_ago=7200, restarts=0, cost=None):
    md = {"name": name, "uid": f"uid-{name}", "creationTimestamp": ts(created_ago)}
    if cost is not None:
        md["annotations"] = {cu.POD_DELETION_COST: str(cost)}
    status = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if phase == "Running":
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": ts(ready_ago)}]
    return {"metadata": md, "spec": {"nodeName": node}, "status": status}


def first(pods, related=None, at=None):
    return rsutil.pods_to_delete(pods, related or pods, 1, at=at)[0]["metadata"]["name"]


def test_unassigned_then_pending_then_not_ready_go_first():
    running = pod("running")
    assert first([running, pod("unassigned", node="")]) == "unassigned"
    assert first([running, pod("pending", phase="Pending")]) == "pending"
    assert first([running, pod("unknown", phase="Unknown"), pod("pending", phase="Pending")]) == "pending"
    assert first([running, pod("notready", ready=False)]) == "notready"


def test_deletion_cost_then_doubled_up_then_recency():
    assert first([pod("expensive", cost=100), pod("cheap", cost=-5)]) == "cheap"
    a, b, c = pod("a", node="n1"), pod("b", node="n1"), pod("c", node="n2")
    assert first([c, a], related=[a, b, c]) == "a"  # n1 has two related pods
    assert first([pod("old", ready_ago=9000), pod("fresh", ready_ago=10)]) == "fresh"
    assert first([pod("calm", restarts=0), pod("flappy", restarts=5)]) == "flappy"
    assert first([pod("older", created_ago=9000), pod("newer", created_ago=100)]) == "newer"


def test_logarithmic_comparison_treats_similar_ages_alike():
    # 1000 s and 1050 s ago share a log2 bucket (2**39 ns is about 550 s): Kubernetes then
    # orders by uid, a stable pseudorandom choice, instead of the exact ready time.
    a = pod("a", ready_ago=1000)
    b = pod("b", ready_ago=1050)
    assert first([a, b], at=NOW) == "a"
    a["metadata"]["uid"], b["metadata"]["uid"] = "uid-z", "uid-0"
    assert first([a, b], at=NOW) == "b"
    assert first([a, b], at=None) == "a"  # exact times: the more recently ready goes first
    # Different buckets: the more recently ready goes first whatever the uids.
    assert first([pod("x", ready_ago=10), pod("y", ready_ago=5000)], at=NOW) == "x"


def test_pods_to_delete_takes_all_when_asked_for_more():
    ps = [pod("a"), pod("b")]
    assert rsutil.pods_to_delete(ps, ps, 5) == ps


def test_calculate_status_counts_and_failure_condition():
    rs = {"metadata": {"generation": 2}, "spec": {"replicas": 4, "minReadySeconds": 60,
                                                   "template": {"metadata": {"labels": {"app": "w", "tier": "x"}}}},
          "status": {"observedGeneration": 1}}
    pods = [pod("a", ready_ago=600), pod("b", ready_ago=10), pod("c", ready=False)]
    pods[0]["metadata"]["labels"] = {"app": "w", "tier": "x"}
    pods[1]["metadata"]["labels"] = {"app": "w"}
    err = errors.Invalid({}, 422, "Invalid", 'Pod "x" is invalid')
    st = rsutil.calculate_status(rs, pods, err, at=NOW)
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 1, 2, 1)
    [cond] = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == \
        ("ReplicaFailure", "True", "FailedCreate", 'Pod "x" is invalid')
    rs["status"] = {**st, "observedGeneration": 2}
    assert rsutil.status_unchanged(rs, rsutil.calculate_status(rs, pods, err, at=NOW))
    cleared = rsutil.calculate_status(rs, pods, None, at=NOW)
    assert "conditions" not in cleared
    assert not rsutil.status_unchanged(rs, cleared)


def test_expectations_count_and_expire():
    clock = [0.0]
    exp = ControllerExpectations(clock=lambda: clock[0], timeout=300)
    assert exp.satisfied("ns/a")  # nothing recorded
    exp.expect_creations("ns/a", 2)
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert exp.satisfied("ns/a")
    exp.expect_creations("ns/a", 1)
    clock[0] = 301
    assert exp.satisfied("ns/a")  # expired: a lost event must not wedge the controller


def test_uid_tracking_counts_each_deletion_once():
    exp = UIDTrackingControllerExpectations()
    exp.expect_deletions("ns/a", ["ns/p1", "ns/p2"])
    exp.deletion_observed("ns/a", "ns/p1")
    exp.deletion_observed("ns/a", "ns/p1")  # the DELETED event after the deletionTimestamp update
    assert not exp.satisfied("ns/a")
    exp.deletion_observed("ns/a", "ns/unrelated")
    assert not exp.satisfied("ns/a")
    exp.deletion_observed("ns/a", "ns/p2")
    assert exp.satisfied("ns/a")


async def test_slow_start_batches_double_and_stop_at_a_failing_batch():
    calls: list[int] = []

    async def ok() -> None:
        calls.append(1)

    assert await cu.slow_start_batch(10, 1, ok) == (10, None)
    assert len(calls) == 10
    n = 0

    async def fails_from_the_fourth() -> None:
        nonlocal n
        n += 1
        if n >= 4:
            raise errors.Forbidden({}, 403, "Forbidden", "quota")

    successes, err = await cu.slow_start_batch(20, 1, fails_from_the_fourth)
    # Batches 1, 2 succeed (3 calls); the batch of 4 has failures; nothing after it runs.
    assert n == 7 and successes == 3 and isinstance(err, errors.Forbidden)


def test_pod_from_template_carries_labels_annotations_and_controller_ref():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "ns", "uid": "u"}}
    tmpl = {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}}, "spec": {"containers": [{"name": "c"}]}}
    p = cu.pod_from_template(tmpl, owner)
    assert p["metadata"] == {"generateName": "web-", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"x": "y"},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                  "uid": "u", "controller": True, "blockOwnerDeletion": True}]}
    p["spec"]["containers"][0]["name"] = "changed"
    assert tmpl["spec"]["containers"][0]["name"] == "c"  # a copy, not the template itself
