"""ReplicationControllers and PodDisruptionBudgets on a real apiserver: an RC kept by the
ReplicaSet machinery (selector defaulted from the template, ``kubectl scale rc``, printed
columns); the disruption controller's status; the eviction subresource spending a budget and
refusing with 429 and Kubernetes' message once it is spent; validation.

No kubelet runs: a test marks pods Ready itself (workload_helpers.mark_ready).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from controllers.disruption import DisruptionController
from controllers.replicaset import ReplicaSetController
from controllers.replication import ReplicationManager
from minik8s import errors
from minik8s.api.resources import PODDISRUPTIONBUDGETS, PODS, REPLICASETS, REPLICATIONCONTROLLERS
from tests.integration.controller_harness import running
from tests.integration.job_helpers import namespace
from tests.integration.workload_helpers import mark_ready, replicaset
from tests.waiting import eventually


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as pair:
        yield pair


def rc(name: str, replicas: int) -> dict:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "containers": [{"name": "main", "image": "minik8s/busybox:latest", "command": ["sleep", "3600"]}]}}}}


async def _pods(client, n, selector):
    return [p for p in (await client.list(PODS, namespace=n, label_selector=selector))["items"]
            if not p["metadata"].get("deletionTimestamp")]


async def test_replication_controller_keeps_its_replicas_and_scales(ns, kubectl):
    client, n = ns
    async with running(client, lambda f: ReplicationManager(client, f)):
        created = await client.create(REPLICATIONCONTROLLERS, rc("legacy", 2), namespace=n)
        assert created["spec"]["selector"] == {"app": "legacy"} and created["metadata"]["labels"] == {"app": "legacy"}
        pods = await eventually(lambda: _count(client, n, "app=legacy", 2), what="2 pods")
        ref = pods[0]["metadata"]["ownerReferences"][0]
        assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("v1", "ReplicationController", "legacy")
        r = await asyncio.to_thread(kubectl, "-n", n, "scale", "rc", "legacy", "--replicas=4")
        assert r.returncode == 0 and "replicationcontroller/legacy scaled" in r.stdout, r.stderr
        await eventually(lambda: _count(client, n, "app=legacy", 4), what="4 pods")

        async def status():
            cur = await client.get(REPLICATIONCONTROLLERS, "legacy", namespace=n)
            return cur if cur.get("status", {}).get("replicas") == 4 else None
        await eventually(status, what="status.replicas 4")
        r = await asyncio.to_thread(kubectl, "-n", n, "get", "rc", "-o", "wide")
        assert r.stdout.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS",
                                                    "IMAGES", "SELECTOR"]
        assert r.stdout.splitlines()[1].split()[:4] == ["legacy", "4", "4", "0"]
        assert r.stdout.splitlines()[1].split()[-1] == "app=legacy"
    with pytest.raises(errors.Invalid) as e:
        bad = rc("bad", 1)
        bad["spec"]["selector"] = {"app": "other"}
        await client.create(REPLICATIONCONTROLLERS, bad, namespace=n)
    assert any(c["field"] == "spec.template.metadata.labels" for c in e.value.causes)


async def _count(client, n, selector, want):
    pods = await _pods(client, n, selector)
    return pods if len(pods) == want else None


def pdb(name: str, **spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


async def _budget(client, n, name, **want):
    cur = await client.get(PODDISRUPTIONBUDGETS, name, namespace=n)
    st = cur.get("status") or {}
    return cur if all(st.get(k) == v for k, v in want.items()) else None


def _evict(srv, n: str, pod: str) -> httpx.Response:
    with srv.http() as http:
        return http.post(f"/api/v1/namespaces/{n}/pods/{pod}/eviction",
                         json={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}})


async def test_budget_status_and_eviction(ns, apiserver_process):
    client, n = ns
    async with running(client, lambda f: ReplicaSetController(client, f)), \
            running(client, lambda f: DisruptionController(client, f)):
        await client.create(REPLICASETS, replicaset("web", 3, {"app": "web"}), namespace=n)
        pods = await eventually(lambda: _count(client, n, "app=web", 3), what="3 pods")
        await client.create(PODDISRUPTIONBUDGETS, pdb("keep2", minAvailable=2), namespace=n)
        await eventually(lambda: _budget(client, n, "keep2", currentHealthy=0, desiredHealthy=2,
                                         disruptionsAllowed=0, expectedPods=3), what="status with no ready pod")
        for p in pods:
            await mark_ready(client, p)
        cur = await eventually(lambda: _budget(client, n, "keep2", currentHealthy=3, desiredHealthy=2,
                                               disruptionsAllowed=1), what="one disruption allowed")
        cond = cur["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")

        first = _evict(apiserver_process, n, pods[0]["metadata"]["name"])
        assert first.status_code == 201, first.text
        # The refusal quotes the budget's status: wait until the controller has counted the
        # evicted pod out (the eviction itself only takes the allowed disruption).
        await eventually(lambda: _budget(client, n, "keep2", currentHealthy=2, disruptionsAllowed=0),
                         what="the evicted pod counted out")
        second = await asyncio.to_thread(_evict, apiserver_process, n, pods[1]["metadata"]["name"])
        assert second.status_code == 429, second.text
        body = second.json()
        assert body["reason"] == "TooManyRequests"
        assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
        assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                              "message": "The disruption budget keep2 needs 2 healthy pods and has "
                                                         "2 currently"}]
        # The replacement becomes ready: one disruption is allowed again.
        repl = await eventually(lambda: _new_pod(client, n, {p["metadata"]["name"] for p in pods}), what="replacement")
        await mark_ready(client, repl)
        await eventually(lambda: _budget(client, n, "keep2", currentHealthy=3, disruptionsAllowed=1), what="allowed")

        # A percentage counts the controller's replicas.
        await client.create(PODDISRUPTIONBUDGETS, pdb("third", maxUnavailable="34%"), namespace=n)
        # 34% of 3 rounds up to 2 unavailable: 1 must stay healthy.
        await eventually(lambda: _budget(client, n, "third", expectedPods=3, desiredHealthy=1), what="percent")
        # Two budgets for one pod: the eviction refuses to choose.
        both = await asyncio.to_thread(_evict, apiserver_process, n, pods[1]["metadata"]["name"])
        assert both.status_code == 500 and "more than one PodDisruptionBudget" in both.json()["message"]


async def _new_pod(client, n, old):
    pods = [p for p in await _pods(client, n, "app=web") if p["metadata"]["name"] not in old]
    return pods[0] if pods else None


@pytest.mark.parametrize("spec, field, message", [
    ({"minAvailable": 1, "maxUnavailable": 1}, "spec", "minAvailable and maxUnavailable cannot be both set"),
    ({"minAvailable": -1}, "spec.minAvailable", "must be greater than or equal to 0"),
    ({"maxUnavailable": "120%"}, "spec.maxUnavailable", "must not be greater than 100%"),
])
async def test_invalid_budgets(ns, spec, field, message):
    client, n = ns
    with pytest.raises(errors.Invalid) as e:
        await client.create(PODDISRUPTIONBUDGETS, pdb("bad", **spec), namespace=n)
    assert any(c.get("field") == field and message in c["message"] for c in e.value.causes), e.value.causes


def test_kubectl_create_pdb_and_columns(kubectl):
    r = kubectl("create", "poddisruptionbudget", "kc-pdb", "--selector=app=x", "--min-available=50%")
    assert r.returncode == 0, r.stderr
    try:
        r = kubectl("get", "pdb", "kc-pdb")
        assert r.stdout.splitlines()[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                                    "DISRUPTIONS", "AGE"]
        assert r.stdout.splitlines()[1].split()[:4] == ["kc-pdb", "50%", "N/A", "0"]
        out = json.loads(kubectl("get", "pdb", "kc-pdb", "-o", "json").stdout)
        assert out["spec"] == {"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}}
    finally:
        kubectl("delete", "pdb", "kc-pdb")


def test_kubectl_cluster_info_dump_gets_past_replication_controllers(kubectl, tmp_path):
    r = kubectl("cluster-info", "dump", "--namespaces", "default", "--output-directory", str(tmp_path / "dump"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dump" / "default" / "replication-controllers.json").exists()
    assert (tmp_path / "dump" / "default" / "daemonsets.json").exists()
