"""APIServices and the metrics.k8s.io group through the real kubectl, on a cluster with no
kubelet: every served group version has its Local, Available APIService (``kubectl get
apiservices`` as Kubernetes prints it), the metrics group is in discovery and OpenAPI, a
metric not scraped is a 404 in metrics-server's words, watch is refused, an invalid
APIService is a 422 naming the field, and the metrics reader role is labelled to aggregate into view, edit and admin."""

from __future__ import annotations

import re

from apiserver.apiservices_autoregister import desired
from tests.waiting import wait_until


def _wait_apiservices(api_http) -> dict[str, dict]:
    have: dict[str, dict] = {}

    def all_there() -> dict[str, dict] | None:
        nonlocal have
        items = api_http.get("/apis/apiregistration.k8s.io/v1/apiservices").json()["items"]
        have = {o["metadata"]["name"]: o for o in items}
        if set(desired()) <= set(have) and all(o.get("status", {}).get("conditions") for o in have.values()):
            return have
        return None
    return wait_until(all_there, "every desired APIService with its conditions", timeout=20,
                      diag=lambda: sorted(have))


def test_every_served_group_version_has_an_available_local_apiservice(api_http, kubectl) -> None:
    have = _wait_apiservices(api_http)
    groups = api_http.get("/apis").json()["groups"]
    served = {f"{v['version']}.{g['name']}" for g in groups for v in g["versions"]} | {"v1."}
    assert served <= set(have)
    assert "v1beta1.metrics.k8s.io" in served
    core = have["v1."]
    assert core["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert core["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    p = kubectl("get", "apiservices")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    row = next(re.split(r"\s{2,}", line.strip()) for line in lines if line.startswith("v1beta1.metrics.k8s.io "))
    assert row[1:3] == ["Local", "True"]


def test_metrics_group_in_discovery_and_openapi(api_http, kubectl) -> None:
    p = kubectl("api-resources", "--api-group=metrics.k8s.io")
    assert p.returncode == 0, p.stderr
    names = {line.split()[0] for line in p.stdout.splitlines()[1:]}
    assert names == {"nodes", "pods"}
    root = api_http.get("/openapi/v3").json()["paths"]
    assert "apis/metrics.k8s.io/v1beta1" in root
    explain = kubectl("explain", "podmetrics.containers", "--api-version=metrics.k8s.io/v1beta1")
    assert explain.returncode == 0 and "usage" in explain.stdout, explain.stderr


def test_metrics_not_scraped_and_watch(api_http) -> None:
    r = api_http.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert r.status_code == 404 and r.json()["message"] == 'pods.metrics.k8s.io "default/nope" not found'
    r = api_http.get("/apis/metrics.k8s.io/v1beta1/nodes/nope")
    assert r.status_code == 404 and r.json()["message"] == 'nodes.metrics.k8s.io "nope" not found'
    assert api_http.get("/apis/metrics.k8s.io/v1beta1/pods?watch=true").status_code == 405
    listed = api_http.get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").json()
    assert listed == {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": []}


def test_an_invalid_apiservice_is_refused_naming_the_field(api_http) -> None:
    bad = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.wrong.io"},
           "spec": {"group": "example.io", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 100,
                    "service": {"namespace": "default", "name": "svc"}}}
    r = api_http.post("/apis/apiregistration.k8s.io/v1/apiservices", json=bad)
    assert r.status_code == 422
    assert [c["field"] for c in r.json()["details"]["causes"]] == ["metadata.name"]
    bad["metadata"]["name"] = "v1.example.io"
    bad["spec"]["versionPriority"] = 0
    r = api_http.post("/apis/apiregistration.k8s.io/v1/apiservices", json=bad)
    assert r.status_code == 422 and [c["field"] for c in r.json()["details"]["causes"]] == ["spec.versionPriority"]


def test_the_metrics_reader_role_aggregates_into_view_edit_admin(api_http) -> None:
    role = api_http.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregated-metrics-reader").json()
    assert role["rules"] == [{"verbs": ["get", "list", "watch"], "apiGroups": ["metrics.k8s.io"],
                              "resources": ["pods", "nodes"]}]
    for to in ("view", "edit", "admin"):
        assert role["metadata"]["labels"][f"rbac.authorization.k8s.io/aggregate-to-{to}"] == "true"
