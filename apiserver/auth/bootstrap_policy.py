"""The default roles and bindings the apiserver keeps in place, as Kubernetes' ``bootstrappolicy``
(``policy.go``, ``controller_policy.go``) ships them, for the resources minik8s serves.

Every object carries the label ``kubernetes.io/bootstrapping: rbac-defaults`` and the annotation
``rbac.authorization.kubernetes.io/autoupdate: "true"`` (set it to ``"false"`` to keep your own
edits: ``apiserver/rbac_bootstrap.py`` then leaves the object alone).

Two bindings go beyond Kubernetes, because minik8s runs some components differently:

* minik8s' controller-manager runs every controller with its own credentials (Kubernetes'
  ``--use-service-account-credentials=false``), so each ``system:controller:*`` binding names
  the user ``system:kube-controller-manager`` besides the controller's ServiceAccount;
* the kubelet runs the node's service proxy and DNS in its own process, with the node's
  credentials, so ``system:node-proxier`` is bound to the group ``system:nodes`` as well as to
  ``system:kube-proxy``.

And, as the issue asks, discovery (``system:discovery``) is open to unauthenticated users too,
as Kubernetes did before 1.14.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.auth import user as u

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
READ_WRITE = READ + WRITE
READ_UPDATE = ["get", "list", "watch", "update", "patch"]

KUBE_SCHEDULER = "system:kube-scheduler"
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"
KUBE_PROXY = "system:kube-proxy"


def rule(verbs: Sequence[str] | str, groups: Sequence[str] | str = (), resources: Sequence[str] | str = (),
         names: Sequence[str] | str = (), urls: Sequence[str] | str = ()) -> dict[str, Any]:
    def lst(x: Any) -> list[str]:
        return [x] if isinstance(x, str) else list(x)
    r: dict[str, Any] = {"verbs": lst(verbs)}
    if urls:
        r["nonResourceURLs"] = lst(urls)
        return r
    r["apiGroups"] = lst(groups)
    r["resources"] = lst(resources)
    if names:
        r["resourceNames"] = lst(names)
    return r


def events_rule() -> dict[str, Any]:
    return rule(["create", "update", "patch"], ["", "events.k8s.io"], "events")


def _meta(name: str, labels: dict[str, str] | None = None, namespace: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "labels": {**(labels or {}), **LABELS}, "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        md["namespace"] = namespace
    return md


def cluster_role(name: str, rules: list[dict[str, Any]] | None = None, *, labels: dict[str, str] | None = None,
                 aggregate_from: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "ClusterRole", "metadata": _meta(name, labels)}
    if aggregate_from:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]}
        obj["rules"] = []
    else:
        obj["rules"] = rules or []
    return obj


def subject(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"kind": kind, "name": name}
    if kind == "ServiceAccount":
        s["apiGroup"], s["namespace"] = "", namespace
    else:
        s["apiGroup"] = GROUP
    return s


def cluster_binding(name: str, *subjects: dict[str, Any], role: str | None = None) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role or name},
            "subjects": list(subjects)}


def node_rules() -> list[dict[str, Any]]:
    """What a kubelet may do (the ``system:node`` role; the Node authorizer narrows the reads)."""
    return [
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, "", "services"),
        rule(["create", "get", "list", "watch"], "", "nodes"),
        rule(["update", "patch"], "", "nodes/status"),
        rule(["update", "patch"], "", "nodes"),
        rule(["create", "update", "patch"], "", "events"),
        rule(READ, "", "pods"),
        rule(["create", "delete"], "", "pods"),
        rule(["update", "patch"], "", "pods/status"),
        rule("create", "", "pods/eviction"),
        rule(READ, "", ["secrets", "configmaps"]),
        rule("get", "", ["persistentvolumeclaims", "persistentvolumes"]),
        rule("get", "", "endpoints"),
        rule(["create", "get", "list", "watch"], "certificates.k8s.io", "certificatesigningrequests"),
        rule(["get", "create", "update", "patch", "delete"], "coordination.k8s.io", "leases"),
        rule("get", "storage.k8s.io", "volumeattachments"),
        rule(["get", "update", "patch"], "", "persistentvolumeclaims/status"),
        rule("create", "", "serviceaccounts/token"),
        rule(READ, "storage.k8s.io", "csidrivers"),
        rule(["get", "create", "update", "patch", "delete"], "storage.k8s.io", "csinodes"),
        rule(READ, "node.k8s.io", "runtimeclasses"),
    ]


def _cluster_roles() -> list[dict[str, Any]]:
    view_core = ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
                 "configmaps"]
    return [
        cluster_role("cluster-admin", [rule("*", "*", "*"), rule("*", urls="*")]),
        cluster_role("system:discovery", [rule("get", urls=["/livez", "/readyz", "/healthz", "/version", "/version/",
                                                             "/openapi", "/openapi/*", "/api", "/api/*", "/apis",
                                                             "/apis/*"])]),
        cluster_role("system:monitoring", [rule("get", urls=["/metrics", "/metrics/slis", "/livez", "/readyz",
                                                              "/healthz", "/livez/*", "/readyz/*", "/healthz/*"])]),
        cluster_role("system:basic-user", [rule("create", "authorization.k8s.io",
                                                 ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                                            rule("create", "authentication.k8s.io", "selfsubjectreviews")]),
        cluster_role("system:public-info-viewer", [rule("get", urls=["/livez", "/readyz", "/healthz", "/version",
                                                                      "/version/"])]),
        cluster_role("admin", aggregate_from="admin"),
        cluster_role("edit", labels={AGGREGATE_TO + "admin": "true"}, aggregate_from="edit"),
        cluster_role("view", labels={AGGREGATE_TO + "edit": "true"}, aggregate_from="view"),
        cluster_role("system:aggregate-to-admin", [
            rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
            rule(READ_WRITE, GROUP, ["roles", "rolebindings"]),
        ], labels={AGGREGATE_TO + "admin": "true"}),
        cluster_role("system:aggregate-to-edit", [
            rule(READ, "", ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
            rule("impersonate", "", "serviceaccounts"),
            rule(WRITE, "", ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
            rule("create", "", "pods/eviction"),
            rule(WRITE, "", ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                             "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
            rule("create", "", "serviceaccounts/token"),
            rule(WRITE, "apps", ["statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
                                 "deployments/rollback", "replicasets", "replicasets/scale"]),
            rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
            rule(WRITE, "batch", ["jobs", "cronjobs"]),
            rule(WRITE, "extensions", ["daemonsets", "deployments", "deployments/scale", "deployments/rollback",
                                       "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
                                       "networkpolicies"]),
            rule(WRITE, "policy", "poddisruptionbudgets"),
            rule(WRITE, "networking.k8s.io", ["networkpolicies", "ingresses"]),
            rule(WRITE, "coordination.k8s.io", "leases"),
        ], labels={AGGREGATE_TO + "edit": "true"}),
        cluster_role("system:aggregate-to-view", [
            rule(READ, "", view_core),
            rule(READ, "", ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                            "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]),
            rule(READ, "", "namespaces"),
            rule(READ, "discovery.k8s.io", "endpointslices"),
            rule(READ, "apps", ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                                "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                                "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]),
            rule(READ, "autoscaling", ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
            rule(READ, "batch", ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
            rule(READ, "extensions", ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                      "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
                                      "replicasets", "replicasets/scale", "replicasets/status",
                                      "replicationcontrollers/scale"]),
            rule(READ, "policy", ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
            rule(READ, "networking.k8s.io", ["ingresses", "ingresses/status", "networkpolicies"]),
            rule(READ, "coordination.k8s.io", "leases"),
        ], labels={AGGREGATE_TO + "view": "true"}),
        # metrics-server's manifest: whoever may view, edit or admin may read resource metrics
        cluster_role("system:aggregated-metrics-reader", [rule(READ, "metrics.k8s.io", ["pods", "nodes"])],
                     labels={AGGREGATE_TO + "view": "true", AGGREGATE_TO + "edit": "true",
                             AGGREGATE_TO + "admin": "true"}),
        cluster_role("system:node", node_rules()),
        cluster_role("system:node-problem-detector", [rule("get", "", "nodes"), rule("patch", "", "nodes/status"),
                                                      events_rule()]),
        cluster_role("system:kubelet-api-admin", [
            rule(READ, "", "nodes"), rule("proxy", "", "nodes"),
            rule("*", "", ["nodes/proxy", "nodes/metrics", "nodes/spec", "nodes/stats", "nodes/log"]),
        ]),
        cluster_role("system:node-bootstrapper", [rule(["create", "get", "list", "watch"], "certificates.k8s.io",
                                                       "certificatesigningrequests")]),
        cluster_role("system:auth-delegator", [rule("create", "authentication.k8s.io", "tokenreviews"),
                                               rule("create", "authorization.k8s.io", "subjectaccessreviews")]),
        cluster_role("system:kube-aggregator", [rule(READ, "", ["services", "endpoints"])]),
        cluster_role(KUBE_CONTROLLER_MANAGER, [
            events_rule(),
            rule("create", "coordination.k8s.io", "leases"),
            rule(["get", "update"], "coordination.k8s.io", "leases", names="kube-controller-manager"),
            rule(["create", "delete"], "", "secrets"),
            rule("create", "", "serviceaccounts"),
            rule("get", "", ["namespaces", "secrets", "serviceaccounts", "configmaps"]),
            rule("update", "", ["secrets", "serviceaccounts"]),
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            rule(["list", "watch"], "*", "*"),
            rule("create", "", "serviceaccounts/token"),
        ]),
        cluster_role("system:kube-dns", [rule(["list", "watch"], "", ["endpoints", "services"])]),
        cluster_role("system:persistent-volume-provisioner", [
            rule(["get", "list", "watch", "create", "delete"], "", "persistentvolumes"),
            rule(["get", "list", "watch", "update"], "", "persistentvolumeclaims"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule("watch", "", "events"), events_rule(),
        ]),
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                     [rule("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")]),
        cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                     [rule("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")]),
        cluster_role("system:volume-scheduler", [rule(READ_UPDATE, "", "persistentvolumes"),
                                                 rule(READ, "storage.k8s.io", "storageclasses"),
                                                 rule(READ_UPDATE, "", "persistentvolumeclaims")]),
        cluster_role("system:certificates.k8s.io:legacy-unknown-approver",
                     [rule("approve", "certificates.k8s.io", "signers", names="kubernetes.io/legacy-unknown")]),
        cluster_role("system:certificates.k8s.io:kubelet-serving-approver",
                     [rule("approve", "certificates.k8s.io", "signers", names="kubernetes.io/kubelet-serving")]),
        cluster_role("system:certificates.k8s.io:kube-apiserver-client-approver",
                     [rule("approve", "certificates.k8s.io", "signers", names="kubernetes.io/kube-apiserver-client")]),
        cluster_role("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
                     [rule("approve", "certificates.k8s.io", "signers",
                           names="kubernetes.io/kube-apiserver-client-kubelet")]),
        cluster_role("system:service-account-issuer-discovery",
                     [rule("get", urls=["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                                        "/openid/v1/jwks", "/openid/v1/jwks/"])]),
        cluster_role("system:node-proxier", [
            rule(["list", "watch"], "", ["services", "endpoints"]),
            rule(READ, "", "nodes"),
            events_rule(),
            rule(["list", "watch"], "discovery.k8s.io", "endpointslices"),
        ]),
        cluster_role(KUBE_SCHEDULER, [
            events_rule(),
            rule("create", "coordination.k8s.io", "leases"),
            rule(["get", "update"], "coordination.k8s.io", "leases", names="kube-scheduler"),
            rule(READ, "", "nodes"),
            rule(READ, "", "namespaces"),
            rule(["get", "list", "watch", "delete"], "", "pods"),
            rule("create", "", ["pods/binding", "bindings"]),
            rule(["patch", "update"], "", "pods/status"),
            rule(READ, "", ["services", "replicationcontrollers"]),
            rule(READ, ["apps", "extensions"], "replicasets"),
            rule(READ, "apps", "statefulsets"),
            rule(READ, "policy", "poddisruptionbudgets"),
            rule(READ, "", ["persistentvolumeclaims", "persistentvolumes"]),
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            rule(READ, "storage.k8s.io", ["csinodes", "csidrivers", "csistoragecapacities"]),
        ]),
    ]


def _controller_roles() -> list[dict[str, Any]]:
    """``system:controller:*``: one role per controller minik8s runs (controller_policy.go)."""
    c = "system:controller:"
    return [
        cluster_role(c + "clusterrole-aggregation-controller", [rule(["escalate", "get", "list", "watch", "update",
                                                                      "patch"], GROUP, "clusterroles")]),
        cluster_role(c + "deployment-controller", [
            rule(["get", "list", "watch", "update"], ["apps", "extensions"], "deployments"),
            rule("update", ["apps", "extensions"], ["deployments/status", "deployments/finalizers"]),
            rule(["create", "delete", "get", "list", "patch", "update", "watch"], ["apps", "extensions"], "replicasets"),
            rule(["get", "list", "watch", "update"], "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "endpoint-controller", [
            rule(READ, "", ["services", "pods"]),
            rule(["get", "list", "create", "update", "delete"], "", "endpoints"),
            rule("create", "", "endpoints/restricted"),
            events_rule(),
        ]),
        cluster_role(c + "endpointslice-controller", [
            rule(READ, "", ["services", "pods", "nodes"]),
            rule(["get", "list", "create", "update", "delete"], "discovery.k8s.io", "endpointslices"),
            events_rule(),
        ]),
        cluster_role(c + "generic-garbage-collector", [rule(["get", "list", "watch", "patch", "update", "delete"],
                                                            "*", "*"), events_rule()]),
        cluster_role(c + "namespace-controller", [
            rule(["get", "list", "watch", "delete"], "", "namespaces"),
            rule("update", "", ["namespaces/finalize", "namespaces/status"]),
            rule(["get", "list", "delete", "deletecollection"], "*", "*"),
        ]),
        cluster_role(c + "node-controller", [
            rule(["get", "list", "update", "delete", "patch"], "", "nodes"),
            rule(["patch", "update"], "", ["nodes/status", "pods/status"]),
            rule(["list", "delete"], "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "horizontal-pod-autoscaler", [
            rule(["get", "list", "watch"], "autoscaling", "horizontalpodautoscalers"),
            rule("update", "autoscaling", "horizontalpodautoscalers/status"),
            rule(["get", "update", "patch"], "*", "*/scale"),
            rule("list", "", "pods"),
            rule("list", "metrics.k8s.io", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "replicaset-controller", [
            rule(["get", "list", "watch", "update"], ["apps", "extensions"], "replicasets"),
            rule("update", ["apps", "extensions"], ["replicasets/status", "replicasets/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "persistent-volume-binder", [
            rule(["create", "delete", "get", "list", "update", "watch"], "", "persistentvolumes"),
            rule("update", "", ["persistentvolumes/status", "persistentvolumeclaims/status"]),
            rule(["get", "list", "update", "patch", "watch"], "", "persistentvolumeclaims"),
            rule(READ, "", ["pods", "nodes"]),
            rule(READ, "storage.k8s.io", "storageclasses"),
            events_rule(),
        ]),
        cluster_role(c + "pvc-protection-controller", [
            rule(["get", "list", "watch", "update"], "", "persistentvolumeclaims"),
            rule(READ, "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "pv-protection-controller", [
            rule(["get", "list", "watch", "update"], "", "persistentvolumes"),
            events_rule(),
        ]),
        cluster_role(c + "daemon-set-controller", [
            rule(READ, ["extensions", "apps"], "daemonsets"),
            rule("update", ["extensions", "apps"], ["daemonsets/status", "daemonsets/finalizers"]),
            rule(["list", "watch"], "", "nodes"),
            rule(["list", "watch", "create", "delete", "patch"], "", "pods"),
            rule("create", "", "pods/binding"),
            rule(["create", "delete", "update", "get", "list", "watch", "patch"], "apps", "controllerrevisions"),
            events_rule(),
        ]),
        cluster_role(c + "statefulset-controller", [
            rule(["list", "watch"], "", "pods"),
            rule(READ, "apps", "statefulsets"),
            rule("update", "apps", ["statefulsets/status", "statefulsets/finalizers"]),
            rule(["get", "create", "delete", "update", "patch"], "", "pods"),
            rule(["get", "create", "delete", "update", "patch", "list", "watch"], "apps", "controllerrevisions"),
            rule(["get", "create"], "", "persistentvolumeclaims"),
            events_rule(),
        ]),
        cluster_role(c + "job-controller", [
            rule(["get", "list", "watch", "update", "patch"], "batch", "jobs"),
            rule("update", "batch", ["jobs/status", "jobs/finalizers"]),
            rule(["list", "watch", "create", "delete", "patch"], "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "cronjob-controller", [
            rule(["get", "list", "watch", "update", "patch"], "batch", "cronjobs"),
            rule(["get", "list", "watch", "create", "update", "delete", "patch"], "batch", "jobs"),
            rule("update", "batch", ["cronjobs/status", "cronjobs/finalizers"]),
            rule(["list", "delete"], "", "pods"),
            events_rule(),
        ]),
        cluster_role(c + "ttl-after-finished-controller", [rule(["delete", "get", "list", "watch"], "batch", "jobs"),
                                                           events_rule()]),
        cluster_role(c + "serviceaccount-controller", [rule("create", "", "serviceaccounts"), events_rule()]),
        cluster_role(c + "root-ca-cert-publisher", [rule(["create", "update"], "", "configmaps"), events_rule()]),
        cluster_role(c + "certificate-controller", [
            rule(["delete", "get", "list", "watch"], "certificates.k8s.io", "certificatesigningrequests"),
            rule("update", "certificates.k8s.io", ["certificatesigningrequests/approval",
                                                   "certificatesigningrequests/status"]),
            rule("approve", "certificates.k8s.io", "signers",
                 names=["kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/legacy-unknown"]),
            rule("sign", "certificates.k8s.io", "signers",
                 names=["kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
                        "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"]),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            events_rule(),
        ]),
        cluster_role(c + "service-controller", [
            rule(READ, "", "services"),
            rule(["patch", "update"], "", "services/status"),
            rule(["list", "watch"], "", "nodes"),
            events_rule(),
        ]),
    ]


CONTROLLERS = ("clusterrole-aggregation-controller", "deployment-controller", "endpoint-controller",
               "endpointslice-controller", "generic-garbage-collector", "namespace-controller", "node-controller",
               "replicaset-controller", "service-controller", "persistent-volume-binder",
               "pvc-protection-controller", "pv-protection-controller", "serviceaccount-controller",
               "root-ca-cert-publisher", "certificate-controller", "job-controller", "cronjob-controller",
               "ttl-after-finished-controller", "daemon-set-controller", "statefulset-controller",
               "horizontal-pod-autoscaler")


def _local_path_provisioner() -> dict[str, Any]:
    """k3s' ``local-path-provisioner-role``: minik8s runs the provisioner in the controller-manager."""
    return cluster_role("local-path-provisioner-role", [
        rule(READ, "", ["nodes", "persistentvolumeclaims", "configmaps", "pods"]),
        rule(["update", "patch"], "", "persistentvolumeclaims"),
        rule(["get", "list", "watch", "create", "patch", "update", "delete"], "", "persistentvolumes"),
        rule(["create", "patch"], "", "events"),
        rule(["get", "list", "watch", "create"], "storage.k8s.io", "storageclasses"),
    ])


