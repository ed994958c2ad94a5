"""The audit policy's rule matching (Kubernetes' policy checker) and its validation, and the
log backend's rotation clean-up and legacy line format."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from apiserver.audit import backend, policy
from apiserver.auth import requestinfo
from apiserver.auth.user import UserInfo

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))
NODE = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def level(p: policy.Policy, user: UserInfo | None, method: str, path: str, qs: bytes = b"") -> str:
    attrs = requestinfo.attributes(user or UserInfo("system:anonymous"), method, path, qs)
    return p.decide(attrs, user).level


POLICY = policy.parse({
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "userGroups": ["system:nodes"], "verbs": ["get"],
         "resources": [{"group": "", "resources": ["nodes", "nodes/status"]}]},
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "Request", "resources": [{"group": "", "resources": ["pods/log", "*/status"]}]},
        {"level": "RequestResponse", "namespaces": ["prod"],
         "resources": [{"group": "apps", "resources": ["deployments/*"]}], "omitStages": ["ResponseStarted"]},
        {"level": "RequestResponse", "users": ["alice"], "verbs": ["create"],
         "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["cfg"]}]},
        {"level": "Metadata", "omitManagedFields": True},
    ]})


def test_first_matching_rule_wins() -> None:
    assert level(POLICY, NODE, "GET", "/api/v1/nodes/n1") == "None"
    assert level(POLICY, NODE, "GET", "/api/v1/nodes/n1/status") == "None"
    assert level(POLICY, NODE, "PATCH", "/api/v1/nodes/n1/status") == "Request"  # */status, not a get
    assert level(POLICY, ALICE, "GET", "/api/v1/nodes/n1") == "Metadata"  # not in system:nodes
    assert level(POLICY, ALICE, "GET", "/healthz/ready") == "None"
    assert level(POLICY, ALICE, "GET", "/version") == "None"
    assert level(POLICY, ALICE, "GET", "/versions") == "Metadata"  # exact unless it ends in *
    assert level(POLICY, ALICE, "GET", "/api/v1/namespaces/a/secrets/s") == "Metadata"
    assert level(POLICY, ALICE, "GET", "/api/v1/namespaces/a/pods/p/log") == "Request"
    assert level(POLICY, ALICE, "GET", "/api/v1/namespaces/a/pods/p") == "Metadata"


def test_namespaces_subresource_wildcard_users_and_names() -> None:
    scale = "/apis/apps/v1/namespaces/prod/deployments/web/scale"
    assert level(POLICY, ALICE, "PATCH", scale) == "RequestResponse"
    assert level(POLICY, ALICE, "PATCH", scale.replace("prod", "dev")) == "Metadata"
    # "deployments/*" is matched on the resource alone, as Kubernetes' checker does
    assert level(POLICY, ALICE, "GET", "/apis/apps/v1/namespaces/prod/deployments/web") == "RequestResponse"
    d = POLICY.decide(requestinfo.attributes(ALICE, "PATCH", scale), ALICE)
    assert d.omit_stages == {"RequestReceived", "ResponseStarted"}  # the policy's and the rule's
    # resourceNames: the name of a create comes from... the path only (none): no match
    assert level(POLICY, ALICE, "PUT", "/api/v1/namespaces/a/configmaps/cfg") == "Metadata"
    assert level(POLICY, UserInfo("bob"), "POST", "/api/v1/namespaces/a/configmaps") == "Metadata"
    assert POLICY.decide(requestinfo.attributes(ALICE, "GET", "/api"), ALICE).omit_managed_fields is True


def test_no_rule_matching_is_level_none() -> None:
    p = policy.parse({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                      "rules": [{"level": "Metadata", "verbs": ["create"]}]})
    assert level(p, ALICE, "GET", "/api/v1/pods") == "None"
    assert level(p, None, "POST", "/api/v1/namespaces/a/pods") == "Metadata"


@pytest.mark.parametrize("doc, field", [
    ({"apiVersion": "audit.k8s.io/v1beta2", "kind": "Policy", "rules": []}, "apiVersion"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Everything"}]}, "rules[0].level"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{}]}, "rules[0].level: Required"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["Sometimes"], "rules": []}, "omitStages[0]"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "nonResourceURLs": ["/a"], "resources": [{"group": ""}]}]}, "rules[0].nonResourceURLs"),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "None", "user": ["x"]}]},
     'unknown field "user"'),
    ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
      "rules": [{"level": "None", "resources": [{"resources": ["*"], "resourceNames": ["a"]}]}]},
     "rules[0].resources[0].resourceNames"),
])
def test_malformed_policy_names_the_field(doc: dict, field: str) -> None:
    with pytest.raises(policy.PolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        policy.parse(doc)


def test_an_empty_policy_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n")
    with pytest.raises(policy.PolicyError, match="0 rules"):
        policy.load(str(f))


def test_rotation_removes_backups_past_count_and_age(tmp_path: Path) -> None:
    import datetime

    now = [1_800_000_000.0]
    def stamp(t):
        return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H-%M-%S.000")
    big = b"y" * (600 * 1024 - 1) + b"\n"  # two never fit in 1 MB: every write after the first rotates
    f = backend.RotatingFile(str(tmp_path / "audit.log"), max_size_mb=1, max_backups=3, max_age_days=1,
                             clock=lambda: now[0])
    rotations = []
    for i in range(6):
        f.write([big])
        if i:
            rotations.append(stamp(now[0]))
        now[0] += 86400 * 0.6
    f.close()
    # five rotations 0.6 days apart; at the last, backups older than a day went (count allowed 3)
    assert [b[0] for b in f.backups()] == rotations[::-1][:2]
    assert (tmp_path / "audit.log").stat().st_size == len(big)
    f = backend.RotatingFile(str(tmp_path / "b.log"), max_size_mb=1, max_backups=2, clock=lambda: now[0])
    for _ in range(5):
        f.write([big])
        now[0] += 1
    assert len(f.backups()) == 2  # no age limit: the count alone


def test_compressed_backups(tmp_path: Path) -> None:
    import gzip

    f = backend.RotatingFile(str(tmp_path / "a.log"), max_size_mb=1, compress=True)
    f.write([b"z" * 1023 + b"\n"] * 1025)
    f.close()
    (gz,) = tmp_path.glob("a-*.log.gz")
    assert len(gzip.decompress(gz.read_bytes())) == 1024 * 1024
    assert os.stat(gz).st_mode & 0o777 == 0o600


def test_legacy_line() -> None:
    ev = {"requestReceivedTimestamp": "2026-01-01T00:00:00.000001Z", "auditID": "id1", "stage": "ResponseComplete",
          "sourceIPs": ["10.0.0.1"], "verb": "get", "user": {"username": "alice", "groups": ["devs", "b"]},
          "userAgent": "kubectl", "objectRef": {"resource": "pods", "namespace": "ns"},
          "requestURI": "/api/v1/namespaces/ns/pods/p", "responseStatus": {"code": 200}}
    assert backend.legacy_line(ev).decode() == (
        '2026-01-01T00:00:00.000001Z AUDIT: id="id1" stage="ResponseComplete" ip="10.0.0.1" method="get" '
        'user="alice" groups="\\"devs\\",\\"b\\"" as="<self>" asgroups="<lookup>" user-agent="kubectl" '
        'namespace="ns" uri="/api/v1/namespaces/ns/pods/p" response="200"\n')
