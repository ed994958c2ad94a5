"""RBAC served by the real apiserver: the bootstrap policy, the four kinds through the real
kubectl (protobuf creates, printed columns, explain), access reviews answering from the
bindings, and ClusterRole aggregation by the controller."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from controllers.clusterroleaggregation import ClusterRoleAggregationController
from minik8s.api.resources import CLUSTERROLES
from tests.integration.controller_harness import running
from tests.waiting import eventually

RBAC = "/apis/rbac.authorization.k8s.io/v1"
AUTHZ = "/apis/authorization.k8s.io/v1"


def sar(api: httpx.Client, user: str, verb: str, resource: str, ns: str = "", group: str = "",
        groups: list[str] | None = None) -> dict[str, Any]:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups or ["system:authenticated"],
                     "resourceAttributes": {"verb": verb, "resource": resource, "namespace": ns, "group": group}}}
    r = api.post(f"{AUTHZ}/subjectaccessreviews", json=body)
    assert r.status_code == 201, r.text
    return r.json()["status"]


def test_bootstrap_policy_is_in_place(api_http: httpx.Client) -> None:
    admin = api_http.get(f"{RBAC}/clusterroles/cluster-admin").json()
    assert admin["rules"][0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    assert admin["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    view = api_http.get(f"{RBAC}/clusterroles/view").json()
    assert view["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    crb = api_http.get(f"{RBAC}/clusterrolebindings/cluster-admin").json()
    assert crb["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}]
    node = api_http.get(f"{RBAC}/clusterrolebindings/system:node").json()
    assert not node.get("subjects")


def test_namespaced_bootstrap_roles_grant_what_kubernetes_grants(kubectl: Any) -> None:
    names = kubectl("get", "roles", "-n", "kube-system", "-o", "name").stdout.split()
    assert {"role.rbac.authorization.k8s.io/extension-apiserver-authentication-reader",
            "role.rbac.authorization.k8s.io/system::leader-locking-kube-controller-manager",
            "role.rbac.authorization.k8s.io/system::leader-locking-kube-scheduler",
            "role.rbac.authorization.k8s.io/system:controller:bootstrap-signer",
            "role.rbac.authorization.k8s.io/system:controller:token-cleaner"} <= set(names)
    signer = "system:serviceaccount:kube-system:bootstrap-signer"

    def can(*args: str) -> str:
        return kubectl("auth", "can-i", *args).stdout.strip()
    assert can("get", "configmaps/extension-apiserver-authentication", "-n", "kube-system",
               "--as", "system:kube-scheduler") == "yes"
    assert can("update", "configmaps/kube-scheduler", "-n", "kube-system", "--as", "system:kube-scheduler") == "yes"
    assert can("update", "configmaps/kube-scheduler", "-n", "default", "--as", "system:kube-scheduler") == "no"
    assert can("update", "configmaps/cluster-info", "-n", "kube-public", "--as", signer) == "yes"
    assert can("update", "configmaps/other", "-n", "kube-public", "--as", signer) == "no"
    assert can("delete", "secrets", "-n", "kube-system", "--as", "system:serviceaccount:kube-system:token-cleaner") == "yes"
    assert can("delete", "secrets", "-n", "default", "--as", "system:serviceaccount:kube-system:token-cleaner") == "no"
    binding = kubectl("get", "rolebinding", "-n", "kube-public", "system:controller:bootstrap-signer", "-o",
                      "jsonpath={.roleRef.kind}/{.roleRef.name}").stdout
    assert binding == "Role/system:controller:bootstrap-signer"


def test_kubectl_creates_and_prints_rbac_objects(kubectl: Any, api_http: httpx.Client) -> None:
    ns = f"rbac-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", ns).returncode == 0
    r = kubectl("-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods,deployments.apps",
                "--resource-name=web")
    assert r.returncode == 0, r.stderr
    r = kubectl("-n", ns, "create", "rolebinding", "rb", "--role=pod-reader", "--user=bob", "--group=devs",
                f"--serviceaccount={ns}:robot")
    assert r.returncode == 0, r.stderr
    r = kubectl("create", "clusterrole", f"{ns}-logs", "--verb=get", "--non-resource-url=/logs/*")
    assert r.returncode == 0, r.stderr
    r = kubectl("create", "clusterrolebinding", f"{ns}-logs", f"--clusterrole={ns}-logs", "--user=alice")
    assert r.returncode == 0, r.stderr
    role = api_http.get(f"{RBAC}/namespaces/{ns}/roles/pod-reader").json()
    assert {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"],
            "resourceNames": ["web"]} in role["rules"]
    out = kubectl("-n", ns, "get", "rolebinding", "rb", "-o", "wide").stdout.split("\n")
    assert out[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out[1].split()[:2] == ["rb", "Role/pod-reader"] and f"{ns}:robot" in out[1]
    assert kubectl("get", "clusterrole", f"{ns}-logs").stdout.split("\n")[0].split() == ["NAME", "CREATED", "AT"]
    assert "aggregationRule" in kubectl("explain", "clusterrole").stdout
    # roleRef is immutable; a bad subject is refused naming the field
    body = api_http.get(f"{RBAC}/namespaces/{ns}/rolebindings/rb").json()
    body["roleRef"]["name"] = "other"
    r = api_http.put(f"{RBAC}/namespaces/{ns}/rolebindings/rb", json=body)
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "roleRef"
    r = api_http.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bad"},
        "roleRef": {"kind": "Role", "name": "x"}, "subjects": [{"kind": "Robot", "name": "r"}]})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "subjects[0].kind"


def test_access_reviews_follow_bindings(apiserver_process: Any, api_http: httpx.Client) -> None:
    asyncio.run(_aggregated(apiserver_process))  # view gets its rules from the aggregation controller
    ns = f"rbac-{uuid.uuid4().hex[:6]}"
    user = f"viewer-{ns}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    assert sar(api_http, user, "list", "pods", ns)["allowed"] is False
    r = api_http.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "v"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": user}]})
    assert r.status_code == 201, r.text
    allowed = sar(api_http, user, "list", "pods", ns)
    assert allowed["allowed"] is True
    assert allowed["reason"] == f'RBAC: allowed by RoleBinding "v/{ns}" of ClusterRole "view" to User "{user}"'
    assert sar(api_http, user, "create", "pods", ns)["allowed"] is False
    assert sar(api_http, user, "list", "pods", "default")["allowed"] is False
    assert sar(api_http, "anyone", "delete", "nodes", groups=["system:masters"])["allowed"] is True
    # LocalSubjectAccessReview is confined to its namespace
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": ns}}}
    r = api_http.post(f"{AUTHZ}/namespaces/{ns}/localsubjectaccessreviews", json=body)
    assert r.status_code == 201 and r.json()["status"]["allowed"] is True
    r = api_http.post(f"{AUTHZ}/namespaces/default/localsubjectaccessreviews", json=body)
    assert r.status_code == 400
    # a review with neither attribute kind is invalid; reviews cannot be read back
    r = api_http.post(f"{AUTHZ}/subjectaccessreviews", json={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "x"}})
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.resourceAttributes"
    assert api_http.get(f"{AUTHZ}/subjectaccessreviews").status_code == 405


def test_aggregation_controller_fills_view(apiserver_process: Any, api_http: httpx.Client) -> None:
    name = f"widget-viewer-{uuid.uuid4().hex[:6]}"
    rule = {"verbs": ["get"], "apiGroups": ["example.com"], "resources": [name]}

    async def go() -> None:
        client = apiserver_process.client()
        try:
            async with running(client, lambda f: ClusterRoleAggregationController(client, f)):
                await eventually(lambda: _has(client, "admin", {"verbs": ["get", "list", "watch"], "apiGroups": [""],
                                                                "resources": ["namespaces"]}), what="admin aggregated")
                await client.create(CLUSTERROLES, {
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                    "rules": [rule]})
                # view, then edit (aggregates view), then admin (aggregates edit)
                for role in ("view", "edit", "admin"):
                    await eventually(lambda role=role: _has(client, role, rule), what=f"{role} has the new rule")
                await client.delete(CLUSTERROLES, name)
                await eventually(lambda: _lacks(client, "view", rule), what="view lost the rule")
        finally:
            await client.close()

    asyncio.run(go())
    assert sar(api_http, "u", "get", name, group="example.com")["allowed"] is False


async def _aggregated(apiserver_process: Any) -> None:
    client = apiserver_process.client()
    try:
        async with running(client, lambda f: ClusterRoleAggregationController(client, f)):
            await eventually(lambda: _has(client, "view", {"verbs": ["get", "list", "watch"], "apiGroups": [""],
                                                           "resources": ["namespaces"]}), what="view aggregated")
    finally:
        await client.close()


async def _has(client: Any, role: str, rule: dict[str, Any]) -> bool:
    return rule in ((await client.get(CLUSTERROLES, role)).get("rules") or [])


async def _lacks(client: Any, role: str, rule: dict[str, Any]) -> bool:
    return not await _has(client, role, rule)
