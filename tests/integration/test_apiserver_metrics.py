"""The apiserver's Prometheus /metrics, scraped with the real kubectl (``get --raw``) and the
harness' clients: Kubernetes' metric names and labels move with the requests made, and
reading them is authorized as on Kubernetes (system:monitoring)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_kubectl_get_raw_metrics_counts_requests_storage_and_objects(kubectl: Any, api_http: Any) -> None:
    ns = f"metrics-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", ns).returncode == 0
    before = kubectl("get", "--raw", "/metrics")
    assert before.returncode == 0, before.stderr
    b = scrape(before.stdout)
    for i in range(3):
        assert kubectl("create", "configmap", f"cm-{i}", "-n", ns, "--from-literal=k=v").returncode == 0
    assert kubectl("get", "configmaps", "-n", ns).returncode == 0
    assert api_http.get(f"/api/v1/namespaces/{ns}/configmaps/missing").status_code == 404
    after = scrape(kubectl("get", "--raw", "/metrics").stdout)
    created = dict(verb="POST", group="", version="v1", resource="configmaps", scope="resource",
                   component="apiserver", code="201", dry_run="", subresource="")
    assert value(after, "apiserver_request_total", **created) - value(b, "apiserver_request_total", **created) == 3
    listed = dict(verb="LIST", resource="configmaps", scope="namespace", code="200")
    assert value(after, "apiserver_request_total", **listed) > value(b, "apiserver_request_total", **listed)
    missing = dict(verb="GET", resource="configmaps", scope="resource", code="404")
    assert value(after, "apiserver_request_total", **missing) - value(b, "apiserver_request_total", **missing) == 1
    dur = dict(verb="POST", resource="configmaps", scope="resource")
    assert value(after, "apiserver_request_duration_seconds_count", **dur) - \
        value(b, "apiserver_request_duration_seconds_count", **dur) == 3
    # Kubernetes' buckets
    les = {dict(ls)["le"] for (n, ls) in after if n == "apiserver_request_duration_seconds_bucket"}
    assert {"0.005", "0.025", "1.25", "60.0", "+Inf"} <= les
    # the /metrics scrape itself is a non-resource request
    assert value(after, "apiserver_request_total", verb="GET", subresource="/metrics", code="200") >= 1
    # storage latency, by operation and resource type
    assert value(after, "etcd_request_duration_seconds_count", operation="create", type="configmaps") - \
        value(b, "etcd_request_duration_seconds_count", operation="create", type="configmaps") >= 3
    assert value(after, "etcd_request_duration_seconds_count", operation="create", type="namespaces") >= 1
    listed_cms = api_http.get("/api/v1/configmaps").json()["items"]
    assert value(after, "apiserver_storage_objects", resource="configmaps") == len(listed_cms)
    assert value(after, "process_resident_memory_bytes") > 0  # prometheus_client's process collector
    assert kubectl("delete", "namespace", ns, "--wait=false").returncode == 0


def test_a_watch_is_long_running_and_its_events_are_counted(apiserver_process: Any, api_http: Any) -> None:
    ns = f"metrics-w-{uuid.uuid4().hex[:6]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    opened = threading.Event()
    seen: list[bytes] = []

    def follow() -> None:
        with apiserver_process.http(timeout=30) as http:
            with http.stream("GET", f"/api/v1/namespaces/{ns}/configmaps",
                             params={"watch": "true", "timeoutSeconds": "6"}) as r:
                opened.set()
                for line in r.iter_lines():
                    if line:
                        seen.append(line.encode())

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert opened.wait(10)
    before = scrape(api_http.get("/metrics").text)
    assert value(before, "apiserver_longrunning_requests", verb="WATCH", resource="configmaps",
                 scope="namespace") >= 1
    assert value(before, "apiserver_registered_watchers", kind="ConfigMap", version="v1") >= 1
    for i in range(4):
        assert api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": f"w{i}"}}).status_code == 201
    deadline = time.monotonic() + 10
    while len(seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(seen) == 4
    after = scrape(api_http.get("/metrics").text)
    assert value(after, "apiserver_watch_events_total", kind="ConfigMap") - \
        value(before, "apiserver_watch_events_total", kind="ConfigMap") >= 4
    t.join(15)
    ended = scrape(api_http.get("/metrics").text)
    assert value(ended, "apiserver_request_total", verb="WATCH", resource="configmaps", code="200") >= 1
    api_http.delete(f"/api/v1/namespaces/{ns}")


@pytest.mark.parametrize("groups, allowed", [((), False), (("system:monitoring",), True)])
def test_metrics_are_authorized_by_system_monitoring(apiserver_process: Any, kubectl: Any, groups: tuple[str, ...],
                                                      allowed: bool) -> None:
    user = f"scraper-{uuid.uuid4().hex[:6]}"
    kc = apiserver_process.kubeconfig_for(user, groups)
    r = kubectl("--kubeconfig", str(kc), "get", "--raw", "/metrics")
    if allowed:
        assert r.returncode == 0 and "apiserver_request_total" in r.stdout, r.stderr
    else:
        assert r.returncode != 0
        assert f'forbidden: User "{user}" cannot get path "/metrics"' in r.stderr
    with apiserver_process.http(anonymous=True) as anon:
        assert anon.get("/metrics").status_code == 403
