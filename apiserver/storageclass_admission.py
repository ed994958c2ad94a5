"""The DefaultStorageClass admission step: a claim created without ``storageClassName`` gets
the cluster's default StorageClass, as Kubernetes' ``DefaultStorageClass`` admission plugin.

The default is the class annotated ``storageclass.kubernetes.io/is-default-class: "true"``;
when several are, the most recently created wins (then the name), as Kubernetes does since
1.28. With no default class the claim keeps no class. An explicit ``""`` means "no class" and
is left alone, as is a claim naming its class with the legacy
``volume.beta.kubernetes.io/storage-class`` annotation. It runs as the claim registry's write hook (``RestStorage``'s ``WriteHooks``),
on creates only, reading classes from the watch cache.
"""

from __future__ import annotations

from typing import Any

from apiserver.validation import FieldError
from apiserver.watchcache import WatchCache
from minik8s.api.resources import STORAGECLASSES
from minik8s.api.wellknown import storage as storage_api

# A claim naming its class with the legacy annotation has one already.
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def default_class(classes: list[dict[str, Any]]) -> str | None:
    """The name of the default class among ``classes``, None when none is marked default."""
    defaults = [c for c in classes if storage_api.is_default_class(c)]
    if not defaults:
        return None
    newest = max(defaults, key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"]))
    name: str = newest["metadata"]["name"]
    return name


class DefaultStorageClass:
    """Write hooks of persistentvolumeclaims: fill the default class on create."""

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        spec = new.get("spec") or {}
        annotations = (new.get("metadata") or {}).get("annotations") or {}
        if old is None and spec.get("storageClassName") is None and _BETA_CLASS_ANNOTATION not in annotations:
            classes, _ = self.cache.snapshot(STORAGECLASSES.plural, f"/registry/{STORAGECLASSES.plural}/")
            name = default_class(classes)
            if name is not None:
                spec["storageClassName"] = name
                new["spec"] = spec
        return []

    def after_write(self, new: dict[str, Any] | None, old: dict[str, Any] | None, *, ok: bool) -> None:
        pass
