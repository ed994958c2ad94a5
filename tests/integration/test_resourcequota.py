"""ResourceQuota admission and the quota controller against the real apiserver, with the real
kubectl where a user would type.

The quota controller runs in-process on the test's client (as the controller-manager runs it):
admission refuses to charge a quota whose ``status`` it has not filled yet, as Kubernetes does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controllers.resourcequota import ResourceQuotaController
from minik8s import errors
from minik8s.api.resources import NAMESPACES, PODS, RESOURCEQUOTAS, SERVICES
from tests.integration.controller_harness import new_namespace, running
from tests.waiting import eventually


@pytest.fixture
async def ns(client: Any) -> AsyncIterator[str]:
    name = await new_namespace(client, "quota")
    yield name
    with contextlib.suppress(errors.MiniK8sError):
        await client.delete(NAMESPACES, name)


@pytest.fixture
async def controller(client: Any) -> AsyncIterator[ResourceQuotaController]:
    async with running(client, lambda f: ResourceQuotaController(client, f)) as ctrl:
        yield ctrl


def _pod(name: str, **resources: Any) -> dict:
    c: dict[str, Any] = {"name": "c", "image": "busybox"}
    if resources:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [c]}}


async def _quota(client: Any, ns: str, name: str, hard: dict, **spec: Any) -> dict:
    await client.create(RESOURCEQUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                                         "spec": {"hard": hard, **spec}}, namespace=ns)

    async def counted() -> dict | None:
        q = await client.get(RESOURCEQUOTAS, name, namespace=ns)
        status = q.get("status") or {}
        return q if set(status.get("used") or {}) == set(hard) else None

    return await eventually(counted, what=f"quota {name} counted")


async def test_kubectl_third_pod_refused_with_kubernetes_message(kubectl: Any, client: Any, ns: str,
                                                                 controller: Any) -> None:
    proc = kubectl("-n", ns, "create", "quota", "two-pods", "--hard=pods=2")  # protobuf body
    assert proc.returncode == 0, proc.stderr

    async def counted() -> bool:
        q = await client.get(RESOURCEQUOTAS, "two-pods", namespace=ns)
        return (q.get("status") or {}).get("used") == {"pods": "0"}

    await eventually(counted, what="quota status")
    for i in (1, 2):
        proc = kubectl("-n", ns, "run", f"p{i}", "--image=busybox", "--restart=Never")
        assert proc.returncode == 0, proc.stderr
    proc = kubectl("-n", ns, "run", "p3", "--image=busybox", "--restart=Never")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ('Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: '
                                   'two-pods, requested: pods=1, used: pods=2, limited: pods=2')
    got = kubectl("-n", ns, "get", "quota")
    assert got.returncode == 0, got.stderr
    header, row = got.stdout.splitlines()
    assert header.split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert row.split()[0] == "two-pods" and row.split()[2:] == ["pods:", "2/2"]

    # Deleting a pod gives its room back (the controller recounts on the delete).
    assert kubectl("-n", ns, "delete", "pod", "p1", "--grace-period=0", "--force").returncode == 0

    async def freed() -> bool:
        q = await client.get(RESOURCEQUOTAS, "two-pods", namespace=ns)
        return (q.get("status") or {}).get("used") == {"pods": "1"}

    await eventually(freed, what="quota recount after a delete")
    proc = kubectl("-n", ns, "run", "p3", "--image=busybox", "--restart=Never")
    assert proc.returncode == 0, proc.stderr


async def test_twenty_concurrent_creates_against_five(client: Any, ns: str, controller: Any) -> None:
    await _quota(client, ns, "five", {"pods": "5"})

    async def create(i: int) -> str:
        try:
            await client.create(PODS, _pod(f"r{i}"), namespace=ns)
            return "ok"
        except errors.Forbidden as e:
            assert "exceeded quota: five, requested: pods=1, used: pods=5, limited: pods=5" in str(e), str(e)
            return "refused"

    results = await asyncio.gather(*(create(i) for i in range(20)))
    assert results.count("ok") == 5 and results.count("refused") == 15
    listed = await client.list(PODS, namespace=ns)
    assert len(listed["items"]) == 5
    q = await client.get(RESOURCEQUOTAS, "five", namespace=ns)
    assert q["status"]["used"] == {"pods": "5"}


async def test_compute_resources_and_scopes(client: Any, ns: str, controller: Any) -> None:
    await _quota(client, ns, "compute", {"requests.cpu": "1", "limits.memory": "1Gi"})
    await _quota(client, ns, "besteffort", {"pods": "1"}, scopes=["BestEffort"])
    # A quota on cpu/memory makes every container state them.
    with pytest.raises(errors.Forbidden) as e:
        await client.create(PODS, _pod("none", requests={"cpu": "100m"}), namespace=ns)
    assert 'pods "none" is forbidden: failed quota: compute: must specify limits.memory for: c' in str(e.value)
    await client.create(PODS, _pod("a", requests={"cpu": "600m"}, limits={"memory": "512Mi"}), namespace=ns)
    with pytest.raises(errors.Forbidden) as e:
        await client.create(PODS, _pod("b", requests={"cpu": "500m"}, limits={"memory": "256Mi"}), namespace=ns)
    assert ("exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, "
            "limited: requests.cpu=1") in str(e.value)
    q = await client.get(RESOURCEQUOTAS, "compute", namespace=ns)
    assert q["status"]["used"] == {"requests.cpu": "600m", "limits.memory": "512Mi"}
    # The BestEffort quota saw none of it: its one pod is still free.
    q = await client.get(RESOURCEQUOTAS, "besteffort", namespace=ns)
    assert q["status"]["used"] == {"pods": "0"}


async def test_object_counts_and_services(client: Any, ns: str, controller: Any) -> None:
    await _quota(client, ns, "objs", {"services": "1", "count/configmaps": "1", "services.nodeports": "0"})
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1"},
           "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    await client.create(SERVICES, svc, namespace=ns)
    with pytest.raises(errors.Forbidden) as e:
        await client.create(SERVICES, {**svc, "metadata": {"name": "s2"}}, namespace=ns)
    assert "exceeded quota: objs, requested: services=1, used: services=1, limited: services=1" in str(e.value)
    from minik8s.api.resources import CONFIGMAPS
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}
    await client.create(CONFIGMAPS, cm, namespace=ns)
    with pytest.raises(errors.Forbidden) as e:
        await client.create(CONFIGMAPS, {**cm, "metadata": {"name": "c2"}}, namespace=ns)
    assert "count/configmaps=1" in str(e.value)


def test_bad_quota_refused_with_field_paths(api_http: Any) -> None:
    ns = "default"
    for hard, field, message in (
        ({"bogus": "1"}, "spec.hard[bogus]", 'Invalid value: "bogus": must be a standard resource for quota'),
        ({"pods": "-1"}, "spec.hard[pods]", 'Invalid value: "-1": must be greater than or equal to 0'),
        ({"pods": "1.5"}, "spec.hard[pods]", 'Invalid value: "1500m": must be an integer'),
    ):
        r = api_http.post(f"/api/v1/namespaces/{ns}/resourcequotas",
                          json={"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "bad"},
                                "spec": {"hard": hard}})
        assert r.status_code == 422, r.text
        cause = r.json()["details"]["causes"][0]
        assert (cause["field"], cause["message"]) == (field, message)
    r = api_http.post(f"/api/v1/namespaces/{ns}/resourcequotas",
                      json={"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "bad"},
                            "spec": {"hard": {"pods": "lots"}}})
    assert r.status_code == 422, r.text
    assert "quantities must match the regular expression" in json.dumps(r.json())
    assert api_http.get(f"/api/v1/namespaces/{ns}/resourcequotas/bad").status_code == 404


async def test_claims_and_storage_requests(client: Any, ns: str, controller: Any) -> None:
    from minik8s.api.resources import PERSISTENTVOLUMECLAIMS
    await _quota(client, ns, "storage", {"persistentvolumeclaims": "2", "requests.storage": "1Gi"})

    def pvc(name: str, size: str) -> dict:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}

    await client.create(PERSISTENTVOLUMECLAIMS, pvc("a", "768Mi"), namespace=ns)
    with pytest.raises(errors.Forbidden) as e:
        await client.create(PERSISTENTVOLUMECLAIMS, pvc("b", "512Mi"), namespace=ns)
    assert ('persistentvolumeclaims "b" is forbidden: exceeded quota: storage, requested: requests.storage=512Mi, '
            'used: requests.storage=768Mi, limited: requests.storage=1Gi') in str(e.value)
    await client.create(PERSISTENTVOLUMECLAIMS, pvc("c", "256Mi"), namespace=ns)
    q = await client.get(RESOURCEQUOTAS, "storage", namespace=ns)
    assert q["status"]["used"] == {"persistentvolumeclaims": "2", "requests.storage": "1Gi"}
    with pytest.raises(errors.Forbidden) as e:
        await client.create(PERSISTENTVOLUMECLAIMS, pvc("d", "1Mi"), namespace=ns)
    assert "persistentvolumeclaims=1" in str(e.value)


async def test_priority_class_and_terminating_scopes(client: Any, ns: str, controller: Any) -> None:
    from minik8s.api.resources import PRIORITYCLASSES
    cls = f"gold-{ns}"
    await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                          "metadata": {"name": cls}, "value": 100})
    try:
        await _quota(client, ns, "gold", {"pods": "1"}, scopeSelector={"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": [cls]}]})
        await _quota(client, ns, "batch", {"pods": "1"}, scopes=["Terminating"])
        gold = _pod("g1")
        gold["spec"]["priorityClassName"] = cls
        await client.create(PODS, gold, namespace=ns)
        with pytest.raises(errors.Forbidden) as e:
            await client.create(PODS, {**gold, "metadata": {"name": "g2"}}, namespace=ns)
        assert "exceeded quota: gold" in str(e.value)
        # Neither scope covers a plain pod; a pod with a deadline falls under Terminating.
        await client.create(PODS, _pod("plain"), namespace=ns)
        job = _pod("j1")
        job["spec"]["activeDeadlineSeconds"] = 60
        await client.create(PODS, job, namespace=ns)
        with pytest.raises(errors.Forbidden) as e:
            await client.create(PODS, {**job, "metadata": {"name": "j2"}}, namespace=ns)
        assert "exceeded quota: batch" in str(e.value)
        for name, used in (("gold", {"pods": "1"}), ("batch", {"pods": "1"})):
            assert (await client.get(RESOURCEQUOTAS, name, namespace=ns))["status"]["used"] == used
    finally:
        await client.delete(PRIORITYCLASSES, cls)


async def test_service_type_change_is_charged(client: Any, ns: str, controller: Any) -> None:
    await _quota(client, ns, "ports", {"services": "5", "services.nodeports": "1"})
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}], "selector": {"a": "b"}}}
    await client.create(SERVICES, svc, namespace=ns)
    with pytest.raises(errors.Forbidden) as e:
        await client.patch(SERVICES, "web", {"spec": {"type": "NodePort"}}, namespace=ns, patch_type="merge")
    assert ('services "web" is forbidden: exceeded quota: ports, requested: services.nodeports=2, '
            'used: services.nodeports=0, limited: services.nodeports=1') in str(e.value)
    assert (await client.get(SERVICES, "web", namespace=ns))["spec"]["type"] == "ClusterIP"
    # A plain update costs nothing more.
    await client.patch(SERVICES, "web", {"metadata": {"labels": {"x": "y"}}}, namespace=ns, patch_type="merge")
    q = await client.get(RESOURCEQUOTAS, "ports", namespace=ns)
    assert q["status"]["used"] == {"services": "1", "services.nodeports": "0"}
