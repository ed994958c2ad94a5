"""The Node authorizer and NodeRestriction admission: a kubelet (user ``system:node:<name>`` in
group ``system:nodes``) reads only what the pods bound to it need and writes only its own Node,
its own Lease and the pods bound to it (Kubernetes' ``plugin/pkg/auth/authorizer/node`` and
``plugin/pkg/admission/noderestriction``).

``NodeGraph`` follows the watch cache's pods and volumes through synchronous listeners and keeps,
per node, how many of its pods reference each Secret, ConfigMap, PVC and ServiceAccount, which
node each local volume is pinned to, and where each pod is bound — a decision is a few
dict lookups, never a store read.

``NodeAuthorizer`` answers only for node identities (no opinion for everyone else):

* ``secrets``, ``configmaps`` (get/list/watch of one named object), ``persistentvolumeclaims``
  (get; ``/status`` update/patch), ``serviceaccounts/token`` (create): only objects a pod bound
  to the node references;
* ``persistentvolumes``: read, all of them, and written only when pinned to the node (its
  hostname node affinity). Beyond Kubernetes (whose nodes only get the volumes their pods
  use): minik8s' kubelet removes the directories of the local-path volumes deleted on its node
  and then their cleanup finalizer (k3s runs a helper pod for it), watching every volume;
* ``leases``: only in ``kube-node-lease`` and, but to create, only the one named after the node;
* ``nodes`` and ``nodes/status``: writes only to its own Node;
* ``pods/status`` writes, ``pods`` deletes and ``pods/eviction``: only pods bound to the node;
* anything else: what the ``system:node`` rules allow.

``NodeRestriction`` holds the writes whose target is only known from the body: a node creates
only its own Node and Lease, and only mirror pods bound to itself.
"""

from __future__ import annotations

import collections
from typing import Any

from apiserver import errors
from apiserver.auth import bootstrap_policy, request_user
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Decision, Verdict
from apiserver.auth.rbac import Rule
from apiserver.validation import FieldError
from minik8s import localpath
from minik8s.api import resources as rs

NODE_LEASE_NAMESPACE = "kube-node-lease"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

Ref = tuple[str, str, str]  # (kind, namespace, name): kind is secret | configmap | pvc | serviceaccount


def node_name(user: u.UserInfo) -> str | None:
    """The node a user is (``system:node:<name>`` in ``system:nodes``); "" for a node identity
    without a name; None for anyone else."""
    if u.NODES not in user.groups or not user.name.startswith(u.NODE_PREFIX):
        return None
    return user.name[len(u.NODE_PREFIX):]


