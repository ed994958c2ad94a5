"""From a pod spec's container to the runtime's ``ContainerConfig``: the kubelet's translation.

Environment (``env`` in order with ``$(VAR)`` expansion, ``envFrom``, and ``valueFrom``:
downward-API ``fieldRef``, ``resourceFieldRef``, ``configMapKeyRef`` / ``secretKeyRef`` read
through the REST client), command/args expansion, resources (limits → CPU quota and memory
limit, requests → CPU shares), the effective security context (container over pod), and a
hash of the container spec put on a label so a changed spec restarts the container.
A reference that cannot be resolved raises :class:`ConfigError` (``CreateContainerConfigError``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from kubelet.objects import ObjectReader
from kubelet.runtime import interface as ri
from minik8s import errors, quantity
from minik8s.api import typed
from minik8s.api.resources import CONFIGMAPS, SECRETS

__all__ = ["ConfigError", "LABEL_HASH", "spec_hash", "build_config", "expand", "pull_policy"]

LABEL_HASH = "io.minik8s.container.hash"

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """Raised when a container's configuration refers to something missing."""


def spec_hash(container: typed.Container) -> str:
    """A stable hash of the container spec (Kubernetes' hash label): changes → restart."""
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:16]


def pull_policy(container: typed.Container) -> ri.PullPolicy:
    policy = container.get("imagePullPolicy")
    if policy:
        return ri.PullPolicy(policy)
    image = container.get("image") or ""
    name = image.partition("@")[0]
    tagged = name.rfind(":") > name.rfind("/")
    # Kubernetes' default: ":latest" or no tag is pulled Always, anything pinned IfNotPresent.
    latest = (not tagged and "@" not in image) or name.endswith(":latest")
    return ri.PullPolicy.ALWAYS if latest else ri.PullPolicy.IF_NOT_PRESENT


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, ``$$`` is ``$``,
    references to undefined names stay as written."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _REF.sub(sub, text)


async def build_config(pod: typed.Pod, container: typed.Container, *, restart_count: int, pod_ip: str | None,
                       host_ip: str, node_allocatable: Mapping[str, int], mounts: list[ri.Mount],
                       client: ObjectReader, service_env: Mapping[str, str] | None = None) -> ri.ContainerConfig:
    env = await _environment(pod, container, pod_ip=pod_ip, host_ip=host_ip,
                             node_allocatable=node_allocatable, client=client, service_env=service_env)
    command = [expand(c, env) for c in container.get("command") or []] or None
    args = [expand(a, env) for a in container.get("args") or []] or None
    spec = pod.get("spec") or {}
    return ri.ContainerConfig(
        name=container["name"], image=container["image"], command=command, args=args, env=env,
        working_dir=container.get("workingDir") or None, mounts=tuple(mounts),
        resources=_resources(container), security=_security(spec, container),
        labels={LABEL_HASH: spec_hash(container)}, restart_count=restart_count,
        share_process_namespace=bool(spec.get("shareProcessNamespace")),
        tty=bool(container.get("tty")), stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
    )


def _resources(container: typed.Container) -> ri.Resources:
    res = container.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    return ri.Resources(
        cpu_limit_millicpu=quantity.parse_cpu_millis(limits["cpu"]) if "cpu" in limits else None,
        cpu_request_millicpu=quantity.parse_cpu_millis(requests["cpu"]) if "cpu" in requests else None,
        memory_limit_bytes=quantity.parse_bytes(limits["memory"]) if "memory" in limits else None,
    )


def _security(spec: typed.PodSpec, container: typed.Container) -> ri.SecurityContext:
    psc = spec.get("securityContext") or {}
    csc = container.get("securityContext") or {}
    caps = csc.get("capabilities") or {}
    groups = list(psc.get("supplementalGroups") or [])
    if psc.get("fsGroup") is not None:
        groups.append(psc["fsGroup"])  # the volumes' group, as Kubernetes adds it

    # The container's setting, else the pod's.
    user = csc.get("runAsUser")
    group = csc.get("runAsGroup")
    return ri.SecurityContext(
        run_as_user=user if user is not None else psc.get("runAsUser"),
        run_as_group=group if group is not None else psc.get("runAsGroup"),
        supplemental_groups=tuple(groups), privileged=bool(csc.get("privileged")),
        read_only_root_filesystem=bool(csc.get("readOnlyRootFilesystem")),
        capabilities_add=tuple(caps.get("add") or ()), capabilities_drop=tuple(caps.get("drop") or ()),
    )


