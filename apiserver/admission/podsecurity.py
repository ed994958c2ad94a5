"""PodSecurity admission (Kubernetes' ``pod-security-admission/admission``): the Pod Security
Standards of a namespace's ``pod-security.kubernetes.io/<mode>[-version]`` labels applied to pods
and to the pod templates of workload resources.

* Pods, on create and on updates Kubernetes calls significant (a container's image or a
  seccomp annotation changed, containers added or removed): ``enforce`` refuses with 403
  ``pods "x" is forbidden: violates PodSecurity "baseline:latest": ...``; ``warn`` answers
  ``would violate PodSecurity ...`` as a Warning header (only when the request is allowed);
  ``audit`` adds the ``pod-security.kubernetes.io/audit-violations`` annotation to the audit
  event (through ``apiserver.audit.context.add_annotation``, the hook the audit log reads).
* Workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
  ReplicationController): warn and audit only, as Kubernetes (their pods meet
  enforce when they are created).
* Namespaces: bad label values are refused with 422 naming the label (on update only when
  they changed); making enforce stricter warns about the namespace's existing pods that would
  violate it (first 3000 pods, as Kubernetes).
* Exemptions (usernames, runtimeClasses, namespaces) and defaults come from the
  PodSecurityConfiguration (``podsecurity_config``).
"""

from __future__ import annotations

from typing import Any

from apiserver import errors, validation
from apiserver.admission import podsecurity_checks as checks
from apiserver.admission.interface import CREATE, UPDATE, Attributes, Plugin, forbidden
from apiserver.admission.podsecurity_config import (
    Config,
    LevelVersion,
    Policy,
    policy_of,
)
from apiserver.audit import context as audit_context
from apiserver.auth import request_user
from minik8s.api import resources as rs

PLUGIN_NAME = "PodSecurity"
AUDIT_VIOLATIONS = "pod-security.kubernetes.io/audit-violations"
ENFORCE_POLICY = "pod-security.kubernetes.io/enforce-policy"
EXEMPT = "pod-security.kubernetes.io/exempt"
MAX_PODS_TO_CHECK = 3000
_SECCOMP_POD = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER = "container.seccomp.security.alpha.kubernetes.io/"

# Kubernetes' list also has PodTemplate, a resource minik8s does not serve.
WORKLOADS = frozenset({rs.DEPLOYMENTS, rs.REPLICASETS, rs.STATEFULSETS, rs.DAEMONSETS, rs.JOBS, rs.CRONJOBS,
                       rs.REPLICATIONCONTROLLERS})


def _result(lv: LevelVersion, meta: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """Kubernetes' ForbiddenDetail: ``reason (detail), reason (detail)``; None when allowed."""
    found = checks.evaluate(lv.level, meta, spec, lv.version)
    if not found:
        return None
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in found)


def _reasons(lv: LevelVersion, meta: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """Kubernetes' ForbiddenReason (reasons only), for the namespace-wide check."""
    found = checks.evaluate(lv.level, meta, spec, lv.version)
    return ", ".join(reason for reason, _ in found) if found else None


def _significant_update(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Kubernetes' isSignificantPodUpdate: only images and seccomp annotations are mutable."""
    ann = (new.get("metadata") or {}).get("annotations") or {}
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    if ann.get(_SECCOMP_POD) != old_ann.get(_SECCOMP_POD):
        return True
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}

    def container_changed(c: dict[str, Any], oc: dict[str, Any]) -> bool:
        key = _SECCOMP_CONTAINER + str(c.get("name", ""))
        return c.get("image") != oc.get("image") or ann.get(key) != old_ann.get(key)

    for field in ("containers", "initContainers"):
        cs, ocs = spec.get(field) or [], old_spec.get(field) or []
        if len(cs) != len(ocs) or any(container_changed(c, oc) for c, oc in zip(cs, ocs)):
            return True
    old_eph = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or []}
    for c in spec.get("ephemeralContainers") or []:
        oc = old_eph.get(c.get("name"))
        if oc is None or container_changed(c, oc):
            return True
    return False