def _role(namespace: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Role", "metadata": _meta(name, namespace=namespace), "rules": rules}


def _role_binding(namespace: str, name: str, *subjects: dict[str, Any], role: str | None = None) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "RoleBinding", "metadata": _meta(name, namespace=namespace),
            "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": role or name}, "subjects": list(subjects)}


def namespace_roles() -> list[dict[str, Any]]:
    """The Roles Kubernetes bootstraps into kube-system and kube-public (its
    ``bootstrappolicy/namespace_policy.go``): delegated authentication's reader, the
    controllers' and scheduler's leader locking, the bootstrap signer and token cleaner."""
    system, public, c = "kube-system", "kube-public", "system:controller:"
    return [
        _role(system, "extension-apiserver-authentication-reader", [
            rule(["get", "list", "watch"], "", "configmaps", names="extension-apiserver-authentication")]),
        _role(system, c + "bootstrap-signer", [rule(["get", "list", "watch"], "", "secrets")]),
        _role(system, c + "cloud-provider", [rule(["create", "get", "list", "watch"], "", "configmaps")]),
        _role(system, c + "token-cleaner", [rule(["get", "list", "watch", "delete"], "", "secrets"), events_rule()]),
        _role(system, "system::leader-locking-kube-controller-manager", [
            rule("watch", "", "configmaps"),
            rule(["get", "update"], "", "configmaps", names="kube-controller-manager"),
            rule(["get", "watch", "list", "create", "update"], "coordination.k8s.io", "leases")]),
        _role(system, "system::leader-locking-kube-scheduler", [
            rule("watch", "", "configmaps"),
            rule(["get", "update"], "", "configmaps", names="kube-scheduler")]),
        _role(public, c + "bootstrap-signer", [
            rule(["get", "list", "watch"], "", "configmaps"),
            rule("update", "", "configmaps", names="cluster-info"), events_rule()]),
    ]


