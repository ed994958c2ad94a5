"""Building a kustomization directory into objects, in kustomize's order.

Per kustomization (bases first, recursively): its ``resources`` (files, and directories holding
a kustomization of their own), then its generators (``configMapGenerator``,
``secretGenerator``; ``behavior: merge|replace`` changes a base's generated object), then the
transformers in kustomize's order: patches (``patchesStrategicMerge``, ``patches``),
``namespace``, ``namePrefix``, ``nameSuffix``, labels (``commonLabels``, ``labels``),
``commonAnnotations``, ``patchesJson6902``, ``replicas``, ``images``. Once the whole tree is
built, generated names get their content hash, references follow the renamed objects (pod
templates' ConfigMaps, Secrets, ServiceAccounts and claims; RBAC bindings' roles and
subjects; Ingress backends and TLS Secrets; a StatefulSet's service; an autoscaler's target),
and the objects are ordered as kustomize's
legacy order (Namespace, ..., ConfigMap, Secret, Service, ..., Deployment, ..., others, then
webhook configurations; within a kind by namespace and name).

A kustomization field mkctl does not implement is an error naming it, never ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

from minik8s.cli.kust import generate, patch, transform
from minik8s.cli.session import CliError

FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED = frozenset({
    "apiVersion", "kind", "metadata", "resources", "bases", "namespace", "namePrefix", "nameSuffix", "commonLabels",
    "labels", "commonAnnotations", "images", "replicas", "patches", "patchesStrategicMerge", "patchesJson6902",
    "configMapGenerator", "secretGenerator", "generatorOptions",
})
# in the order kustomize checks them (Kustomization.CheckDeprecatedFields)
_DEPRECATED = {"bases": "resources", "commonLabels": "labels", "patchesJson6902": "patches",
               "patchesStrategicMerge": "patches"}
_ORDER_FIRST = ["Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
                "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret",
                "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
                "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget"]
_ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
_TYPE_ORDER = {**{k: i - len(_ORDER_FIRST) for i, k in enumerate(_ORDER_FIRST)},
               **{k: i + 1 for i, k in enumerate(_ORDER_LAST)}}


@dataclasses.dataclass
class Resource:
    """One object being built: ``names`` is its name history (the first is the name it was
    written or generated with), ``hashed`` whether its final name takes the content hash."""

    obj: dict[str, Any]
    names: list[str]
    hashed: bool = False

    @property
    def kind(self) -> str:
        kind: str = self.obj.get("kind", "")
        return kind

    @property
    def namespace(self) -> str | None:
        return (self.obj.get("metadata") or {}).get("namespace")

    def rename(self, name: str) -> None:
        self.obj.setdefault("metadata", {})["name"] = name
        self.names.append(name)


def build(path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(the objects, kustomize's warnings) of the kustomization in directory ``path``."""
    warnings: list[str] = []
    resources = _Target(os.path.abspath(path), warnings, ()).run()
    for r in resources:
        if r.hashed:
            r.rename(f"{r.names[-1]}-{generate.content_hash(r.obj)}")
    def find(kinds: tuple[str, ...], old: str, namespace: str | None, any_namespace: bool) -> tuple[str, str | None] | None:
        """(new name, namespace) of the object the reference ``old`` meant, written with that
        name; one in the referrer's namespace first (``any_namespace``: RBAC subjects)."""
        found = [r for r in resources if r.kind in kinds and r.names[0] == old]
        same = [r for r in found if r.namespace == namespace or r.kind in transform.CLUSTER_KINDS]
        pick = same or (found if any_namespace else [])
        return (pick[0].names[-1], pick[0].namespace) if pick else None

    for r in resources:
        transform.fix_references(r.obj, find)
    resources.sort(key=_legacy_key)
    return [r.obj for r in resources], warnings


def _legacy_key(r: Resource) -> tuple[Any, ...]:
    group, _, version = r.obj.get("apiVersion", "").rpartition("/")
    gvk = "_".join([group or "~G", version or "~V", r.kind or "~K"])
    # kustomize writes a missing namespace as "~X" in its sort string: after every named one
    return _TYPE_ORDER.get(r.kind, 0), gvk, r.namespace or "~X", r.names[-1]


