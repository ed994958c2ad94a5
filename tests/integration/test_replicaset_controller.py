"""The ReplicaSet controller against a real apiserver: creation with owner references, status,
deletion ranking, adoption and release, minReadySeconds, ReplicaFailure, expectations.

Most tests run the controller's workers in-process; some call ``sync`` directly, as Kubernetes'
own controller tests do. No kubelet runs: a test marks pods Ready itself (workload_helpers).
"""

from __future__ import annotations

import pytest

from controllers.replicaset import ReplicaSetController
from minik8s.api.resources import PODS, REPLICASETS
from tests.integration.workload_helpers import (
    Controllers,
    mark_ready,
    namespace,
    now_rfc3339,
    replicaset,
    wait_for,
)

LABELS = {"app": "web"}


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as n:
        yield n


@pytest.fixture
async def rsc(ns):
    ctrls = Controllers(ns.client)
    ctrl = ctrls.add(ReplicaSetController(ns.client, ctrls.informers))
    yield ctrls, ctrl
    await ctrls.stop()


async def _status(ns, name: str, **want: int) -> dict | None:
    rs = await ns.get_rs(name)
    st = rs.get("status") or {}
    if all((st.get(k) or 0) == v for k, v in want.items()) and st.get("observedGeneration") == rs["metadata"]["generation"]:
        return rs
    return None