async def _environment(pod: typed.Pod, container: typed.Container, *, pod_ip: str | None, host_ip: str,
                       node_allocatable: Mapping[str, int], client: ObjectReader,
                       service_env: Mapping[str, str] | None = None) -> dict[str, str]:
    ns = pod["metadata"]["namespace"]
    # Service variables (kubelet/servicelinks.py) come first: the lowest precedence, yet
    # visible to $(VAR) expansion, as Kubernetes orders them.
    env: dict[str, str] = dict(service_env or {})
    cache: dict[tuple[str, str], dict[str, str] | None] = {}

    async def fetch(kind: str, name: str, optional: bool) -> dict[str, str] | None:
        key = (kind, name)
        if key not in cache:
            rt = CONFIGMAPS if kind == "configmap" else SECRETS
            try:
                obj = await client.get(rt, name, namespace=ns)
            except errors.NotFound:
                if not optional:
                    raise ConfigError(f'{kind} "{name}" not found') from None
                obj = None
            cache[key] = _decoded(obj, kind) if obj is not None else None
        return cache[key]

    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        for field, kind in _ENV_FROM:
            ref = src.get(field)
            if ref:
                data = await fetch(kind, ref.get("name") or "", bool(ref.get("optional")))
                for k, v in (data or {}).items():
                    env[prefix + k] = v
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var or var.get("valueFrom") is None:
            env[name] = expand(var.get("value") or "", env)
            continue
        vf = var["valueFrom"]
        assert vf is not None  # checked just above
        if vf.get("fieldRef"):
            env[name] = _field_ref(pod, vf["fieldRef"].get("fieldPath", ""), pod_ip=pod_ip, host_ip=host_ip)
        elif vf.get("resourceFieldRef"):
            env[name] = _resource_ref(pod, container, vf["resourceFieldRef"], node_allocatable)
        else:
            for key_field, kind in _KEY_REFS:
                ref = vf.get(key_field)
                if not ref:
                    continue
                optional = bool(ref.get("optional"))
                data = await fetch(kind, ref.get("name") or "", optional)
                key = ref.get("key")
                if data is not None and key in data:
                    env[name] = data[key]
                elif not optional:
                    what = "ConfigMap" if kind == "configmap" else "Secret"
                    raise ConfigError(f"couldn't find key {ref.get('key')} in {what} {ns}/{ref.get('name')}")
    return env


def _decoded(obj: Mapping[str, Any], kind: str) -> dict[str, str]:
    if kind == "configmap":
        out = dict(obj.get("data") or {})
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = base64.b64decode(v).decode(errors="replace")
        return out
    out = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    out.update(obj.get("stringData") or {})
    return out


_ENV_FROM: tuple[tuple[Literal["configMapRef", "secretRef"], str], ...] = (
    ("configMapRef", "configmap"), ("secretRef", "secret"))
_KEY_REFS: tuple[tuple[Literal["configMapKeyRef", "secretKeyRef"], str], ...] = (
    ("configMapKeyRef", "configmap"), ("secretKeyRef", "secret"))

_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['(.+)'\]$")


def _field_ref(pod: typed.Pod, path: str, *, pod_ip: str | None, host_ip: str) -> str:
    md, spec = pod["metadata"], pod.get("spec") or {}
    simple = {
        "metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
        "metadata.uid": md.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "",
        "status.podIP": pod_ip or "", "status.podIPs": pod_ip or "",
        "status.hostIP": host_ip, "status.hostIPs": host_ip,
    }
    if path in simple:
        return simple[path]
    m = _SUBSCRIPT.match(path)
    if m:
        values = (md.get("labels") if m.group(1) == "labels" else md.get("annotations")) or {}
        return values.get(m.group(2), "")
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def _resource_ref(pod: typed.Pod, container: typed.Container, ref: typed.ResourceFieldSelector, node_allocatable: Mapping[str, int]) -> str:
    resource = ref.get("resource", "")
    name = ref.get("containerName")
    if name:
        spec = pod.get("spec") or {}
        found: typed.Container = {}
        container = next((c for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
                          if c["name"] == name), found)
    kind, _, res = resource.partition(".")
    if kind not in ("limits", "requests") or res not in ("cpu", "memory", "ephemeral-storage"):
        raise ConfigError(f"unsupported resourceFieldRef resource {resource!r}")
    resources = container.get("resources") or {}
    values = (resources.get("limits") if kind == "limits" else resources.get("requests")) or {}
    if res in values:
        amount = Decimal(str(quantity.parse_quantity(values[res]).numerator)) / Decimal(
            str(quantity.parse_quantity(values[res]).denominator))
    elif kind == "limits" or res == "cpu":
        # No limit: the node's allocatable stands in, as Kubernetes does (requests.cpu: 0).
        if kind == "requests":
            amount = Decimal(0)
        else:
            alloc = node_allocatable.get(res, 0)
            amount = Decimal(alloc) / 1000 if res == "cpu" else Decimal(alloc)
    else:
        amount = Decimal(0)
    divisor_q = quantity.parse_quantity(ref.get("divisor") or "1")
    divisor = Decimal(divisor_q.numerator) / Decimal(divisor_q.denominator)
    if divisor == 0:
        raise ConfigError("resourceFieldRef divisor must not be 0")
    # Kubernetes rounds up to a whole number of divisors (a limit of 500m cpu reads as "1").
    return str(int((amount / divisor).to_integral_value(rounding=ROUND_CEILING)))