class PodSecurity(Plugin):
    handles = frozenset({rs.PODS, rs.NAMESPACES, *WORKLOADS})

    def __init__(self, cache: Any, config: Config | None = None) -> None:  # apiserver.watchcache.WatchCache
        self.cache = cache
        self.config = config or Config()
        # namespace name -> (its object in the watch cache, its policy, whether its labels parse):
        # the cache replaces an object on every change and never alters one, so the policy
        # read from a namespace object holds as long as that object is the cache's
        self._policies: dict[str, tuple[dict[str, Any], Policy, bool]] = {}

    # ---- lookups ------------------------------------------------------------------------

    def _namespace_policy(self, namespace: str | None) -> tuple[Policy, bool]:
        """The namespace's policy and whether its labels parse."""
        ns = self.cache.resource(rs.NAMESPACES.plural).objects.get(f"/registry/namespaces/{namespace}")
        known = self._policies.get(namespace or "") if ns is not None else None
        if known is not None and known[0] is ns:
            return known[1], known[2]
        labels = ((ns or {}).get("metadata") or {}).get("labels")
        policy, errs = policy_of(labels, self.config.defaults)
        if ns is not None:
            if len(self._policies) >= 4096:
                self._policies.clear()
            self._policies[namespace or ""] = (ns, policy, not errs)
        return policy, not errs

    def _exempt_user(self) -> bool:
        user = request_user.get()
        return user is not None and user.name in self.config.exempt_usernames

    def _exempt_runtime_class(self, spec: dict[str, Any]) -> bool:
        rc = spec.get("runtimeClassName")
        return bool(rc) and rc in self.config.exempt_runtime_classes

    # ---- the plugin -----------------------------------------------------------------------

    async def validate(self, attrs: Attributes) -> None:
        if attrs.subresource:
            return
        if attrs.resource is rs.NAMESPACES:
            self._validate_namespace(attrs)
        elif attrs.resource is rs.PODS:
            self._validate_pod(attrs)
        else:
            self._validate_workload(attrs)

    def _exempt(self, namespace: str | None) -> bool:
        if namespace and namespace in self.config.exempt_namespaces:
            audit_context.add_annotation(EXEMPT, "namespace")
            return True
        if self._exempt_user():
            audit_context.add_annotation(EXEMPT, "user")
            return True
        return False

    def _validate_pod(self, attrs: Attributes) -> None:
        if self._exempt(attrs.namespace):
            return
        policy, _ = self._namespace_policy(attrs.namespace)
        if policy.all_privileged():
            return
        if attrs.operation == UPDATE and attrs.old is not None and not _significant_update(attrs.obj, attrs.old):
            return
        self._evaluate(attrs, policy, attrs.obj.get("metadata") or {}, attrs.obj.get("spec") or {}, enforce=True)

    def _validate_workload(self, attrs: Attributes) -> None:
        if attrs.operation not in (CREATE, UPDATE) or self._exempt(attrs.namespace):
            return
        policy, _ = self._namespace_policy(attrs.namespace)
        if policy.warn.level == policy.audit.level == checks.PRIVILEGED:
            return
        pod = checks.pod_of(attrs.resource.kind, attrs.obj)
        if pod is None:
            return
        self._evaluate(attrs, policy, pod[0], pod[1], enforce=False)

    def _evaluate(self, attrs: Attributes, policy: Policy, meta: dict[str, Any], spec: dict[str, Any], *,
                  enforce: bool) -> None:
        if self._exempt_runtime_class(spec):
            audit_context.add_annotation(EXEMPT, "runtimeClass")
            return
        results: dict[LevelVersion, str | None] = {}

        def result(lv: LevelVersion) -> str | None:
            if lv not in results:
                results[lv] = _result(lv, meta, spec)
            return results[lv]

        if enforce:
            audit_context.add_annotation(ENFORCE_POLICY, str(policy.enforce))
            denied = result(policy.enforce)
            if denied is not None:
                raise forbidden(attrs, f'violates PodSecurity "{policy.enforce}": {denied}')
        audited = result(policy.audit)
        if audited is not None:
            audit_context.add_annotation(AUDIT_VIOLATIONS, f'would violate PodSecurity "{policy.audit}": {audited}')
        warned = result(policy.warn)
        if warned is not None:
            attrs.warnings.append(f'would violate PodSecurity "{policy.warn}": {warned}')

    def _validate_namespace(self, attrs: Attributes) -> None:
        md = attrs.obj.get("metadata") or {}
        policy, errs = policy_of(md.get("labels"), self.config.defaults)
        old_policy = Policy()
        old_errs: list[tuple[str, str, str]] = []
        if attrs.operation == UPDATE and attrs.old is not None:
            old_policy, old_errs = policy_of((attrs.old.get("metadata") or {}).get("labels"), self.config.defaults)
        if errs and (attrs.operation == CREATE or errs != old_errs):
            raise errors.Invalid.of("Namespace", "", md.get("name") or "",
                                    [validation.invalid(f, v, why) for f, v, why in errs])
        if attrs.operation != UPDATE:
            return
        new, old = policy.enforce, old_policy.enforce
        if new == old or new.level == checks.PRIVILEGED:
            return
        if new.version == old.version and not new.stricter_than(old):
            return
        name = md.get("name") or ""
        if name in self.config.exempt_namespaces:
            return
        attrs.warnings.extend(self._pods_violating(name, new))

    def _pods_violating(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """Kubernetes' EvaluatePodsInNamespace: one warning per distinct set of reasons, naming
        the lexically first pod and how many others share it, sorted."""
        pods, _ = self.cache.snapshot(rs.PODS.plural, f"/registry/pods/{namespace}/")
        total = len(pods)
        pods = pods[:MAX_PODS_TO_CHECK]
        seen: dict[str, tuple[str, int]] = {}
        for pod in pods:
            spec = pod.get("spec") or {}
            if self._exempt_runtime_class(spec):
                continue
            why = _reasons(enforce, pod.get("metadata") or {}, spec)
            if why is None:
                continue
            name = (pod.get("metadata") or {}).get("name") or ""
            first, count = seen.get(why, (name, 0))
            seen[why] = (min(first, name), count + 1)
        out = []
        if len(pods) < total:
            out.append(f"new PodSecurity enforce level only checked against the first {len(pods)} of {total} "
                       "existing pods")
        if seen:
            out.append(f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level '
                       f'"{enforce}"')
        per_pod = []
        for why, (first, count) in seen.items():
            if count == 1:
                per_pod.append(f"{first}: {why}")
            elif count == 2:
                per_pod.append(f"{first} (and 1 other pod): {why}")
            else:
                per_pod.append(f"{first} (and {count - 1} other pods): {why}")
        return out + sorted(per_pod)
