"""RBAC and the Node authorizer in the request path of the real apiserver (default
``--authorization-mode=Node,RBAC``), through the real kubectl with users' own client
certificates: a ``view`` user lists but does not create, ``kubectl auth can-i`` (also with
``--as`` and ``--list``) answers as the bindings say, ``kubectl auth whoami``, escalation is
refused, and a kubelet's identity cannot touch another node."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import kubectl_args
from tests.integration.test_rbac_api import _aggregated

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def aggregated(apiserver_process: Any) -> None:
    """admin/edit/view hold their rules (the aggregation controller ran)."""
    asyncio.run(_aggregated(apiserver_process))


def run_kubectl(kubectl_path: str, kubeconfig: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([kubectl_path, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "cache"), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def bind(api: httpx.Client, ns: str, name: str, cluster_role: str, user: str) -> None:
    r = api.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    assert r.status_code == 201, r.text


@pytest.fixture
def team(api_http: httpx.Client) -> str:
    ns = f"team-{uuid.uuid4().hex[:6]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    return ns


def test_view_user_lists_but_cannot_create(apiserver_process: Any, api_http: httpx.Client, kubectl_path: str,
                                           kubectl: Any, aggregated: None, team: str, tmp_path: Path) -> None:
    user = f"viewer-{team}"
    kc = apiserver_process.kubeconfig_for(user)
    def me(*a):
        return run_kubectl(kubectl_path, kc, tmp_path, *a)
    r = me("-n", team, "get", "pods")
    assert r.returncode != 0 and f'User "{user}" cannot list resource "pods"' in r.stderr
    bind(api_http, team, "viewers", "view", user)
    r = me("-n", team, "get", "pods")
    assert r.returncode == 0, r.stderr
    r = me("-n", team, "create", "configmap", "c", "--from-literal=a=b")
    assert r.returncode != 0
    assert (f'configmaps is forbidden: User "{user}" cannot create resource "configmaps" in API group "" '
            f'in the namespace "{team}"') in r.stderr
    assert me("-n", team, "get", "secrets").returncode != 0  # view does not read secrets
    # can-i answers as the bindings say, for oneself, through --as, and as a list
    assert me("auth", "can-i", "list", "pods", "-n", team).stdout.strip() == "yes"
    r = me("auth", "can-i", "create", "pods", "-n", team)
    assert r.stdout.strip() == "no" and r.returncode == 1
    assert me("auth", "can-i", "list", "pods", "-n", "default").stdout.strip() == "no"
    assert kubectl("auth", "can-i", "get", "deployments.apps", "-n", team, "--as", user).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "delete", "pods", "-n", team, "--as", user).stdout.strip() == "no"
    listing = me("auth", "can-i", "--list", "-n", team).stdout
    pods = [line.rstrip() for line in listing.splitlines() if line.startswith("pods ")]
    assert pods and pods[0].endswith("[get list watch]"), listing
    assert not any(line.startswith("secrets ") for line in listing.splitlines())
    who = me("auth", "whoami").stdout
    assert f"Username    {user}" in who and "system:authenticated" in who


def test_escalation_is_refused(apiserver_process: Any, api_http: httpx.Client, kubectl_path: str,
                               aggregated: None, team: str, tmp_path: Path) -> None:
    user = f"admin-{team}"
    kc = apiserver_process.kubeconfig_for(user)
    def me(*a):
        return run_kubectl(kubectl_path, kc, tmp_path, *a)
    bind(api_http, team, "admins", "admin", user)
    # within what admin holds in the namespace: allowed
    assert me("-n", team, "create", "role", "reader", "--verb=get", "--resource=pods").returncode == 0
    assert me("-n", team, "create", "rolebinding", "rb", "--clusterrole=edit", "--user=eve").returncode == 0
    # beyond it: refused with Kubernetes' message
    r = me("-n", team, "create", "role", "noder", "--verb=get", "--resource=nodes")
    assert r.returncode != 0
    assert (f'roles.rbac.authorization.k8s.io "noder" is forbidden: user "{user}" (groups=["system:authenticated"]) '
            f"is attempting to grant RBAC permissions not currently held:") in r.stderr
    assert '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}' in r.stderr
    r = me("-n", team, "create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=eve")
    assert r.returncode != 0 and "is attempting to grant RBAC permissions not currently held" in r.stderr
    r = me("create", "clusterrolebinding", f"{team}-root", "--clusterrole=view", "--user=eve")
    assert r.returncode != 0 and "forbidden" in r.stderr  # no cluster-wide rbac rights at all
    # the bind verb on that ClusterRole lets the same user bind it
    r = api_http.post(f"{RBAC}/namespaces/{team}/roles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "binder"},
        "rules": [{"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                   "resourceNames": ["cluster-admin"]}]})
    assert r.status_code == 201, r.text
    r = api_http.post(f"{RBAC}/namespaces/{team}/rolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "binder"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "binder"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    assert r.status_code == 201, r.text
    r = me("-n", team, "create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=eve")
    assert r.returncode == 0, r.stderr


def node_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def test_a_kubelet_cannot_touch_another_node(apiserver_process: Any, api_http: httpx.Client) -> None:
    mine, theirs = f"n-{uuid.uuid4().hex[:6]}", f"m-{uuid.uuid4().hex[:6]}"
    assert api_http.post("/api/v1/nodes", json=node_body(theirs)).status_code == 201
    kc = apiserver_process.kubeconfig_for(f"system:node:{mine}", ("system:nodes",))

    async def go() -> None:
        from minik8s import errors
        from minik8s.api.resources import CONFIGMAPS, LEASES, NODES, SECRETS
        from minik8s.client.rest import ApiClient

        async with ApiClient.from_kubeconfig(str(kc)) as node:
            await node.create(NODES, node_body(mine))
            await node.patch(NODES, mine, {"status": {"capacity": {"pods": "10"}}}, subresource="status")
            await node.get(NODES, theirs)  # reading other nodes (routes) is allowed
            for attempt in (node.create(NODES, node_body(f"{theirs}-x")),
                            node.patch(NODES, theirs, {"metadata": {"labels": {"pwned": "1"}}}),
                            node.patch(NODES, theirs, {"status": {"capacity": {"pods": "0"}}}, subresource="status"),
                            node.delete(NODES, theirs),
                            node.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                 "metadata": {"name": theirs}}, namespace="kube-node-lease"),
                            node.get(SECRETS, "anything", namespace="default"),
                            node.list(CONFIGMAPS, namespace="default")):
                with pytest.raises(errors.Forbidden):
                    await attempt
            await node.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                       "metadata": {"name": mine}, "spec": {"holderIdentity": mine}},
                              namespace="kube-node-lease")

    asyncio.run(go())
    assert "pwned" not in (api_http.get(f"/api/v1/nodes/{theirs}").json()["metadata"].get("labels") or {})


def test_the_admin_kubeconfig_may_do_everything(kubectl_path: str, apiserver_process: Any, tmp_path: Path) -> None:
    # the shared session kubeconfig (system:masters) keeps full access under Node,RBAC
    r = subprocess.run([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "c"), "auth", "can-i", "*", "*"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert r.stdout.strip() == "yes"


def test_impersonation_needs_the_impersonate_verb(apiserver_process: Any, api_http: httpx.Client,
                                                  kubectl_path: str, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    user, target = f"support-{tag}", f"customer-{tag}"
    r = api_http.post(f"{RBAC}/clusterroles", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"imp-{tag}"},
        "rules": [{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"], "resourceNames": [target]}]})
    assert r.status_code == 201, r.text
    r = api_http.post(f"{RBAC}/clusterrolebindings", json={
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": f"imp-{tag}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"imp-{tag}"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    assert r.status_code == 201, r.text
    kc = apiserver_process.kubeconfig_for(user)
    who = run_kubectl(kubectl_path, kc, tmp_path, "auth", "whoami", "--as", target)
    assert who.returncode == 0 and f"Username    {target}" in who.stdout, who.stderr
    assert run_kubectl(kubectl_path, kc, tmp_path, "auth", "whoami", "--as", "someone-else").returncode != 0
    from minik8s import pki
    pair = pki.ensure_client_cert(pki.ensure_ca(apiserver_process.pki), apiserver_process.log_path.parent /
                                  "client-certs", user, user, [])
    ctx = apiserver_process.ssl_context(client_cert=(pair.cert_path, pair.key_path))
    with httpx.Client(base_url=apiserver_process.url, verify=ctx, timeout=10) as c:
        r = c.get("/api/v1/namespaces", headers={"Impersonate-User": "someone-else"})
    assert r.status_code == 403
    assert r.json()["message"] == (f'users "someone-else" is forbidden: User "{user}" cannot impersonate resource '
                                   f'"users" in API group "" at the cluster scope')
