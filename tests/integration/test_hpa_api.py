"""The HorizontalPodAutoscaler API with the real kubectl: ``kubectl autoscale`` (which
creates through autoscaling/v1, in protobuf) makes a v2 object with Kubernetes' defaults;
v1 reads are the converted view, a round trip through v1 keeps what only v2 can say (in the
autoscaling.alpha annotations); bad specs are 422s naming the field; ``kubectl get hpa``
prints Kubernetes' columns."""

from __future__ import annotations

import re

BASE = "/apis/autoscaling"


def _hpa(name: str, **spec) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, **spec}}


def test_kubectl_autoscale_and_get_hpa(api_http, kubectl) -> None:
    assert kubectl("create", "namespace", "hpa-api").returncode == 0
    assert kubectl("create", "deployment", "web", "--image=minik8s/busybox:latest", "-n", "hpa-api").returncode == 0
    made = kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5", "-n", "hpa-api")
    assert made.returncode == 0 and made.stdout.strip() == "horizontalpodautoscaler.autoscaling/web autoscaled", \
        made.stderr
    v2 = api_http.get(f"{BASE}/v2/namespaces/hpa-api/horizontalpodautoscalers/web").json()
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]
    assert v2["spec"]["minReplicas"] == 1 and v2["status"] == {"desiredReplicas": 0}
    v1 = api_http.get(f"{BASE}/v1/namespaces/hpa-api/horizontalpodautoscalers/web").json()
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert "metrics" not in v1["spec"]
    shown = kubectl("get", "hpa", "-n", "hpa-api")
    header, row = (re.split(r"\s{2,}", line.strip()) for line in shown.stdout.splitlines()[:2])
    assert header == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert row[:6] == ["web", "Deployment/web", "cpu: <unknown>/50%", "1", "5", "0"]


def test_v1_round_trip_keeps_v2_fields(api_http) -> None:
    body = _hpa("round", metrics=[
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                        "averageValue": "100Mi"}}}],
        behavior={"scaleDown": {"stabilizationWindowSeconds": 30}})
    r = api_http.post(f"{BASE}/v2/namespaces/default/horizontalpodautoscalers", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    # behavior given: Kubernetes' rules fill what is unset
    assert created["spec"]["behavior"]["scaleUp"]["policies"] == [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                                                  {"type": "Percent", "value": 100,
                                                                   "periodSeconds": 15}]
    assert created["spec"]["behavior"]["scaleDown"]["selectPolicy"] == "Max"
    v1 = api_http.get(f"{BASE}/v1/namespaces/default/horizontalpodautoscalers/round").json()
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "autoscaling.alpha.kubernetes.io/metrics" in v1["metadata"]["annotations"]
    v1["spec"]["maxReplicas"] = 7
    r = api_http.put(f"{BASE}/v1/namespaces/default/horizontalpodautoscalers/round", json=v1)
    assert r.status_code == 200, r.text
    v2 = api_http.get(f"{BASE}/v2/namespaces/default/horizontalpodautoscalers/round").json()
    assert v2["spec"]["maxReplicas"] == 7
    assert v2["spec"]["metrics"] == created["spec"]["metrics"]
    assert v2["spec"]["behavior"] == created["spec"]["behavior"]
    assert "annotations" not in v2["metadata"]
    r = api_http.patch(f"{BASE}/v1/namespaces/default/horizontalpodautoscalers/round",
                       json={"spec": {"minReplicas": 2}}, headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["minReplicas"] == 2


def test_bad_specs_are_422_naming_the_field(api_http) -> None:
    cases = [
        (_hpa("a", minReplicas=0), "spec.minReplicas"),
        (_hpa("b", minReplicas=6), "spec.maxReplicas"),
        (_hpa("c", metrics=[{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]),
         "spec.metrics[0].resource.target.averageUtilization"),
        (_hpa("d", metrics=[{"type": "Nope"}]), "spec.metrics[0].type"),
        (_hpa("e", behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 4000}]}}),
         "spec.behavior.scaleUp.policies[0].periodSeconds"),
        (_hpa("f", behavior={"scaleDown": {"stabilizationWindowSeconds": 4000}}),
         "spec.behavior.scaleDown.stabilizationWindowSeconds"),
    ]
    for body, field in cases:
        r = api_http.post(f"{BASE}/v2/namespaces/default/horizontalpodautoscalers", json=body)
        assert r.status_code == 422, (field, r.text)
        assert field in [c["field"] for c in r.json()["details"]["causes"]], (field, r.json())
    missing_ref = _hpa("g")
    missing_ref["spec"]["scaleTargetRef"] = {}
    r = api_http.post(f"{BASE}/v2/namespaces/default/horizontalpodautoscalers", json=missing_ref)
    assert r.status_code == 422
    assert {"spec.scaleTargetRef.kind", "spec.scaleTargetRef.name"} <= {c["field"] for c in
                                                                         r.json()["details"]["causes"]}
    r = api_http.post(f"{BASE}/v1/namespaces/default/horizontalpodautoscalers",
                      json={"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                            "metadata": {"name": "h"}, "spec": {"maxReplicas": 2, "bogus": 1,
                                                                "scaleTargetRef": {"kind": "Deployment", "name": "x"}}})
    assert r.status_code == 400 and 'unknown field "spec.bogus"' in r.json()["message"]
