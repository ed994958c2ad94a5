"""PersistentVolume, PersistentVolumeClaim and StorageClass API behaviour (as
``pkg/registry/core/persistentvolume``, ``.../persistentvolumeclaim`` and
``pkg/registry/storage/storageclass``).

* A new volume starts ``Pending`` with its phase transition time; a ``/status`` write that
  changes the phase stamps the time again.
* A new claim starts ``Pending``.
* Both get their protection finalizer on create (``kubernetes.io/pv-protection``,
  ``kubernetes.io/pvc-protection``), as Kubernetes' StorageObjectInUseProtection admission
  adds them: a claim in use by a pod, or a volume bound to a claim, stays until released
  (the protection controllers remove the finalizers).
* Neither counts ``generation``; a StorageClass has no status.

The rules themselves are in :mod:`apiserver.registry.storage_validation`.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import storage_validation as sv
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s.api.wellknown import volumes as vol_api
from minik8s.timestamps import now_rfc3339


def _add_finalizer(obj: dict[str, Any], finalizer: str) -> None:
    finalizers = obj["metadata"].setdefault("finalizers", [])
    if finalizer not in finalizers:
        finalizers.append(finalizer)


class PersistentVolumeStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": vol_api.VOLUME_PENDING, "lastPhaseTransitionTime": now_rfc3339()}
        _add_finalizer(obj, vol_api.PV_PROTECTION_FINALIZER)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return super().validate(obj) + sv.validate_persistent_volume(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return super().validate_update(new, old) + sv.validate_persistent_volume_update(new, old)

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        status, old_status = new.get("status") or {}, old.get("status") or {}
        if status.get("phase") != old_status.get("phase"):
            status["lastPhaseTransitionTime"] = now_rfc3339()
        new["status"] = status


class PersistentVolumeClaimStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": vol_api.CLAIM_PENDING}
        _add_finalizer(obj, vol_api.PVC_PROTECTION_FINALIZER)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return super().validate(obj) + sv.validate_persistent_volume_claim(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return super().validate_update(new, old) + sv.validate_persistent_volume_claim_update(new, old)


class StorageClassStrategy(Strategy):
    status_field = None
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return super().validate(obj) + sv.validate_storage_class(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return super().validate_update(new, old) + sv.validate_storage_class_update(new, old)