async def test_creates_replicas_owned_and_named_after_the_replicaset(ns, rsc):
    ctrls, _ = rsc
    await ctrls.start()
    rs = await ns.client.create(REPLICASETS, replicaset("web", 3, LABELS))
    pods = await wait_for(lambda: _pods_if(ns, 3), what="3 pods")
    for p in pods:
        md = p["metadata"]
        assert md["name"].startswith("web-") and len(md["name"]) == len("web-") + 5
        assert md["labels"] == LABELS
        assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                          "uid": rs["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]
        assert p["spec"]["containers"][0]["image"] == "minik8s/busybox:latest"
    await wait_for(lambda: _status(ns, "web", replicas=3, fullyLabeledReplicas=3, readyReplicas=0,
                                   availableReplicas=0), what="status replicas=3")
    created = await wait_for(lambda: _events_if(ns, "SuccessfulCreate", 3), what="SuccessfulCreate events")
    assert {e["message"] for e in created} == {f"Created pod: {p['metadata']['name']}" for p in pods}
    assert all(e["involvedObject"]["kind"] == "ReplicaSet" and e["source"]["component"] == "replicaset-controller"
               for e in created)

    # Ready pods are counted ready and (no minReadySeconds) available.
    for p in pods:
        await mark_ready(ns.client, p)
    await wait_for(lambda: _status(ns, "web", replicas=3, readyReplicas=3, availableReplicas=3), what="3 ready")


async def _pods_if(ns, n: int) -> list[dict] | None:
    pods = await ns.pods()
    return pods if len(pods) == n else None


async def _events_if(ns, reason: str, n: int) -> list[dict] | None:
    evs = await ns.events(reason)
    return evs if len(evs) >= n else None


async def test_replaces_a_deleted_pod_and_scales_up_and_down(ns, rsc):
    ctrls, _ = rsc
    await ctrls.start()
    await ns.client.create(REPLICASETS, replicaset("web", 2, LABELS))
    pods = await wait_for(lambda: _pods_if(ns, 2), what="2 pods")
    await ns.client.delete(PODS, pods[0]["metadata"]["name"])
    replaced = await wait_for(lambda: _pods_if(ns, 2), what="a replacement")
    assert pods[0]["metadata"]["name"] not in {p["metadata"]["name"] for p in replaced}

    await ns.client.patch(REPLICASETS, "web", {"spec": {"replicas": 7}}, subresource="scale")
    await wait_for(lambda: _pods_if(ns, 7), what="7 pods")
    await ns.client.patch(REPLICASETS, "web", {"spec": {"replicas": 1}})
    await wait_for(lambda: _pods_if(ns, 1), what="1 pod")
    await wait_for(lambda: _status(ns, "web", replicas=1), what="status replicas=1")
    deleted = await wait_for(lambda: _events_if(ns, "SuccessfulDelete", 6), what="SuccessfulDelete events")
    assert all(e["message"].startswith("Deleted pod: web-") for e in deleted)


async def test_scale_down_deletes_not_ready_before_ready(ns, rsc):
    ctrls, _ = rsc
    await ctrls.start()
    await ns.client.create(REPLICASETS, replicaset("web", 4, LABELS))
    pods = await wait_for(lambda: _pods_if(ns, 4), what="4 pods")
    ready, not_ready = pods[:2], pods[2:]
    for p in ready:
        await mark_ready(ns.client, p)
    await mark_ready(ns.client, not_ready[0], ready=False)  # Running but not ready
    await wait_for(lambda: _status(ns, "web", replicas=4, readyReplicas=2), what="2 ready")
    await ns.client.patch(REPLICASETS, "web", {"spec": {"replicas": 2}})
    left = await wait_for(lambda: _pods_if(ns, 2), what="2 pods left")
    assert {p["metadata"]["name"] for p in left} == {p["metadata"]["name"] for p in ready}


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(ns, rsc):
    ctrls, _ = rsc
    orphan = await ns.client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": "orphan", "labels": dict(LABELS)},
                                           "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}})
    other = await ns.client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                          "metadata": {"name": "other", "labels": {"app": "other"}},
                                          "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}})
    await ctrls.start()
    rs = await ns.client.create(REPLICASETS, replicaset("web", 2, LABELS))
    await wait_for(lambda: _pods_if(ns, 3), what="one pod created beside the adopted orphan and the other")

    async def adopted():
        pod = await ns.client.get(PODS, "orphan")
        refs = pod["metadata"].get("ownerReferences") or []
        return refs if refs and refs[0]["uid"] == rs["metadata"]["uid"] else None
    refs = await wait_for(adopted, what="orphan adopted")
    assert refs[0]["controller"] is True and refs[0]["blockOwnerDeletion"] is True
    assert orphan["metadata"]["uid"] == (await ns.client.get(PODS, "orphan"))["metadata"]["uid"]
    assert not (await ns.client.get(PODS, "other"))["metadata"].get("ownerReferences")
    assert other

    # Relabel the adopted pod: it is released (ownerReference removed) and replaced.
    await ns.client.patch(PODS, "orphan", {"metadata": {"labels": {"app": "quarantine"}}})

    async def released():
        pod = await ns.client.get(PODS, "orphan")
        return pod if not pod["metadata"].get("ownerReferences") else None
    await wait_for(released, what="pod released")
    owned = await wait_for(lambda: _pods_if_selected(ns, "app=web", 2), what="a replacement for the released pod")
    assert "orphan" not in {p["metadata"]["name"] for p in owned}


async def _pods_if_selected(ns, selector: str, n: int) -> list[dict] | None:
    pods = await ns.pods(selector=selector)
    return pods if len(pods) == n else None


async def test_pods_of_another_controller_are_left_alone(ns, rsc):
    ctrls, _ = rsc
    await ctrls.start()
    await ns.client.create(REPLICASETS, replicaset("first", 2, LABELS))
    await wait_for(lambda: _pods_if(ns, 2), what="first's pods")
    # A second ReplicaSet with an overlapping selector must not take first's pods.
    second = await ns.client.create(REPLICASETS, replicaset("second", 1, LABELS))
    await wait_for(lambda: _pods_if(ns, 3), what="second's own pod")
    owners = [p["metadata"]["ownerReferences"][0]["name"] for p in await ns.pods()]
    assert sorted(owners) == ["first", "first", "second"]
    assert second


async def test_available_replicas_honour_min_ready_seconds(ns, rsc):
    ctrls, ctrl = rsc
    await ctrls.sync_caches()
    await ns.client.create(REPLICASETS, replicaset("web", 2, LABELS, minReadySeconds=300))
    await wait_for(lambda: _cached(ctrl.rs_informer, f"{ns.name}/web"), what="rs in cache")
    await ctrl.sync(f"{ns.name}/web")
    pods = await wait_for(lambda: _pods_if(ns, 2), what="2 pods")
    # Ready just now: ready, not yet available.
    for p in pods:
        await mark_ready(ns.client, p)
    await wait_for(lambda: _cached_ready(ctrl, ns, 2), what="ready pods in cache")
    await ctrl.sync(f"{ns.name}/web")
    rs = await ns.get_rs("web")
    assert rs["status"]["readyReplicas"] == 2 and rs["status"]["availableReplicas"] == 0
    # Ready for longer than minReadySeconds: available.
    for p in pods:
        await mark_ready(ns.client, p, since=now_rfc3339(-600))
    await wait_for(lambda: _cached_ready(ctrl, ns, 2, since_before=now_rfc3339(-300)), what="old ready times in cache")
    await ctrl.sync(f"{ns.name}/web")
    rs = await ns.get_rs("web")
    assert rs["status"]["readyReplicas"] == 2 and rs["status"]["availableReplicas"] == 2


async def _cached(informer, key: str):
    return informer.store.get(key)


async def _cached_ready(ctrl, ns, n: int, since_before: str | None = None) -> bool:
    count = 0
    for p in ctrl.pod_informer.store.by_index("namespace", ns.name):
        for c in (p.get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready" and c["status"] == "True" and (since_before is None or c["lastTransitionTime"] < since_before):
                count += 1
    return count == n


async def test_replica_failure_condition_when_pod_creation_is_rejected(ns, rsc):
    ctrls, _ = rsc
    await ctrls.start()
    # Kubernetes validates a pod's finalizers but not a template's: every pod create is a 422.
    body = replicaset("web", 2, LABELS)
    body["spec"]["template"]["metadata"]["finalizers"] = ["not a valid finalizer!"]
    await ns.client.create(REPLICASETS, body)

    async def failing():
        rs = await ns.get_rs("web")
        for c in (rs.get("status") or {}).get("conditions") or []:
            if c["type"] == "ReplicaFailure":
                return c
        return None
    cond = await wait_for(failing, what="ReplicaFailure condition")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "finalizers" in cond["message"]
    events = await wait_for(lambda: _events_if(ns, "FailedCreate", 1), what="FailedCreate event")
    assert events[0]["type"] == "Warning" and events[0]["message"].startswith("Error creating: ")
    # Slow start: the first batch (1 pod) failed, so no second batch was tried in that sync.
    assert await ns.pods() == []

    # Fix the template: pods appear and the condition goes.
    await ns.client.patch(REPLICASETS, "web", {"spec": {"template": {"metadata": {"finalizers": None}}}})

    async def recovered():
        rs = await ns.get_rs("web")
        conds = (rs.get("status") or {}).get("conditions") or []
        return rs if rs["status"].get("replicas") == 2 and not conds else None
    await wait_for(recovered, timeout=30, what="recovery")


async def test_expectations_hold_back_a_second_create_until_the_cache_catches_up(ns, rsc):
    """Two syncs back to back, before any pod ADDED event is processed, create once."""
    ctrls, ctrl = rsc
    await ctrls.sync_caches()
    await ns.client.create(REPLICASETS, replicaset("web", 5, LABELS))
    await wait_for(lambda: _cached(ctrl.rs_informer, f"{ns.name}/web"), what="rs in cache")
    key = f"{ns.name}/web"
    await ctrl.sync(key)
    # Whatever part of the 5 ADDED events the cache has seen by now, expectations must make
    # this second sync create nothing.
    await ctrl.sync(key)
    assert len(await ns.pods()) == 5
    await wait_for(lambda: _all_observed(ctrl, key), what="expectations met")
    await ctrl.sync(key)
    assert len(await ns.pods()) == 5


async def _all_observed(ctrl, key: str) -> bool:
    return ctrl.expectations.satisfied(key)


async def test_deleting_pods_while_terminating_counts_once(ns, rsc):
    """A pod with a deletionTimestamp (bound to a node, so deleted gracefully) is not counted
    and is replaced at once, without waiting for it to go."""
    ctrls, _ = rsc
    await ctrls.start()
    await ns.client.create(REPLICASETS, replicaset("web", 2, LABELS))
    pods = await wait_for(lambda: _pods_if(ns, 2), what="2 pods")
    victim = pods[0]["metadata"]["name"]
    await ns.client.request("POST", PODS.path(ns.name, victim, "binding"),
                            json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": victim},
                                  "target": {"apiVersion": "v1", "kind": "Node", "name": "nowhere"}})
    await ns.client.delete(PODS, victim, grace_period_seconds=300)
    terminating = await ns.client.get(PODS, victim)
    assert terminating["metadata"].get("deletionTimestamp")
    active = await wait_for(lambda: _pods_if(ns, 2), what="a replacement beside the terminating pod")
    assert victim not in {p["metadata"]["name"] for p in active}
    assert len(await ns.pods(active=False)) == 3
    await wait_for(lambda: _status(ns, "web", replicas=2), what="terminating pod not counted")
    await ns.client.delete(PODS, victim, grace_period_seconds=0)