def pod_refs(pod: dict[str, Any]) -> set[Ref]:
    """What a pod makes its node read: secrets, configmaps, claims, its service account."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    ns = md.get("namespace") or ""
    refs: set[Ref] = set()

    def add(kind: str, name: str | None) -> None:
        if name:
            refs.add((kind, ns, name))

    add("serviceaccount", spec.get("serviceAccountName") or spec.get("serviceAccount"))
    for s in spec.get("imagePullSecrets") or []:
        add("secret", s.get("name"))
    for v in spec.get("volumes") or []:
        add("secret", (v.get("secret") or {}).get("secretName"))
        add("configmap", (v.get("configMap") or {}).get("name"))
        add("pvc", (v.get("persistentVolumeClaim") or {}).get("claimName"))
        for src in (v.get("projected") or {}).get("sources") or []:
            add("secret", (src.get("secret") or {}).get("name"))
            add("configmap", (src.get("configMap") or {}).get("name"))
        for f in ("cephfs", "cinder", "flexVolume", "rbd", "iscsi", "scaleIO", "storageos", "azureFile", "csi"):
            ref = (v.get(f) or {}).get("secretRef") or (v.get(f) or {}).get("nodePublishSecretRef")
            if ref:
                add("secret", ref.get("name"))
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
              *(spec.get("ephemeralContainers") or [])]:
        for e in c.get("envFrom") or []:
            add("secret", (e.get("secretRef") or {}).get("name"))
            add("configmap", (e.get("configMapRef") or {}).get("name"))
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            add("secret", (vf.get("secretKeyRef") or {}).get("name"))
            add("configmap", (vf.get("configMapKeyRef") or {}).get("name"))
    return refs


class NodeGraph:
    """Which node may read which object, kept current from the watch cache."""

    def __init__(self) -> None:
        self.refs: dict[str, collections.Counter[Ref]] = {}  # node → refs of its pods, counted
        self.pods: dict[tuple[str, str], tuple[str, set[Ref]]] = {}  # (ns, pod) → (node, refs)
        self.volume_node: dict[str, str] = {}  # PV → the node its node affinity pins it to

    def attach(self, cache: Any) -> None:
        for obj in cache.listen(rs.PODS.plural, lambda ev: self.set_pod(ev.obj, ev.type == "DELETED")):
            self.set_pod(obj, False)
        for obj in cache.listen(rs.PERSISTENTVOLUMES.plural, lambda ev: self.set_pv(ev.obj, ev.type == "DELETED")):
            self.set_pv(obj, False)

    def set_pv(self, pv: dict[str, Any], deleted: bool = False) -> None:
        name = pv["metadata"]["name"]
        node = None if deleted else localpath.node_of(pv)
        if node:
            self.volume_node[name] = node
        else:
            self.volume_node.pop(name, None)

    def set_pod(self, pod: dict[str, Any], deleted: bool = False) -> None:
        md = pod["metadata"]
        key = (md.get("namespace") or "", md["name"])
        old = self.pods.pop(key, None)
        if old is not None:
            counter = self.refs.get(old[0])
            if counter is not None:
                counter.subtract(old[1])
                for r in old[1]:
                    if counter[r] <= 0:
                        del counter[r]
                if not counter:
                    del self.refs[old[0]]
        node = (pod.get("spec") or {}).get("nodeName")
        if deleted or not node:
            return
        refs = pod_refs(pod)
        self.pods[key] = (node, refs)
        self.refs.setdefault(node, collections.Counter()).update(refs)

    def has(self, node: str, ref: Ref) -> bool:
        counter = self.refs.get(node)
        return counter is not None and counter.get(ref, 0) > 0

    def pod_node(self, namespace: str, name: str) -> str | None:
        found = self.pods.get((namespace, name))
        return found[0] if found else None


def _no(reason: str) -> Verdict:
    return Verdict(Decision.NO_OPINION, reason)


_ALLOW = Verdict(Decision.ALLOW)
_READ = frozenset(("get", "list", "watch"))
_NO_RELATION = "no relationship found between node '{node}' and this object"


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph) -> None:
        self.graph = graph
        self.rules = tuple(Rule.of(r) for r in bootstrap_policy.node_rules())

    def authorize(self, attrs: Attributes) -> Verdict:
        node = node_name(attrs.user)
        if node is None:
            return _no("")
        if not node:
            return _no(f'unknown node for user "{attrs.user.name}"')
        if attrs.resource_request:
            verdict = self._subdivided(node, attrs)
            if verdict is not None:
                return verdict
        if any(r.allows(attrs) for r in self.rules):
            return _ALLOW
        return _no("")

    def _subdivided(self, node: str, attrs: Attributes) -> Verdict | None:
        group, res, sub, verb = attrs.api_group, attrs.resource, attrs.subresource, attrs.verb
        if group == "":
            if res in ("secrets", "configmaps"):
                return self._read_object(node, "secret" if res == "secrets" else "configmap", attrs)
            if res == "persistentvolumeclaims":
                if sub == "status":
                    if verb not in ("update", "patch"):
                        return _no("can only get or update persistentvolumeclaim status")
                    return self._related(node, ("pvc", attrs.namespace, attrs.name), attrs)
                if verb != "get" or sub:
                    return _no("can only get individual resources of this type")
                return self._related(node, ("pvc", attrs.namespace, attrs.name), attrs)
            if res == "persistentvolumes":
                if verb in _READ and not sub:
                    return _ALLOW
                if verb in ("update", "patch") and not sub and attrs.name \
                        and self.graph.volume_node.get(attrs.name) == node:
                    return _ALLOW
                return _no(f'node "{node}" can only change the volumes pinned to it')
            if res == "serviceaccounts" and sub == "token":
                if verb != "create":
                    return _no("can only create tokens for individual service accounts")
                return self._related(node, ("serviceaccount", attrs.namespace, attrs.name), attrs)
            if res == "serviceaccounts":
                return None
            if res == "nodes" and verb in ("update", "patch", "delete"):
                if attrs.name != node:
                    return _no(f'node "{node}" is not allowed to modify node "{attrs.name}"')
                return None
            if res == "pods":
                return self._pod(node, attrs)
        if group == "coordination.k8s.io" and res == "leases":
            if verb not in ("get", "create", "update", "patch", "delete"):
                return _no("can only get, create, update, patch, or delete a node lease")
            if attrs.namespace != NODE_LEASE_NAMESPACE:
                return _no(f"can only access leases in the {NODE_LEASE_NAMESPACE} namespace")
            if verb != "create" and attrs.name != node:
                return _no("can only access node lease with the same name as the requesting node")
            return _ALLOW
        return None

    def _read_object(self, node: str, kind: str, attrs: Attributes) -> Verdict:
        if attrs.verb not in _READ:
            return _no("can only read resources of this type")
        if attrs.subresource:
            return _no("cannot read subresource")
        if not attrs.namespace:
            return _no("can only read namespaced object of this type")
        return self._related(node, (kind, attrs.namespace, attrs.name), attrs)

    def _related(self, node: str, ref: Ref, attrs: Attributes) -> Verdict:
        if not attrs.name:
            return _no("No Object name found")
        return _ALLOW if self.graph.has(node, ref) else _no(_NO_RELATION.format(node=node))

    def _pod(self, node: str, attrs: Attributes) -> Verdict | None:
        """NodeRestriction's pod rules that the attributes alone decide (the pod's binding is
        in the graph)."""
        verb, sub = attrs.verb, attrs.subresource
        bound = self.graph.pod_node(attrs.namespace, attrs.name) if attrs.name else None
        if sub == "status" and verb in ("update", "patch"):
            if bound != node:
                return _no(f'node "{node}" can only update pod status for pods with spec.nodeName set to itself')
            return None
        if sub == "eviction" and verb == "create":
            if bound != node:
                return _no(f'node "{node}" can only evict pods with spec.nodeName set to itself')
            return None
        if not sub and verb == "delete":
            if bound is not None and bound != node:
                return _no(f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return None
        if not sub and verb in ("update", "patch"):
            return _no(f'node "{node}" can only update pod status')
        return None


class NodeRestriction:
    """REST write hooks for nodes, leases and pods: a node creates only what is its own."""

    def __init__(self, rt: rs.ResourceType) -> None:
        self.rt = rt

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        user = request_user.get()
        node = node_name(user) if user is not None else None
        if not node:
            return []
        md = new["metadata"]
        name = md.get("name") or ""
        if self.rt is rs.NODES and name != node:
            raise self._forbidden(name, f'node "{node}" is not allowed to modify node "{name}"')
        if self.rt is rs.LEASES and (md.get("namespace") != NODE_LEASE_NAMESPACE or name != node):
            raise self._forbidden(name, f'node "{node}" is not allowed to modify lease "{name}"')
        if self.rt is rs.PODS and old is None:
            if MIRROR_ANNOTATION not in (md.get("annotations") or {}):
                raise self._forbidden(name, f'pod does not have "{MIRROR_ANNOTATION}" annotation, node "{node}" '
                                            "can only create mirror pods")
            if (new.get("spec") or {}).get("nodeName") != node:
                raise self._forbidden(name, f'node "{node}" can only create pods with spec.nodeName set to itself')
        return []

    def after_write(self, new: dict[str, Any] | None, old: dict[str, Any] | None, *, ok: bool) -> None:
        pass

    def _forbidden(self, name: str, why: str) -> errors.Forbidden:
        return errors.Forbidden(f'{self.rt.group_resource} "{name}" is forbidden: {why}',
                                details={"name": name, "kind": self.rt.plural,
                                         **({"group": self.rt.group} if self.rt.group else {})})


def write_hooks() -> dict[rs.ResourceType, Any]:
    return {rt: NodeRestriction(rt) for rt in (rs.NODES, rs.LEASES, rs.PODS)}
