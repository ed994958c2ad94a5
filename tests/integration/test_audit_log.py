"""The audit log, read back from the file a real apiserver writes while the real kubectl
works against it: stages, levels, objects, annotations, the Audit-Id header, a Secret at
Metadata level never showing its data, failed authentication, impersonation, watches, and
rotation by size."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitManagedFields: true
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps", "pods", "pods/log"]
- level: Request
  verbs: ["create", "update", "patch", "delete"]
  omitStages: ["RequestReceived"]
- level: Metadata
"""


def read_events(path: Path, want: Any = None, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The events in the log; with ``want(events)``, waits (bounded) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        if want is None or want(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


@pytest.fixture
def audited(apiserver_factory: Any, tmp_path: Path) -> Any:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    log = tmp_path / "audit" / "audit.log"
    server = apiserver_factory(extra_args=("--audit-policy-file", str(policy), "--audit-log-path", str(log)))
    server.audit_log = log
    return server


def by_id(events: list[dict[str, Any]], audit_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e["auditID"] == audit_id]


def test_kubectl_create_is_audited_with_its_stages_and_objects(audited: Any, kubectl: Any) -> None:
    r = kubectl("create", "configmap", "audited-cm", "--from-literal=colour=teal", server=audited)
    assert r.returncode == 0, r.stderr
    with audited.http() as http:
        resp = http.get("/api/v1/namespaces/default/configmaps/audited-cm")
    audit_id = resp.headers["audit-id"]
    events = read_events(audited.audit_log, lambda evs: any(e["auditID"] == audit_id and
                                                            e["stage"] == "ResponseComplete" for e in evs))
    creates = [e for e in events if e["verb"] == "create" and e["objectRef"]["resource"] == "configmaps"]
    assert [e["stage"] for e in creates] == ["RequestReceived", "ResponseComplete"]
    received, complete = creates
    assert received["auditID"] == complete["auditID"]
    assert complete["level"] == "RequestResponse"
    assert complete["objectRef"] == {"resource": "configmaps", "namespace": "default", "name": "audited-cm",
                                     "apiVersion": "v1"}
    assert complete["user"]["username"] == "kubernetes-admin"
    assert "system:masters" in complete["user"]["groups"]
    assert complete["userAgent"].startswith("kubectl/")
    assert complete["sourceIPs"] == ["127.0.0.1"]
    assert complete["responseStatus"]["code"] == 201
    assert complete["requestObject"]["data"] == {"colour": "teal"}
    assert complete["responseObject"]["metadata"]["name"] == "audited-cm"
    assert "managedFields" not in complete["responseObject"]["metadata"]  # omitManagedFields
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"
    assert complete["requestReceivedTimestamp"] <= complete["stageTimestamp"]
    assert "responseStatus" not in received and "requestObject" not in received
    # the GET above: its Audit-Id is the event's auditID
    (get,) = [e for e in by_id(events, audit_id) if e["stage"] == "ResponseComplete"]
    assert get["verb"] == "get" and get["objectRef"]["name"] == "audited-cm"
    assert get["requestURI"] == "/api/v1/namespaces/default/configmaps/audited-cm"


def test_source_ips_are_the_forwarded_hops_then_the_peer(audited: Any) -> None:
    # A client's X-Forwarded-For is its claim: the hops are kept, and the peer's own address
    # after them (Kubernetes' SourceIPs), even for a loopback peer.
    with audited.http() as http:
        resp = http.get("/api/v1/namespaces/default/configmaps",
                        headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Real-Ip": "192.0.2.9"})
    assert resp.status_code == 200
    audit_id = resp.headers["audit-id"]
    events = read_events(audited.audit_log, lambda evs: any(e["auditID"] == audit_id and
                                                            e["stage"] == "ResponseComplete" for e in evs))
    (complete,) = [e for e in by_id(events, audit_id) if e["stage"] == "ResponseComplete"]
    assert complete["sourceIPs"] == ["203.0.113.7", "198.51.100.2", "192.0.2.9", "127.0.0.1"]


def test_secret_at_metadata_level_never_shows_its_data(audited: Any, kubectl: Any) -> None:
    value = "correct-horse-battery-staple"
    r = kubectl("create", "secret", "generic", "audited-secret", f"--from-literal=password={value}", server=audited)
    assert r.returncode == 0, r.stderr
    assert kubectl("get", "secret", "audited-secret", "-o", "yaml", server=audited).returncode == 0
    events = read_events(audited.audit_log, lambda evs: sum(e.get("objectRef", {}).get("resource") == "secrets"
                                                            and e["stage"] == "ResponseComplete" for e in evs) >= 2)
    secret_events = [e for e in events if e.get("objectRef", {}).get("resource") == "secrets"]
    assert {e["verb"] for e in secret_events} >= {"create", "get"}
    assert all(e["level"] == "Metadata" for e in secret_events)
    assert all("requestObject" not in e and "responseObject" not in e for e in secret_events)
    create = next(e for e in secret_events if e["verb"] == "create" and e["stage"] == "ResponseComplete")
    assert create["objectRef"]["name"] == "audited-secret"
    text = audited.audit_log.read_text()
    assert value not in text and base64.b64encode(value.encode()).decode() not in text


def test_refusals_impersonation_and_a_watch(audited: Any, kubectl: Any) -> None:
    # forbidden: anonymous may not list pods
    with audited.http(anonymous=True) as anon:
        forbidden = anon.get("/api/v1/namespaces/default/pods")
    assert forbidden.status_code == 403
    # impersonation: the admin acting as bob (who may do nothing)
    r = kubectl("get", "pods", "--as", "bob", server=audited)
    assert r.returncode != 0
    # a watch is long-running: ResponseStarted, then ResponseComplete when it ends
    with audited.http() as http:
        watch = http.get("/api/v1/namespaces/default/pods", params={"watch": "true", "timeoutSeconds": "1"})
    assert watch.status_code == 200
    ids = {"forbidden": forbidden.headers["audit-id"], "watch": watch.headers["audit-id"]}
    events = read_events(audited.audit_log, lambda evs: len(by_id(evs, ids["watch"])) == 3 and any(
        e.get("impersonatedUser") and e.get("objectRef", {}).get("resource") == "pods" for e in evs))
    (refused,) = [e for e in by_id(events, ids["forbidden"]) if e["stage"] == "ResponseComplete"]
    assert refused["user"]["username"] == "system:anonymous"
    assert refused["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert refused["responseStatus"]["code"] == 403 and refused["responseStatus"]["reason"] == "Forbidden"
    assert "pods is forbidden" in refused["responseStatus"]["message"]
    assert refused["responseObject"]["kind"] == "Status"  # RequestResponse: the answer, a Status here
    imp = next(e for e in events if e.get("impersonatedUser") and e["stage"] == "ResponseComplete"
               and e.get("objectRef", {}).get("resource") == "pods")
    assert imp["user"]["username"] == "kubernetes-admin"
    assert imp["impersonatedUser"]["username"] == "bob"
    assert imp["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert [e["stage"] for e in by_id(events, ids["watch"])] == ["RequestReceived", "ResponseStarted",
                                                                 "ResponseComplete"]
    assert all(e["verb"] == "watch" for e in by_id(events, ids["watch"]))
    assert not any("responseObject" in e for e in by_id(events, ids["watch"]))


def test_failed_authentication_and_client_audit_id(audited: Any) -> None:
    with audited.http(anonymous=True) as anon:
        bad = anon.get("/api/v1/namespaces", headers={"Authorization": "Bearer not-a-token"})
        given = anon.get("/api/v1/namespaces/default/configmaps", headers={"Audit-ID": "my-own-audit-id"})
    assert bad.status_code == 401 and bad.headers["audit-id"]
    assert given.headers["audit-id"] == "my-own-audit-id"
    events = read_events(audited.audit_log, lambda evs: by_id(evs, bad.headers["audit-id"])
                         and by_id(evs, "my-own-audit-id"))
    (unauth,) = by_id(events, bad.headers["audit-id"])
    assert unauth["stage"] == "ResponseStarted" and unauth["user"] == {}
    assert unauth["responseStatus"]["code"] == 401
    assert by_id(events, "my-own-audit-id")
    with audited.http() as http:
        scraped = http.get("/metrics").text
    assert 'apiserver_audit_level_total{level="RequestResponse"}' in scraped
    assert 'apiserver_audit_level_total{level="None"}' in scraped
    assert "apiserver_audit_event_total" in scraped
    # health checks are level None in this policy: nothing logged, yet the header is sent
    with audited.http() as http:
        health = http.get("/healthz")
    assert health.headers["audit-id"]
    time.sleep(0.5)
    assert not by_id(read_events(audited.audit_log), health.headers["audit-id"])


def test_rotation_by_size_keeps_maxbackup_files(apiserver_factory: Any, tmp_path: Path, kubectl: Any) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n")
    log = tmp_path / "audit.log"
    server = apiserver_factory(extra_args=("--audit-policy-file", str(policy), "--audit-log-path", str(log),
                                           "--audit-log-maxsize", "1", "--audit-log-maxbackup", "2"))
    payload = "x" * 200_000
    with server.http() as http:
        for i in range(12):  # each create logs its ~200 KB body twice (request and response)
            r = http.post("/api/v1/namespaces/default/configmaps",
                          json={"metadata": {"name": f"big-{i}"}, "data": {"blob": payload}})
            assert r.status_code == 201, r.text
    # until the writer is done: the files stay as they are for a while
    deadline = time.monotonic() + 15
    last = None
    while time.monotonic() < deadline:
        now = [(f.name, f.stat().st_size) for f in sorted(tmp_path.glob("audit*.log"))]
        if now == last and len(now) == 3:
            break
        last = now
        time.sleep(0.5)
    backups = sorted(tmp_path.glob("audit-*.log"))
    assert len(backups) == 2, backups  # more rotations happened; only the newest two are kept
    for f in [*backups, log]:
        assert f.stat().st_size <= 1024 * 1024
        assert oct(f.stat().st_mode & 0o777) == "0o600"
        for line in f.read_text().splitlines():
            assert json.loads(line)["kind"] == "Event"  # every line whole: rotation happens between lines
    # the names carry the rotation time as lumberjack writes it
    assert all(len(b.name) == len("audit-2006-01-02T15-04-05.000.log") for b in backups)


def test_pod_security_audit_violations_reach_the_event(audited: Any, kubectl: Any) -> None:
    """The PodSecurity admission's audit mode annotates the request's audit event."""
    ns = "psa-audited"
    assert kubectl("create", "namespace", ns, server=audited).returncode == 0
    assert kubectl("label", "namespace", ns, "pod-security.kubernetes.io/audit=restricted",
                   server=audited).returncode == 0
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root-pod", "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
    with audited.http() as http:
        r = http.post(f"/api/v1/namespaces/{ns}/pods", json=pod)
    assert r.status_code == 201, r.text  # audit mode only records
    events = read_events(audited.audit_log, lambda evs: by_id(evs, r.headers["audit-id"]) and any(
        e["stage"] == "ResponseComplete" for e in by_id(evs, r.headers["audit-id"])))
    (complete,) = [e for e in by_id(events, r.headers["audit-id"]) if e["stage"] == "ResponseComplete"]
    violations = complete["annotations"]["pod-security.kubernetes.io/audit-violations"]
    assert violations.startswith('would violate PodSecurity "restricted:latest"') and "privileged" in violations
    assert complete["annotations"]["authorization.k8s.io/decision"] == "allow"
