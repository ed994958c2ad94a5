"""The RBAC authorizer, escalation checks, the Node authorizer and ClusterRole aggregation,
on the policy index fed objects directly (the apiserver feeds it from its watch cache)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver import errors
from apiserver import rbac_bootstrap as bootstrap
from apiserver.auth import bootstrap_policy, escalation, node, request_user
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Decision
from apiserver.auth.rbac import PolicyIndex, RBACAuthorizer
from apiserver.registry import rbac as rbac_registry
from controllers.clusterroleaggregation import aggregated_rules
from minik8s.api import resources as rs

BOB = u.UserInfo("bob", groups=(u.AUTHENTICATED,))


def role(name: str, rules: list[dict[str, Any]], ns: str | None = None, kind: str = "Role") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if ns:
        md["namespace"] = ns
    return {"kind": kind, "metadata": md, "rules": rules}


def binding(name: str, role_kind: str, role_name: str, subjects: list[dict[str, Any]],
            ns: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if ns:
        md["namespace"] = ns
    return {"kind": "RoleBinding" if ns else "ClusterRoleBinding", "metadata": md,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


def attrs(user: u.UserInfo, verb: str, resource: str = "", *, ns: str = "", group: str = "", sub: str = "",
          name: str = "", path: str = "") -> Attributes:
    if path:
        return Attributes(user=user, verb=verb, resource_request=False, path=path)
    return Attributes(user=user, verb=verb, resource_request=True, namespace=ns, api_group=group,
                      resource=resource, subresource=sub, name=name)


@pytest.fixture
def index() -> PolicyIndex:
    idx = PolicyIndex()
    for r in bootstrap_policy.cluster_roles():
        idx.set_cluster_role(r)
    for b in bootstrap_policy.cluster_role_bindings():
        idx.set_binding(b)
    # what the aggregation controller does for admin/edit/view
    roles = bootstrap_policy.cluster_roles()
    for _ in range(3):
        for r in roles:
            if r.get("aggregationRule"):
                r["rules"] = aggregated_rules(r, roles)
    for r in roles:
        idx.set_cluster_role(r)
    return idx


def allowed(idx: PolicyIndex, a: Attributes) -> bool:
    return RBACAuthorizer(idx).authorize(a).decision is Decision.ALLOW


def test_view_binding_lists_but_does_not_create(index: PolicyIndex) -> None:
    index.set_binding(binding("bob-view", "ClusterRole", "view", [{"kind": "User", "name": "bob"}], ns="team"))
    assert allowed(index, attrs(BOB, "list", "pods", ns="team"))
    assert allowed(index, attrs(BOB, "get", "deployments", ns="team", group="apps", name="web"))
    assert not allowed(index, attrs(BOB, "create", "pods", ns="team"))
    assert not allowed(index, attrs(BOB, "list", "pods", ns="other"))
    assert not allowed(index, attrs(BOB, "get", "secrets", ns="team", name="s"))
    verdict = RBACAuthorizer(index).authorize(attrs(BOB, "list", "pods", ns="team"))
    assert verdict.reason == 'RBAC: allowed by RoleBinding "bob-view/team" of ClusterRole "view" to User "bob"'


def test_binding_removed_takes_the_grant_away(index: PolicyIndex) -> None:
    b = binding("bob-edit", "ClusterRole", "edit", [{"kind": "User", "name": "bob"}], ns="team")
    index.set_binding(b)
    assert allowed(index, attrs(BOB, "create", "pods", ns="team"))
    index.set_binding(b, deleted=True)
    assert not allowed(index, attrs(BOB, "create", "pods", ns="team"))


def test_wildcards_subresources_resource_names_and_urls() -> None:
    idx = PolicyIndex()
    idx.set_cluster_role(role("r", [
        {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/status"]},
        {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["only-me"]},
        {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["deployments/scale"]},
        {"verbs": ["get"], "nonResourceURLs": ["/logs/*", "/metrics"]},
    ], kind="ClusterRole"))
    idx.set_binding(binding("b", "ClusterRole", "r", [{"kind": "Group", "name": "devs"}]))
    dev = u.UserInfo("carol", groups=("devs",))
    assert allowed(idx, attrs(dev, "get", "pods", ns="x", sub="status", name="p"))
    assert allowed(idx, attrs(dev, "get", "deployments", ns="x", group="apps", sub="status", name="d"))
    assert not allowed(idx, attrs(dev, "get", "pods", ns="x", name="p"))
    assert allowed(idx, attrs(dev, "update", "configmaps", ns="x", name="only-me"))
    assert not allowed(idx, attrs(dev, "update", "configmaps", ns="x", name="other"))
    assert not allowed(idx, attrs(dev, "update", "configmaps", ns="x"))  # no name: resourceNames cannot match
    assert allowed(idx, attrs(dev, "patch", "deployments", ns="x", group="apps", sub="scale", name="d"))
    assert not allowed(idx, attrs(dev, "patch", "deployments", ns="x", group="apps", name="d"))
    assert allowed(idx, attrs(dev, "get", path="/logs/kubelet.log"))
    assert allowed(idx, attrs(dev, "get", path="/metrics"))
    assert not allowed(idx, attrs(dev, "get", path="/metrics/extra"))
    assert not allowed(idx, attrs(dev, "post", path="/metrics"))


def test_service_account_subjects_default_to_the_binding_namespace() -> None:
    idx = PolicyIndex()
    idx.set_role(role("reader", [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}], ns="apps"))
    idx.set_binding(binding("b", "Role", "reader", [{"kind": "ServiceAccount", "name": "robot"}], ns="apps"))
    robot = u.UserInfo("system:serviceaccount:apps:robot", groups=(u.SERVICEACCOUNTS, "system:serviceaccounts:apps"))
    other = u.UserInfo("system:serviceaccount:web:robot", groups=(u.SERVICEACCOUNTS,))
    assert allowed(idx, attrs(robot, "list", "pods", ns="apps"))
    assert not allowed(idx, attrs(other, "list", "pods", ns="apps"))


def test_missing_role_is_reported_in_the_reason() -> None:
    idx = PolicyIndex()
    idx.set_binding(binding("b", "ClusterRole", "nope", [{"kind": "User", "name": "bob"}]))
    v = RBACAuthorizer(idx).authorize(attrs(BOB, "get", "pods", ns="x", name="p"))
    assert v.decision is Decision.NO_OPINION
    assert v.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'


def test_masters_get_everything_through_the_cluster_admin_binding(index: PolicyIndex) -> None:
    admin = u.UserInfo("kubernetes-admin", groups=(u.MASTERS, u.AUTHENTICATED))
    assert allowed(index, attrs(admin, "delete", "nodes", name="n1"))
    assert allowed(index, attrs(admin, "get", path="/anything"))


def test_components_roles(index: PolicyIndex) -> None:
    sched = u.UserInfo(bootstrap_policy.KUBE_SCHEDULER, groups=(u.AUTHENTICATED,))
    assert allowed(index, attrs(sched, "create", "pods", ns="x", sub="binding", name="p"))
    assert allowed(index, attrs(sched, "update", "leases", ns="kube-system", group="coordination.k8s.io",
                                name="kube-scheduler"))
    assert not allowed(index, attrs(sched, "update", "leases", ns="kube-system", group="coordination.k8s.io",
                                    name="kube-controller-manager"))
    assert not allowed(index, attrs(sched, "create", "pods", ns="x"))
    kcm = u.UserInfo(bootstrap_policy.KUBE_CONTROLLER_MANAGER, groups=(u.AUTHENTICATED,))
    assert allowed(index, attrs(kcm, "create", "pods", ns="x"))
    assert allowed(index, attrs(kcm, "update", "replicasets", ns="x", group="apps", sub="status", name="r"))
    assert allowed(index, attrs(kcm, "update", "namespaces", sub="finalize", name="x"))
    assert not allowed(index, attrs(kcm, "create", "clusterrolebindings", group="rbac.authorization.k8s.io"))


def test_discovery_and_health_are_public(index: PolicyIndex) -> None:
    assert allowed(index, attrs(u.ANONYMOUS_USER, "get", path="/healthz"))
    assert allowed(index, attrs(u.ANONYMOUS_USER, "get", path="/apis/apps/v1"))
    assert not allowed(index, attrs(u.ANONYMOUS_USER, "list", "pods", ns="default"))
    assert allowed(index, attrs(BOB, "create", "selfsubjectaccessreviews", group="authorization.k8s.io"))


# --- escalation -----------------------------------------------------------------------------

def test_covers_and_message() -> None:
    owner = [r for r in _rules([{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
                                {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["*/scale"]},
                                {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}])]
    assert escalation.uncovered(owner, [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]) == []
    assert escalation.uncovered(owner, [{"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale"],
                                         "resourceNames": ["x"]}]) == []
    assert escalation.uncovered(owner, [{"verbs": ["get"], "nonResourceURLs": ["/logs/a"]}]) == []
    missing = escalation.uncovered(owner, [{"verbs": ["get", "create", "delete"], "apiGroups": [""],
                                            "resources": ["pods"]}])
    assert escalation.escalation_message(BOB, missing, []) == (
        'user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}')


def _rules(rules: list[dict[str, Any]]) -> list[Any]:
    from apiserver.auth.rbac import Rule
    return [Rule.of(r) for r in rules]


def test_escalation_is_refused_unless_held_or_escalate_or_bind(index: PolicyIndex) -> None:
    index.set_binding(binding("bob-admin", "ClusterRole", "admin", [{"kind": "User", "name": "bob"}], ns="team"))
    hooks = escalation.write_hooks(index, RBACAuthorizer(index))
    token = request_user.set(BOB)
    try:
        ok = role("ok", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}], ns="team")
        assert hooks[rs.ROLES].before_write(ok, None) == []
        bad = role("bad", [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}], ns="team")
        with pytest.raises(errors.Forbidden) as e:
            hooks[rs.ROLES].before_write(bad, None)
        assert e.value.message.startswith('roles.rbac.authorization.k8s.io "bad" is forbidden: user "bob" '
                                          '(groups=["system:authenticated"]) is attempting to grant RBAC '
                                          'permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], '
                                          'Verbs:["get"]}')
        # bob may bind edit in his namespace (admin ⊇ edit), not cluster-admin
        assert hooks[rs.ROLEBINDINGS].before_write(
            binding("b1", "ClusterRole", "edit", [{"kind": "User", "name": "eve"}], ns="team"), None) == []
        with pytest.raises(errors.Forbidden):
            hooks[rs.ROLEBINDINGS].before_write(
                binding("b2", "ClusterRole", "cluster-admin", [{"kind": "User", "name": "eve"}], ns="team"), None)
        with pytest.raises(errors.Forbidden):
            hooks[rs.CLUSTERROLEBINDINGS].before_write(
                binding("b3", "ClusterRole", "view", [{"kind": "User", "name": "eve"}]), None)
        # the bind verb on that role lets him
        index.set_role(role("binder", [{"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"],
                                        "resources": ["clusterroles"], "resourceNames": ["cluster-admin"]}], ns="team"))
        index.set_binding(binding("bob-binder", "Role", "binder", [{"kind": "User", "name": "bob"}], ns="team"))
        assert hooks[rs.ROLEBINDINGS].before_write(
            binding("b2", "ClusterRole", "cluster-admin", [{"kind": "User", "name": "eve"}], ns="team"), None) == []
    finally:
        request_user.reset(token)
    # no request user: the apiserver's own write
    assert hooks[rs.ROLES].before_write(bad, None) == []


# --- the node authorizer --------------------------------------------------------------------

def pod(name: str, node_name: str, *, secret: str = "", cm: str = "", ns: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node_name, "containers": [{"name": "c", "image": "i"}], "volumes": []}
    if secret:
        spec["volumes"].append({"name": "s", "secret": {"secretName": secret}})
    if cm:
        spec["containers"][0]["envFrom"] = [{"configMapRef": {"name": cm}}]
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def node_user(name: str) -> u.UserInfo:
    return u.UserInfo(u.NODE_PREFIX + name, groups=(u.NODES, u.AUTHENTICATED))


def test_node_reads_only_what_its_pods_use() -> None:
    graph = node.NodeGraph()
    authz = node.NodeAuthorizer(graph)
    graph.set_pod(pod("p", "n1", secret="s1", cm="c1"))
    n1, n2 = node_user("n1"), node_user("n2")

    def ok(a: Attributes) -> bool:
        return authz.authorize(a).decision is Decision.ALLOW
    assert ok(attrs(n1, "get", "secrets", ns="default", name="s1"))
    assert ok(attrs(n1, "watch", "configmaps", ns="default", name="c1"))
    assert not ok(attrs(n2, "get", "secrets", ns="default", name="s1"))
    assert not ok(attrs(n1, "list", "secrets", ns="default"))
    assert authz.authorize(attrs(n2, "get", "secrets", ns="default", name="s1")).reason == \
        "no relationship found between node 'n2' and this object"
    graph.set_pod(pod("p", "n1"), deleted=True)
    assert not ok(attrs(n1, "get", "secrets", ns="default", name="s1"))


def test_node_writes_only_its_own_node_lease_and_pods() -> None:
    graph = node.NodeGraph()
    authz = node.NodeAuthorizer(graph)
    graph.set_pod(pod("mine", "n1"))
    graph.set_pod(pod("theirs", "n2"))
    n1 = node_user("n1")

    def ok(a: Attributes) -> bool:
        return authz.authorize(a).decision is Decision.ALLOW
    assert ok(attrs(n1, "patch", "nodes", sub="status", name="n1"))
    assert not ok(attrs(n1, "patch", "nodes", sub="status", name="n2"))
    assert not ok(attrs(n1, "delete", "nodes", name="n2"))
    assert ok(attrs(n1, "get", "nodes", name="n2"))  # reading other nodes (routes) is allowed
    assert ok(attrs(n1, "update", "leases", ns="kube-node-lease", group="coordination.k8s.io", name="n1"))
    assert not ok(attrs(n1, "update", "leases", ns="kube-node-lease", group="coordination.k8s.io", name="n2"))
    assert not ok(attrs(n1, "get", "leases", ns="kube-system", group="coordination.k8s.io", name="n1"))
    assert ok(attrs(n1, "patch", "pods", ns="default", sub="status", name="mine"))
    assert not ok(attrs(n1, "patch", "pods", ns="default", sub="status", name="theirs"))
    assert ok(attrs(n1, "delete", "pods", ns="default", name="mine"))
    assert not ok(attrs(n1, "delete", "pods", ns="default", name="theirs"))
    assert not ok(attrs(n1, "create", "secrets", ns="default"))
    # volumes: every one may be read (local-path cleanup), only its own written
    graph.set_pv({"metadata": {"name": "pv-1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}})
    graph.set_pv({"metadata": {"name": "pv-2"}, "spec": {}})
    assert ok(attrs(n1, "watch", "persistentvolumes"))
    assert ok(attrs(n1, "update", "persistentvolumes", name="pv-1"))
    assert not ok(attrs(n1, "update", "persistentvolumes", name="pv-2"))
    assert not ok(attrs(n1, "delete", "persistentvolumes", name="pv-1"))
    # not a node: no opinion
    assert authz.authorize(attrs(BOB, "get", "nodes", name="n1")).decision is Decision.NO_OPINION


def test_node_restriction_on_created_objects() -> None:
    hooks = node.write_hooks()
    token = request_user.set(node_user("n1"))
    try:
        assert hooks[rs.NODES].before_write({"metadata": {"name": "n1"}}, None) == []
        with pytest.raises(errors.Forbidden, match='node "n1" is not allowed to modify node "n2"'):
            hooks[rs.NODES].before_write({"metadata": {"name": "n2"}}, None)
        with pytest.raises(errors.Forbidden):
            hooks[rs.LEASES].before_write({"metadata": {"name": "n2", "namespace": "kube-node-lease"}}, None)
        with pytest.raises(errors.Forbidden, match="can only create mirror pods"):
            hooks[rs.PODS].before_write(pod("p", "n1"), None)
    finally:
        request_user.reset(token)


# --- aggregation, bootstrap reconciliation, validation ----------------------------------------

def test_aggregation_unions_the_selected_roles(index: PolicyIndex) -> None:
    roles = bootstrap_policy.cluster_roles()
    mine = {"metadata": {"name": "crd-viewer", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]}
    view = next(r for r in roles if r["metadata"]["name"] == "view")
    rules = aggregated_rules(view, [*roles, mine])
    assert mine["rules"][0] in rules
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in rules
    assert all(r != view for r in rules)


def test_bootstrap_reconcile_is_additive() -> None:
    want = bootstrap_policy.cluster_role("x", [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
    current = {**want, "metadata": {"name": "x", "labels": {"mine": "1"}},
               "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]}
    new = bootstrap.reconcile_role(current, want)
    assert new is not None and len(new["rules"]) == 2 and new["metadata"]["labels"]["mine"] == "1"
    assert bootstrap.reconcile_role(new, want) is None


def test_validation_messages() -> None:
    s = rbac_registry.RoleStrategy()
    errs = s.validate(role("a/b", [{"verbs": [], "apiGroups": [""], "resources": []},
                                   {"verbs": ["get"], "nonResourceURLs": ["/x"]}], ns="d"))
    fields = {(e.field, e.reason) for e in errs}
    assert ("metadata.name", "FieldValueInvalid") in fields
    assert ("rules[0].verbs", "FieldValueRequired") in fields
    assert ("rules[0].resources", "FieldValueRequired") in fields
    assert ("rules[1].nonResourceURLs", "FieldValueInvalid") in fields
    b = rbac_registry.ClusterRoleBindingStrategy()
    errs = b.validate(binding("b", "Role", "r", [{"kind": "ServiceAccount", "name": "x"}, {"kind": "Robot", "name": "y"}]))
    fields = {(e.field, e.reason) for e in errs}
    assert ("roleRef.kind", "FieldValueNotSupported") in fields
    assert ("subjects[0].namespace", "FieldValueRequired") in fields
    assert ("subjects[1].kind", "FieldValueNotSupported") in fields
    assert rbac_registry.path_segment_name("system:node:n1") == []
