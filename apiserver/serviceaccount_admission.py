"""The ServiceAccount admission plugin (Kubernetes' ``plugin/pkg/admission/serviceaccount``),
on pod creation:

1. a pod naming no account gets ``serviceAccountName: default``;
2. the account must exist, else the pod is refused (403): ``pods "x" is forbidden: error
   looking up service account ns/name: serviceaccount "name" not found``. An account missing
   from the watch cache is looked up in the store (ten times, 100-200 ms apart, for
   ``default``, which the serviceaccount controller is about to create);
3. unless the pod (first) or the account says ``automountServiceAccountToken: false``, the
   projected volume ``kube-api-access-<5 random>`` (a 3607-second ``serviceAccountToken`` at
   ``token``, ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap, the ``namespace`` from the
   downward API; ``defaultMode`` 0644) is added and mounted read-only at
   ``/var/run/secrets/kubernetes.io/serviceaccount`` in every init and app container that has
   nothing mounted there;
4. a pod with no ``imagePullSecrets`` gets the account's;
5. with the account's ``kubernetes.io/enforce-mountable-secrets: "true"`` annotation, the pod
   may use only the Secrets the account lists.

Mirror pods (``kubernetes.io/config.mirror``) are left alone but may reference no account,
Secret or token projection. ``--enable-admission-plugins`` / ``--disable-admission-plugins``
turn it on and off (``apiserver/admission_options.py`` says which is the default).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from apiserver import errors
from apiserver.uids import name_suffix
from apiserver.watchcache import WatchCache
from minik8s.api.resources import PODS, SERVICEACCOUNTS
from minik8s.api.wellknown import serviceaccounts as sa_api

PLUGIN_NAME = "ServiceAccount"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
# generateName's alphabet (no vowels, no look-alikes), as Kubernetes' SimpleNameGenerator
_GO_TRUE = ("1", "t", "T", "true", "TRUE", "True")


def token_volume_source() -> dict[str, Any]:
    """The projected source of the token volume, as Kubernetes' ``TokenVolumeSource()``."""
    return {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": sa_api.WARN_ONLY_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": sa_api.ROOT_CA_CONFIGMAP, "items": [{"key": sa_api.ROOT_CA_KEY, "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}


def should_automount(sa: dict[str, Any], spec: dict[str, Any]) -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def mount_token(spec: dict[str, Any]) -> None:
    """Add the token volume and its mounts to ``spec`` (``mountServiceAccountToken``)."""
    volumes = spec.get("volumes") or []
    existing = next((v["name"] for v in volumes if v["name"].startswith(sa_api.TOKEN_VOLUME_PREFIX)), None)
    name = existing or sa_api.TOKEN_VOLUME_PREFIX + name_suffix()
    needed = False
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == sa_api.TOKEN_MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": sa_api.TOKEN_MOUNT_PATH}]
            needed = True
    if existing is None and needed:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


def _secret_names(spec: dict[str, Any]) -> list[str]:
    names = [v["secret"].get("secretName") or "" for v in spec.get("volumes") or [] if v.get("secret")]
    for v in spec.get("volumes") or []:
        for src in (v.get("projected") or {}).get("sources") or []:
            if src.get("secret"):
                names.append(src["secret"].get("name") or "")
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    names.append(ref.get("name") or "")
            for src in c.get("envFrom") or []:
                if src.get("secretRef"):
                    names.append(src["secretRef"].get("name") or "")
    names += [r.get("name") or "" for r in spec.get("imagePullSecrets") or []]
    return names


def _limit_secret_references(sa: dict[str, Any], spec: dict[str, Any]) -> str | None:
    mountable = {s.get("name") for s in sa.get("secrets") or []}
    for v in spec.get("volumes") or []:
        name = (v.get("secret") or {}).get("secretName")
        if v.get("secret") and name not in mountable:
            return (f'volume with secret.secretName="{name}" is not allowed because service account '
                    f'{sa["metadata"]["name"]} does not reference that secret')
    for field, what in (("initContainers", "init container"), ("containers", "container")):
        for c in spec.get(field) or []:
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref.get("name") not in mountable:
                    return (f'{what} {c["name"]} with envVar {env["name"]} referencing secret.secretName='
                            f'"{ref.get("name")}" is not allowed because service account {sa["metadata"]["name"]} '
                            "does not reference that secret")
    pull = {s.get("name") for s in sa.get("imagePullSecrets") or []}
    for i, ref in enumerate(spec.get("imagePullSecrets") or []):
        if ref.get("name") not in pull:
            return (f'imagePullSecrets[{i}].name="{ref.get("name")}" is not allowed because service account '
                    f'{sa["metadata"]["name"]} does not reference that imagePullSecret')
    return None


class ServiceAccountAdmission:
    """Admits pod creates (an ``Admission`` of ``RestStorage``)."""

    def __init__(self, cache: WatchCache, *, retry_interval: float | None = None) -> None:
        self.cache = cache
        self.retry_interval = retry_interval  # for tests; Kubernetes': 100-200 ms

    def _forbidden(self, pod: dict[str, Any], why: str) -> errors.Forbidden:
        name = pod["metadata"].get("name") or ""
        return errors.Forbidden(f'{PODS.plural} "{name}" is forbidden: {why}',
                                details={"name": name, "kind": PODS.plural})

    async def _service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        key = f"/registry/{SERVICEACCOUNTS.plural}/{namespace}/{name}"
        found = self.cache.resource(SERVICEACCOUNTS.plural).objects.get(key)
        if found is not None:
            return found
        attempts = 10 if name == sa_api.DEFAULT_NAME else 1
        interval = self.retry_interval if self.retry_interval is not None else random.uniform(0.1, 0.2)
        for i in range(attempts):
            if i:
                await asyncio.sleep(interval)
            found = await self.cache.read(key)
            if found is not None:
                return found
        return None

    async def admit_create(self, pod: dict[str, Any], namespace: str) -> None:
        md, spec = pod["metadata"], pod.setdefault("spec", {})
        if MIRROR_ANNOTATION in (md.get("annotations") or {}):
            self._validate_mirror(pod)
            return
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or sa_api.DEFAULT_NAME
        name = spec["serviceAccountName"]
        spec["serviceAccount"] = name  # the deprecated field mirrors it, as v1 pods read back
        sa = await self._service_account(namespace, name)
        if sa is None:
            raise self._forbidden(pod, f'error looking up service account {namespace}/{name}: '
                                       f'serviceaccount "{name}" not found')
        if should_automount(sa, spec):
            mount_token(spec)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": r.get("name")} for r in sa["imagePullSecrets"]]
        if (sa["metadata"].get("annotations") or {}).get(ENFORCE_MOUNTABLE_SECRETS) in _GO_TRUE:
            why = _limit_secret_references(sa, spec)
            if why:
                raise self._forbidden(pod, why)

    def _validate_mirror(self, pod: dict[str, Any]) -> None:
        spec = pod.get("spec") or {}
        if spec.get("serviceAccountName"):
            raise self._forbidden(pod, "a mirror pod may not reference service accounts")
        if _secret_names(spec):
            raise self._forbidden(pod, "a mirror pod may not reference secrets")
        for v in spec.get("volumes") or []:
            if any(s.get("serviceAccountToken") for s in (v.get("projected") or {}).get("sources") or []):
                raise self._forbidden(pod, "a mirror pod may not use ServiceAccountToken volume projections")
