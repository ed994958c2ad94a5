"""Micro-benchmark of one RBAC decision, no I/O: how much a request pays for authorization.

The policy: Kubernetes' bootstrap roles and bindings (with admin/edit/view aggregated), plus
``--namespaces`` namespaces each holding ``--bindings-per-ns`` RoleBindings (users bound to
view, edit or a Role of their own) and ``--cluster-bindings`` extra ClusterRoleBindings. The
requests: a mix of allowed and refused resource requests by those users, by a ServiceAccount
and by the controller-manager.

Two resolvers answer the same requests in the same run:

* ``PolicyIndex`` + ``RBACAuthorizer`` (what the apiserver uses): bindings indexed by subject
  and namespace, rules compiled once per change;
* the peer: Kubernetes' ``DefaultRuleResolver`` shape done over the same objects — every
  request walks every ClusterRoleBinding and the namespace's RoleBindings, matching subjects
  and rules from the stored dicts (what an authorizer without an index pays).

Prints decisions/s for both and the ratio; both must agree on every answer. Run:

    .venv/bin/python tests/perf/rbac_bench.py [--namespaces 500] [--bindings-per-ns 10]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from apiserver.auth import bootstrap_policy
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Decision
from apiserver.auth.rbac import PolicyIndex, RBACAuthorizer, subject_keys, url_matches
from controllers.clusterroleaggregation import aggregated_rules


def policy(namespaces: int, per_ns: int, cluster: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    roles = bootstrap_policy.cluster_roles()
    for _ in range(3):
        for r in roles:
            if r.get("aggregationRule"):
                r["rules"] = aggregated_rules(r, roles)
    bindings = bootstrap_policy.cluster_role_bindings()
    for n in range(namespaces):
        ns = f"ns-{n}"
        roles.append({"kind": "Role", "metadata": {"name": "own", "namespace": ns},
                      "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"],
                                 "resourceNames": [f"cm-{n}"]}]})
        for b in range(per_ns):
            kind, name = (("ClusterRole", "view"), ("ClusterRole", "edit"), ("Role", "own"))[b % 3]
            bindings.append({"kind": "RoleBinding", "metadata": {"name": f"b{b}", "namespace": ns},
                             "roleRef": {"kind": kind, "name": name},
                             "subjects": [{"kind": "User", "name": f"user-{n}-{b}"},
                                          {"kind": "ServiceAccount", "name": f"sa-{b}"}]})
    for c in range(cluster):
        bindings.append({"kind": "ClusterRoleBinding", "metadata": {"name": f"extra-{c}"},
                         "roleRef": {"kind": "ClusterRole", "name": "view"},
                         "subjects": [{"kind": "Group", "name": f"group-{c}"}]})
    return roles, bindings


class LinearResolver:
    """Every binding, every request (the peer)."""

    def __init__(self, roles: list[dict[str, Any]], bindings: list[dict[str, Any]]) -> None:
        self.cluster_roles = {r["metadata"]["name"]: r for r in roles if "namespace" not in r["metadata"]}
        self.roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in roles
                      if "namespace" in r["metadata"]}
        self.crbs = [b for b in bindings if "namespace" not in b["metadata"]]
        self.rbs: dict[str, list[dict[str, Any]]] = {}
        for b in bindings:
            if "namespace" in b["metadata"]:
                self.rbs.setdefault(b["metadata"]["namespace"], []).append(b)

    def allowed(self, a: Attributes) -> bool:
        keys = set(subject_keys(a.user))
        for b in [*self.crbs, *(self.rbs.get(a.namespace, []) if a.namespace else [])]:
            ns = b["metadata"].get("namespace", "")
            if not any(self._key(s, ns) in keys for s in b.get("subjects") or []):
                continue
            ref = b["roleRef"]
            role = self.cluster_roles.get(ref["name"]) if ref["kind"] == "ClusterRole" else \
                self.roles.get((ns, ref["name"]))
            for r in (role or {}).get("rules") or []:
                if self._rule(r, a):
                    return True
        return False

    @staticmethod
    def _key(s: dict[str, Any], ns: str) -> tuple[str, ...]:
        if s["kind"] == "ServiceAccount":
            return ("ServiceAccount", s.get("namespace") or ns, s["name"])
        return (s["kind"], s["name"])

    @staticmethod
    def _rule(r: dict[str, Any], a: Attributes) -> bool:
        if "*" not in r["verbs"] and a.verb not in r["verbs"]:
            return False
        if not a.resource_request:
            return any(url_matches(p, a.path) for p in r.get("nonResourceURLs") or [])
        if "*" not in (r.get("apiGroups") or []) and a.api_group not in (r.get("apiGroups") or []):
            return False
        res = r.get("resources") or []
        combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        if "*" not in res and combined not in res and not (a.subresource and f"*/{a.subresource}" in res):
            return False
        names = r.get("resourceNames") or []
        return not names or a.name in names


def requests(namespaces: int, per_ns: int, count: int) -> list[Attributes]:
    rnd = random.Random(7)
    kcm = u.UserInfo(bootstrap_policy.KUBE_CONTROLLER_MANAGER, groups=(u.AUTHENTICATED,))
    out = []
    for _ in range(count):
        n, b = rnd.randrange(namespaces), rnd.randrange(per_ns)
        ns = f"ns-{rnd.choice((n, (n + 1) % namespaces))}"
        who = rnd.random()
        if who < 0.6:
            user = u.UserInfo(f"user-{n}-{b}", groups=(u.AUTHENTICATED, f"group-{rnd.randrange(50)}"))
        elif who < 0.9:
            user = u.UserInfo(f"{u.SERVICEACCOUNT_PREFIX}{ns}:sa-{b}", groups=(u.SERVICEACCOUNTS, u.AUTHENTICATED))
        else:
            user = kcm
        verb, resource, group = rnd.choice((("list", "pods", ""), ("create", "pods", ""), ("get", "configmaps", ""),
                                            ("update", "deployments", "apps"), ("delete", "secrets", "")))
        out.append(Attributes(user=user, verb=verb, resource_request=True, namespace=ns, api_group=group,
                              resource=resource, name=f"cm-{n}" if resource == "configmaps" else "x"))
    return out


def rate(fn: Any, reqs: list[Attributes]) -> tuple[float, list[bool]]:
    t0 = time.perf_counter()
    answers = [fn(a) for a in reqs]
    return len(reqs) / (time.perf_counter() - t0), answers


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--namespaces", type=int, default=500)
    p.add_argument("--bindings-per-ns", type=int, default=10)
    p.add_argument("--cluster-bindings", type=int, default=200)
    p.add_argument("--requests", type=int, default=50_000)
    a = p.parse_args()
    roles, bindings = policy(a.namespaces, a.bindings_per_ns, a.cluster_bindings)
    index = PolicyIndex()
    for r in roles:
        (index.set_role if "namespace" in r["metadata"] else index.set_cluster_role)(r)
    for b in bindings:
        index.set_binding(b)
    authz = RBACAuthorizer(index)
    peer = LinearResolver(roles, bindings)
    reqs = requests(a.namespaces, a.bindings_per_ns, a.requests)
    ours, got = rate(lambda x: authz.authorize(x).decision is Decision.ALLOW, reqs)
    theirs, want = rate(peer.allowed, reqs)
    assert got == want, "the two resolvers disagree"
    print(f"policy: {len(roles)} roles, {len(bindings)} bindings; {len(reqs)} requests, "
          f"{sum(got) / len(got):.0%} allowed")
    print(f"indexed RBACAuthorizer: {ours:,.0f} decisions/s ({1e6 / ours:.1f} us each)")
    print(f"linear resolver (peer): {theirs:,.0f} decisions/s ({1e6 / theirs:.1f} us each)")
    print(f"ratio indexed / linear: {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