def namespace_role_bindings() -> list[dict[str, Any]]:
    system, public, c = "kube-system", "kube-public", "system:controller:"

    def sa(name: str) -> dict[str, Any]:
        return subject("ServiceAccount", name, system)
    return [
        _role_binding(system, "system::extension-apiserver-authentication-reader",
                      subject("User", KUBE_CONTROLLER_MANAGER), subject("User", KUBE_SCHEDULER),
                      role="extension-apiserver-authentication-reader"),
        _role_binding(system, "system::leader-locking-kube-controller-manager", subject("User", KUBE_CONTROLLER_MANAGER),
                      sa("kube-controller-manager"), sa("leader-election-controller")),
        _role_binding(system, "system::leader-locking-kube-scheduler", subject("User", KUBE_SCHEDULER),
                      sa("kube-scheduler")),
        _role_binding(system, c + "bootstrap-signer", sa("bootstrap-signer")),
        _role_binding(system, c + "cloud-provider", sa("cloud-provider")),
        _role_binding(system, c + "token-cleaner", sa("token-cleaner")),
        _role_binding(public, c + "bootstrap-signer", sa("bootstrap-signer")),
    ]


def cluster_roles() -> list[dict[str, Any]]:
    return _cluster_roles() + _controller_roles() + [_local_path_provisioner()]


