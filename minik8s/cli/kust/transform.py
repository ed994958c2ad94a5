"""kustomize's field transformers over the objects of a kustomization: namespace, name prefix
and suffix, labels (and, as ``commonLabels`` or ``includeSelectors`` ask, selectors and pod
templates), annotations, images, replicas, and the name references of pod templates.

The field lists are kustomize's defaults (``api/konfig/builtinpluginconsts``) for the kinds
this cluster serves: a label goes to every object's ``metadata.labels`` and, for selectors,
to a Service's ``spec.selector``, a workload's ``spec.selector.matchLabels`` and its pod
template's labels (``create``: made when absent, as kustomize does), a CronJob's job template,
a StatefulSet's volume claim templates; Job, PodDisruptionBudget and NetworkPolicy selectors
only when present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# Kinds that are not namespaced (the namespace transformer leaves them alone).
CLUSTER_KINDS = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "CSIDriver", "CSINode", "VolumeAttachment", "IngressClass", "RuntimeClass",
    "CertificateSigningRequest", "PodSecurityPolicy", "ComponentStatus", "FlowSchema", "PriorityLevelConfiguration",
})
_WORKLOADS = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet")
_TEMPLATED = (*_WORKLOADS, "Job", "ReplicationController")

# (kinds, path, create): where a label goes besides metadata.labels.
_SELECTOR_PATHS: list[tuple[tuple[str, ...], tuple[str, ...], bool]] = [
    (("Service",), ("spec", "selector"), True),
    (("ReplicationController",), ("spec", "selector"), True),
    (_WORKLOADS, ("spec", "selector", "matchLabels"), True),
    (("Job",), ("spec", "selector", "matchLabels"), False),
    (("CronJob",), ("spec", "jobTemplate", "spec", "selector", "matchLabels"), False),
    (("PodDisruptionBudget",), ("spec", "selector", "matchLabels"), False),
    (("NetworkPolicy",), ("spec", "podSelector", "matchLabels"), False),
]
_TEMPLATE_PATHS: list[tuple[tuple[str, ...], tuple[str, ...], bool]] = [
    (_TEMPLATED, ("spec", "template", "metadata", "labels"), True),
    (("CronJob",), ("spec", "jobTemplate", "metadata", "labels"), True),
    (("CronJob",), ("spec", "jobTemplate", "spec", "template", "metadata", "labels"), True),
]
_ANNOTATION_PATHS: list[tuple[tuple[str, ...], tuple[str, ...], bool]] = [
    (_TEMPLATED, ("spec", "template", "metadata", "annotations"), True),
    (("CronJob",), ("spec", "jobTemplate", "metadata", "annotations"), True),
    (("CronJob",), ("spec", "jobTemplate", "spec", "template", "metadata", "annotations"), True),
]


def _set_map(obj: dict[str, Any], path: tuple[str, ...], values: dict[str, Any], create: bool) -> None:
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        if key not in node or node[key] is None:
            if not create:
                return
            node[key] = {}
        node = node[key]
    if not isinstance(node, dict):
        return
    if path[-1] not in node or node[path[-1]] is None:
        if not create:
            return
        node[path[-1]] = {}
    if isinstance(node[path[-1]], dict):
        node[path[-1]].update({k: str(v) for k, v in values.items()})


def _apply_paths(obj: dict[str, Any], specs: list[Any], values: dict[str, Any]) -> None:
    for kinds, path, create in specs:
        if obj.get("kind") in kinds:
            _set_map(obj, path, values, create)


def add_labels(obj: dict[str, Any], labels: dict[str, Any], *, selectors: bool, templates: bool) -> None:
    _set_map(obj, ("metadata", "labels"), labels, True)
    if selectors:
        _apply_paths(obj, _SELECTOR_PATHS, labels)
    if selectors or templates:
        _apply_paths(obj, _TEMPLATE_PATHS, labels)
        if obj.get("kind") == "StatefulSet":
            for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
                _set_map(claim, ("metadata", "labels"), labels, True)


def add_annotations(obj: dict[str, Any], annotations: dict[str, Any]) -> None:
    _set_map(obj, ("metadata", "annotations"), annotations, True)
    _apply_paths(obj, _ANNOTATION_PATHS, annotations)


def set_namespace(obj: dict[str, Any], namespace: str) -> None:
    if obj.get("kind") not in CLUSTER_KINDS:
        obj.setdefault("metadata", {})["namespace"] = namespace


def pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod specs inside an object (a Pod's, a workload's template, a CronJob's job's)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    kind = obj.get("kind")
    if kind == "Pod":
        yield spec
    elif kind == "CronJob":
        tpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        if isinstance(tpl.get("spec"), dict):
            yield tpl["spec"]
    elif isinstance(spec.get("template"), dict) and isinstance(spec["template"].get("spec"), dict):
        yield spec["template"]["spec"]


def containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod_spec.get(key) or []:
            if isinstance(c, dict):
                yield c


def split_image(image: str) -> tuple[str, str]:
    """(name, ``:tag`` and/or ``@digest`` as written) — a registry port is part of the name."""
    at = image.find("@")
    name, digest = (image[:at], image[at:]) if at >= 0 else (image, "")
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        return name[:colon], name[colon:] + digest
    return name, digest


def set_image(obj: dict[str, Any], entry: dict[str, Any]) -> None:
    for pod_spec in pod_specs(obj):
        for c in containers(pod_spec):
            image = c.get("image")
            if not isinstance(image, str):
                continue
            name, ref = split_image(image)
            if name != entry.get("name"):
                continue
            new_name = entry.get("newName") or name
            if entry.get("digest"):
                ref = "@" + str(entry["digest"])
            elif entry.get("newTag") is not None:
                ref = ":" + str(entry["newTag"])
            c["image"] = new_name + ref


_REPLICATED = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")


def set_replicas(obj: dict[str, Any], count: int) -> None:
    if obj.get("kind") in _REPLICATED:
        obj.setdefault("spec", {})["replicas"] = count


Find = Callable[[tuple[str, ...], str, "str | None", bool], "tuple[str, str | None] | None"]

_SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")


def fix_references(obj: dict[str, Any], find: Find) -> None:
    """Point references at their objects' new names (kustomize's name reference transformer
    for the references people use). ``find(kinds, old name, namespace, any namespace)`` answers
    the referent's (new name, namespace), or None when the kustomization has no such object."""
    ns = (obj.get("metadata") or {}).get("namespace")
    kind = obj.get("kind")

    def fix(holder: Any, key: str, *kinds: str) -> None:
        if isinstance(holder, dict) and isinstance(holder.get(key), str):
            hit = find(kinds, holder[key], ns, False)
            if hit is not None:
                holder[key] = hit[0]

    for spec in pod_specs(obj):
        fix(spec, "serviceAccountName", "ServiceAccount")
        for ref in spec.get("imagePullSecrets") or []:
            fix(ref, "name", "Secret")
        for vol in spec.get("volumes") or []:
            if not isinstance(vol, dict):
                continue
            fix(vol.get("configMap"), "name", "ConfigMap")
            fix(vol.get("secret"), "secretName", "Secret")
            fix(vol.get("persistentVolumeClaim"), "claimName", "PersistentVolumeClaim")
            for src in (vol.get("projected") or {}).get("sources") or []:
                if isinstance(src, dict):
                    fix(src.get("configMap"), "name", "ConfigMap")
                    fix(src.get("secret"), "name", "Secret")
        for c in containers(spec):
            for env in c.get("env") or []:
                value_from = (env or {}).get("valueFrom") or {}
                fix(value_from.get("configMapKeyRef"), "name", "ConfigMap")
                fix(value_from.get("secretKeyRef"), "name", "Secret")
            for src in c.get("envFrom") or []:
                if isinstance(src, dict):
                    fix(src.get("configMapRef"), "name", "ConfigMap")
                    fix(src.get("secretRef"), "name", "Secret")
    spec = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        role = obj.get("roleRef")
        if isinstance(role, dict) and role.get("kind") in ("Role", "ClusterRole"):
            fix(role, "name", role["kind"])
        for subject in obj.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                hit = find(("ServiceAccount",), str(subject.get("name")), subject.get("namespace") or ns, True)
                if hit is not None:
                    subject["name"] = hit[0]
                    if hit[1]:
                        subject["namespace"] = hit[1]
    elif kind == "Ingress":
        backends = [spec.get("defaultBackend")]
        for rule in spec.get("rules") or []:
            backends += [p.get("backend") for p in ((rule or {}).get("http") or {}).get("paths") or []
                         if isinstance(p, dict)]
        for backend in backends:
            if isinstance(backend, dict):
                fix(backend.get("service"), "name", "Service")
        for tls in spec.get("tls") or []:
            fix(tls, "secretName", "Secret")
    elif kind == "StatefulSet":
        fix(spec, "serviceName", "Service")
    elif kind == "HorizontalPodAutoscaler":
        target = spec.get("scaleTargetRef")
        if isinstance(target, dict) and target.get("kind") in _SCALABLE:
            fix(target, "name", target["kind"])