class _Target:
    """One kustomization directory."""

    def __init__(self, root: str, warnings: list[str], seen: tuple[str, ...]) -> None:
        if root in seen:
            raise CliError(f"kustomize: cycle detected: {root} includes itself")
        self.root = root
        self.warnings = warnings
        self.seen = (*seen, root)
        self.k = self._load()

    def _load(self) -> dict[str, Any]:
        import yaml

        for name in FILES:
            path = os.path.join(self.root, name)
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    try:
                        k = yaml.safe_load(f) or {}
                    except yaml.YAMLError as e:
                        raise CliError(f"kustomize: {path}: {e}") from None
                break
        else:
            raise CliError(f"unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' "
                           f"in directory '{self.root}'")
        if not isinstance(k, dict):
            raise CliError(f"kustomize: {path} is not a kustomization (a map)")
        unsupported = sorted(set(k) - SUPPORTED)
        if unsupported:
            raise CliError(f"kustomize: the kustomization field {unsupported[0]!r} in {path} is not supported by "
                           f"mkctl (supported: {', '.join(sorted(SUPPORTED - {'apiVersion', 'kind', 'metadata'}))})")
        for old, new in _DEPRECATED.items():
            if old in k:
                self.warnings.append(f"# Warning: '{old}' is deprecated. Please use '{new}' instead. Run 'kustomize "
                                     "edit fix' to update your Kustomization automatically.")
        return k

    def _path(self, rel: str) -> str:
        return os.path.normpath(os.path.join(self.root, rel))

    def run(self) -> list[Resource]:
        resources: list[Resource] = []
        for entry in [*(self.k.get("bases") or []), *(self.k.get("resources") or [])]:
            resources.extend(self._resource(str(entry)))
        self._generate(resources)
        k = self.k
        for p in k.get("patchesStrategicMerge") or []:
            for doc in self._docs(p):
                resources = self._strategic(resources, doc, None)
        for p in k.get("patches") or []:
            resources = self._patch(resources, p)
        for r in resources:
            if k.get("namespace"):
                transform.set_namespace(r.obj, str(k["namespace"]))
                if r.kind == "Namespace":  # kustomize makes a Namespace object the namespace itself
                    r.rename(str(k["namespace"]))
        if k.get("namePrefix") or k.get("nameSuffix"):
            for r in resources:
                if r.kind not in ("CustomResourceDefinition", "Namespace"):
                    r.rename(f"{k.get('namePrefix') or ''}{r.names[-1]}{k.get('nameSuffix') or ''}")
        self._labels(resources)
        if k.get("commonAnnotations"):
            for r in resources:
                transform.add_annotations(r.obj, k["commonAnnotations"])
        for p in k.get("patchesJson6902") or []:
            resources = self._json6902(resources, p)
        for entry in k.get("replicas") or []:
            for r in resources:
                if entry.get("name") in r.names:
                    transform.set_replicas(r.obj, int(entry.get("count", 0)))
        for entry in k.get("images") or []:
            for r in resources:
                transform.set_image(r.obj, entry)
        return resources

    # -- resources -------------------------------------------------------------------------------

    def _resource(self, entry: str) -> list[Resource]:
        if "://" in entry or entry.startswith("github.com/"):
            raise CliError(f"kustomize: remote resource {entry!r} is not supported by mkctl (no network here)")
        path = self._path(entry)
        if os.path.isdir(path):
            return _Target(path, self.warnings, self.seen).run()
        if not os.path.isfile(path):
            raise CliError(f"kustomize: accumulating resources: {entry!r} in {self.root}: no such file or directory")
        from minik8s.cli import manifests

        with open(path, encoding="utf-8") as f:
            return [Resource(m.obj, [m.name]) for m in manifests.parse(f.read(), path)]

    def _docs(self, entry: Any) -> list[Any]:
        """A patch given as a file name or inline: its YAML documents."""
        import yaml

        text = entry if isinstance(entry, str) else yaml.safe_dump(entry)
        if isinstance(entry, str) and "\n" not in entry and os.path.isfile(self._path(entry)):
            with open(self._path(entry), encoding="utf-8") as f:
                text = f.read()
        try:
            return [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            raise CliError(f"kustomize: a patch in {self.root} does not parse: {e}") from None

    # -- generators --------------------------------------------------------------------------------

    def _generate(self, resources: list[Resource]) -> None:
        options = self.k.get("generatorOptions") or {}
        for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
            for spec in self.k.get(field) or []:
                obj, hashed = generate.generate(kind, spec, self.root, options)
                behavior = spec.get("behavior") or "create"
                name, ns = spec["name"], spec.get("namespace")
                existing = [r for r in resources if r.kind == kind and name in r.names
                            and (ns is None or r.namespace == ns)]
                if behavior == "create":
                    if existing:
                        raise CliError(f"kustomize: {kind} {name!r} is generated twice (use behavior merge or replace)")
                    resources.append(Resource(obj, [name], hashed))
                elif behavior in ("merge", "replace"):
                    if not existing:
                        raise CliError(f"kustomize: {kind} {name!r} to {behavior} is not in the bases")
                    _combine(existing[0], obj, behavior)
                else:
                    raise CliError(f"kustomize: unknown generator behavior {behavior!r} (create, merge, replace)")

    # -- patches -----------------------------------------------------------------------------------

    def _patch(self, resources: list[Resource], entry: dict[str, Any]) -> list[Resource]:
        unknown = set(entry) - {"path", "patch", "target", "options"}
        if unknown:
            raise CliError(f"kustomize: patch field {sorted(unknown)[0]!r} is not supported")
        if (entry.get("options") or {}):
            raise CliError("kustomize: patch options (allowNameChange, allowKindChange) are not supported")
        docs = self._docs(entry["path"] if entry.get("path") else entry.get("patch", ""))
        for doc in docs:
            if isinstance(doc, list):
                resources = self._json6902(resources, {"target": entry.get("target") or {}, "ops": doc})
            else:
                resources = self._strategic(resources, doc, entry.get("target"))
        return resources

    def _strategic(self, resources: list[Resource], doc: Any, target: dict[str, Any] | None) -> list[Resource]:
        if not isinstance(doc, dict):
            raise CliError(f"kustomize: a strategic merge patch in {self.root} must be a map")
        required = target is None  # an explicit target may select nothing; a patch's own identity must
        if target is None:
            group, _, version = str(doc.get("apiVersion", "")).rpartition("/")
            meta = doc.get("metadata") or {}
            target = {"group": group, "version": version, "kind": doc.get("kind"),
                      "name": _literal(meta.get("name")), "namespace": _literal(meta.get("namespace"))}
        out, matched = [], False
        for r in resources:
            if patch.target_matches(target, r.obj, tuple(r.names)):
                matched = True
                body = copy.deepcopy(doc)
                # the patch's own identity never renames its target
                (body.get("metadata") or {}).pop("name", None)
                if (body.get("metadata") or {}).get("namespace") is not None:
                    body["metadata"].pop("namespace", None)
                new = patch.strategic_merge(r.obj, body)
                if new is None:
                    continue
                r.obj = new
            out.append(r)
        if required and not matched:
            raise CliError(f"kustomize: no resource matches the patch for {target.get('kind')} "
                           f"{(doc.get('metadata') or {}).get('name')!r} in {self.root}")
        return out

    def _json6902(self, resources: list[Resource], entry: dict[str, Any]) -> list[Resource]:
        target = dict(entry.get("target") or {})
        ops = entry.get("ops")
        if ops is None:
            docs = self._docs(entry["path"] if entry.get("path") else entry.get("patch", ""))
            ops = docs[0] if docs else []
        if not isinstance(ops, list):
            raise CliError(f"kustomize: a JSON 6902 patch in {self.root} must be a list of operations")
        for key in ("name", "namespace"):
            if target.get(key) is not None and not entry.get("ops"):
                target[key] = _literal(target[key])
        matched = False
        for r in resources:
            if patch.target_matches(target, r.obj, tuple(r.names)):
                matched = True
                r.obj = patch.json_patch(r.obj, ops)
        if not matched and entry.get("ops") is None:
            raise CliError(f"kustomize: no resource matches the JSON patch target {target} in {self.root}")
        return resources

    # -- labels ------------------------------------------------------------------------------------

    def _labels(self, resources: list[Resource]) -> None:
        sets: list[tuple[dict[str, Any], bool, bool]] = []
        if self.k.get("commonLabels"):
            sets.append((self.k["commonLabels"], True, True))
        for entry in self.k.get("labels") or []:
            unknown = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
            if unknown:
                raise CliError(f"kustomize: labels field {sorted(unknown)[0]!r} is not supported")
            sets.append((entry.get("pairs") or {}, bool(entry.get("includeSelectors")),
                         bool(entry.get("includeTemplates"))))
        for labels, selectors, templates in sets:
            for r in resources:
                transform.add_labels(r.obj, labels, selectors=selectors, templates=templates)


def _literal(value: Any) -> str | None:
    """A name as a regular expression that matches exactly it."""
    import re

    return None if value is None else re.escape(str(value))


def _combine(base: Resource, new: dict[str, Any], behavior: str) -> None:
    """An overlay generator's ``merge`` (data and metadata added) or ``replace`` of a base's."""
    obj = base.obj
    for field in ("data", "binaryData"):
        if behavior == "replace":
            obj.pop(field, None)
        if new.get(field):
            obj[field] = {**(obj.get(field) or {}), **new[field]}
    meta, new_meta = obj.setdefault("metadata", {}), new.get("metadata") or {}
    for field in ("labels", "annotations"):
        if new_meta.get(field):
            meta[field] = {**(meta.get(field) or {}), **new_meta[field]} if behavior == "merge" else new_meta[field]