def cluster_role_bindings() -> list[dict[str, Any]]:
    authenticated, unauthenticated = subject("Group", u.AUTHENTICATED), subject("Group", u.UNAUTHENTICATED)
    out = [
        cluster_binding("cluster-admin", subject("Group", u.MASTERS)),
        cluster_binding("system:monitoring", subject("Group", "system:monitoring")),
        cluster_binding("system:discovery", authenticated, unauthenticated),
        cluster_binding("system:basic-user", authenticated),
        cluster_binding("system:public-info-viewer", authenticated, unauthenticated),
        cluster_binding("system:node-proxier", subject("User", KUBE_PROXY), subject("Group", u.NODES)),
        cluster_binding(KUBE_CONTROLLER_MANAGER, subject("User", KUBE_CONTROLLER_MANAGER)),
        cluster_binding("system:kube-dns", subject("ServiceAccount", "kube-dns", "kube-system")),
        cluster_binding(KUBE_SCHEDULER, subject("User", KUBE_SCHEDULER)),
        cluster_binding("system:volume-scheduler", subject("User", KUBE_SCHEDULER)),
        # bound to no one since 1.8: the Node authorizer grants these rules to each node
        cluster_binding("system:node"),
        cluster_binding("system:service-account-issuer-discovery", subject("Group", u.SERVICEACCOUNTS)),
        # kubeadm's bootstrap bindings: a joining node (bootstrap token) asks for its certificate
        cluster_binding("kubeadm:kubelet-bootstrap", subject("Group", u.BOOTSTRAPPERS),
                        role="system:node-bootstrapper"),
        cluster_binding("kubeadm:node-autoapprove-bootstrap", subject("Group", u.BOOTSTRAPPERS),
                        role="system:certificates.k8s.io:certificatesigningrequests:nodeclient"),
        cluster_binding("kubeadm:node-autoapprove-certificate-rotation", subject("Group", u.NODES),
                        role="system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"),
    ]
    for name in CONTROLLERS:
        out.append(cluster_binding("system:controller:" + name, subject("ServiceAccount", name, "kube-system"),
                                   subject("User", KUBE_CONTROLLER_MANAGER)))
    out.append(cluster_binding("local-path-provisioner-bind",
                               subject("ServiceAccount", "local-path-provisioner-service-account", "kube-system"),
                               subject("User", KUBE_CONTROLLER_MANAGER), role="local-path-provisioner-role"))
    return out
