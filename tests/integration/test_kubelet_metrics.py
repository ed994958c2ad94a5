"""The kubelet's /metrics on its node API (a hollow node: the fake runtime), read as
Prometheus reads it: with a client certificate, or a ServiceAccount's bearer token that the
apiserver reviews (``--authentication-token-webhook``), authorized as ``nodes/metrics`` of
the node (``--authorization-mode=Webhook``). Runtime operations and pod starts are counted."""

from __future__ import annotations

import time
import uuid
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.kubelet_harness import kubelet_factory  # noqa: F401 - fixture


def value(text: str, metric: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
               if s.name == metric and want <= set(s.labels.items()))


def test_kubelet_metrics_by_certificate_and_by_token(kubelet_factory: Any, apiserver_process: Any,
                                                     kubectl: Any) -> None:
    k = kubelet_factory(extra_args=("--runtime", "fake", "--authorization-mode", "Webhook",
                                    "--authentication-token-webhook"))
    ns = f"km-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", ns).returncode == 0
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
           "spec": {"nodeName": k.node, "containers": [{"name": "c", "image": "busybox"}]}}
    with apiserver_process.http() as api:
        # the node's pod network block, as node IPAM gives it (a hollow node holds pods until then)
        cidr = f"10.{200 + int(uuid.uuid4().hex[:2], 16) % 50}.{int(uuid.uuid4().hex[:2], 16)}.0/24"
        r = api.patch(f"/api/v1/nodes/{k.node}", json={"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                      headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
        deadline = time.monotonic() + 30
        while api.get(f"/api/v1/namespaces/{ns}/pods/p").json().get("status", {}).get("phase") != "Running":
            assert time.monotonic() < deadline, "the hollow pod never ran"
            time.sleep(0.1)
    with k.http() as node:  # the apiserver's kubelet-client certificate: system:masters
        r = node.get("/metrics")
    assert r.status_code == 200, r.text
    assert value(r.text, "kubelet_runtime_operations_total", operation_type="run_podsandbox") >= 1
    assert value(r.text, "kubelet_runtime_operations_total", operation_type="create_container") >= 1
    assert value(r.text, "kubelet_runtime_operations_duration_seconds_count", operation_type="start_container") >= 1
    assert value(r.text, "kubelet_pod_start_duration_seconds_count") >= 1
    with k.http(anonymous=True) as anon:
        assert anon.get("/metrics").status_code == 401
        assert anon.get("/metrics", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
        # a ServiceAccount token: allowed once a role grants nodes/metrics (as Prometheus' role does)
        tokens = {}
        for sa in ("scraper", "nosy"):
            assert kubectl("create", "serviceaccount", sa, "-n", ns).returncode == 0
            tokens[sa] = kubectl("create", "token", sa, "-n", ns).stdout.strip()
        role = f"node-metrics-{ns}"
        assert kubectl("create", "clusterrole", role, "--verb=get", "--resource=nodes/metrics").returncode == 0
        assert kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}",
                       f"--serviceaccount={ns}:scraper").returncode == 0
        ok = anon.get("/metrics", headers={"Authorization": f"Bearer {tokens['scraper']}"})
        assert ok.status_code == 200 and "kubelet_runtime_operations_total" in ok.text
        denied = anon.get("/metrics", headers={"Authorization": f"Bearer {tokens['nosy']}"})
        assert denied.status_code == 403
        assert "subresource=metrics" in denied.text and f"system:serviceaccount:{ns}:nosy" in denied.text
        # the token opens /metrics only: other node API paths are nodes/proxy
        assert anon.get("/pods", headers={"Authorization": f"Bearer {tokens['scraper']}"}).status_code == 403
    kubectl("delete", "clusterrolebinding,clusterrole", role)
    kubectl("delete", "namespace", ns, "--wait=false")
