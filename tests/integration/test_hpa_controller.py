"""The HorizontalPodAutoscaler controller's ``sync`` against a real apiserver, for what needs
no metrics: a target above maxReplicas is brought to it (ReplicaSet), a target at zero
replicas disables scaling (StatefulSet), a target whose pods have no metrics makes
ScalingActive False with Kubernetes' reason (ReplicationController), and a kind with no
scale subresource makes AbleToScale False."""

from __future__ import annotations

import pytest

from controllers.horizontalpodautoscaler import HorizontalPodAutoscalerController
from minik8s.api.resources import HORIZONTALPODAUTOSCALERS, REPLICASETS, REPLICATIONCONTROLLERS, STATEFULSETS
from tests.integration.workload_helpers import Controllers, namespace, pod_template, wait_for

LABELS = {"app": "scaled"}


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as n:
        yield n


@pytest.fixture
async def hpa_ctrl(ns):
    c = Controllers(ns.client)
    ctrl = c.add(HorizontalPodAutoscalerController(ns.client, c.informers))
    await c.sync_caches()
    yield ctrl
    await c.stop()


def _hpa(name: str, kind: str, api_version: str, *, lo: int = 1, hi: int = 3) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": name},
                     "minReplicas": lo, "maxReplicas": hi}}


async def _synced(ns, ctrl, name: str) -> dict:
    await wait_for(lambda: _cached(ctrl, f"{ns.name}/{name}"), what=f"HPA {name} in the informer")
    await ctrl.sync(f"{ns.name}/{name}")
    return await ns.client.get(HORIZONTALPODAUTOSCALERS, name, namespace=ns.name)


async def _cached(ctrl, key: str) -> bool:
    return ctrl.hpa_informer.store.get(key) is not None


def _conditions(hpa: dict) -> dict[str, dict]:
    return {c["type"]: c for c in hpa["status"]["conditions"]}


async def test_a_target_above_max_is_scaled_to_max(ns, hpa_ctrl) -> None:
    await ns.client.create(REPLICASETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
                                         "spec": {"replicas": 5, "selector": {"matchLabels": LABELS},
                                                  "template": pod_template(LABELS)}}, namespace=ns.name)
    await ns.client.create(HORIZONTALPODAUTOSCALERS, _hpa("rs", "ReplicaSet", "apps/v1"), namespace=ns.name)
    hpa = await _synced(ns, hpa_ctrl, "rs")
    assert (await ns.client.get(REPLICASETS, "rs", namespace=ns.name))["spec"]["replicas"] == 3
    assert hpa["status"]["desiredReplicas"] == 3 and hpa["status"]["lastScaleTime"]
    assert _conditions(hpa)["AbleToScale"]["reason"] == "SucceededRescale"
    await wait_for(lambda: ns.events("SuccessfulRescale"), what="the rescale event")
    event = (await ns.events("SuccessfulRescale"))[0]
    assert event["message"] == "New size: 3; reason: Current number of replicas above Spec.MaxReplicas"


async def test_a_target_at_zero_replicas_disables_scaling(ns, hpa_ctrl) -> None:
    await ns.client.create(STATEFULSETS, {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "st"},
                                          "spec": {"replicas": 0, "serviceName": "st",
                                                   "selector": {"matchLabels": LABELS},
                                                   "template": pod_template(LABELS)}}, namespace=ns.name)
    await ns.client.create(HORIZONTALPODAUTOSCALERS, _hpa("st", "StatefulSet", "apps/v1"), namespace=ns.name)
    hpa = await _synced(ns, hpa_ctrl, "st")
    active = _conditions(hpa)["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "ScalingDisabled")
    assert active["message"] == "scaling is disabled since the replica count of the target is zero"
    assert (await ns.client.get(STATEFULSETS, "st", namespace=ns.name))["spec"]["replicas"] == 0


async def test_no_metrics_make_scaling_inactive(ns, hpa_ctrl) -> None:
    await ns.client.create(REPLICATIONCONTROLLERS, {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"replicas": 2, "selector": LABELS, "template": pod_template(LABELS)}}, namespace=ns.name)
    await ns.client.create(HORIZONTALPODAUTOSCALERS, _hpa("rc", "ReplicationController", "v1"), namespace=ns.name)
    hpa = await _synced(ns, hpa_ctrl, "rc")
    conditions = _conditions(hpa)
    assert conditions["AbleToScale"]["reason"] == "SucceededGetScale"
    active = conditions["ScalingActive"]
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"].startswith("the HPA was unable to compute the replica count: failed to get cpu "
                                        "utilization: ")
    assert (await ns.client.get(REPLICATIONCONTROLLERS, "rc", namespace=ns.name))["spec"]["replicas"] == 2


async def test_a_kind_without_scale_cannot_be_scaled(ns, hpa_ctrl) -> None:
    await ns.client.create(HORIZONTALPODAUTOSCALERS, _hpa("cm", "ConfigMap", "v1"), namespace=ns.name)
    hpa = await _synced(ns, hpa_ctrl, "cm")
    able = _conditions(hpa)["AbleToScale"]
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
