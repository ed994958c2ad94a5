"""Printed columns of PersistentVolume, PersistentVolumeClaim and StorageClass, as Kubernetes'
``pkg/printers/internalversion/printers.go`` prints them (``kubectl get pv,pvc,sc``).

* pv: NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS
  VOLUMEATTRIBUTESCLASS REASON AGE (+ VOLUMEMODE with ``-o wide``); STATUS is ``Terminating``
  once the volume is being deleted.
* pvc: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE
  (+ VOLUMEMODE); capacity and access modes come from the status, and only once bound.
* sc: NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE; the default
  class's name reads ``NAME (default)``.
"""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer
from minik8s.api.wellknown import storage as storage_api
from minik8s.api.wellknown import volumes as vol_api
from minik8s.duration import since

_NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
_AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
              "this object was created.")
# The legacy annotation still wins over spec.storageClassName (helper.GetPersistentVolumeClass).
_BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
_MODE_ABBREVIATIONS = ((vol_api.READ_WRITE_ONCE, "RWO"), (vol_api.READ_ONLY_MANY, "ROX"),
                       (vol_api.READ_WRITE_MANY, "RWX"), (vol_api.READ_WRITE_ONCE_POD, "RWOP"))


def access_modes_string(modes: list[str] | None) -> str:
    """``RWO,ROX``: each mode once, always in Kubernetes' order (``GetAccessModesAsString``)."""
    present = set(modes or ())
    return ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in present)


def storage_class_of(obj: dict[str, Any]) -> str:
    """The class of a volume or claim: the beta annotation, else ``spec.storageClassName``."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if _BETA_CLASS_ANNOTATION in ann:
        beta: str = ann[_BETA_CLASS_ANNOTATION]
        return beta
    return (obj.get("spec") or {}).get("storageClassName") or ""


def _phase(obj: dict[str, Any]) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return (obj.get("status") or {}).get("phase") or ""


def _pv_row(pv: dict[str, Any], now: float) -> list[Any]:
    md, spec, status = pv.get("metadata") or {}, pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace') or ''}/{ref.get('name') or ''}" if ref else ""
    return [md.get("name", ""), (spec.get("capacity") or {}).get("storage") or "0",
            access_modes_string(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy") or "",
            _phase(pv), claim, storage_class_of(pv), spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason") or "", since(md.get("creationTimestamp"), now),
            spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME = Printer(
    (_NAME,
     Column("Capacity", description="capacity is the description of the persistent volume's resources "
            "and capacity."),
     Column("Access Modes", description="accessModes contains all ways the volume can be mounted."),
     Column("Reclaim Policy", description="persistentVolumeReclaimPolicy defines what happens to a "
            "persistent volume when released from its claim."),
     Column("Status", description="phase indicates if a volume is available, bound to a claim, or "
            "released by a claim."),
     Column("Claim", description="claimRef is part of a bi-directional binding between "
            "PersistentVolume and PersistentVolumeClaim."),
     Column("StorageClass", description="StorageClass of the pv"),
     Column("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
     Column("Reason", description="reason is a brief CamelCase string that describes any failure and "
            "is meant for machine parsing and tidy display in the CLI."),
     _AGE,
     Column("VolumeMode", priority=1, description="volumeMode defines if a volume is intended to be "
            "used with a formatted filesystem or to remain in raw block state.")),
    _pv_row,
)


def _pvc_row(pvc: dict[str, Any], now: float) -> list[Any]:
    md, spec, status = pvc.get("metadata") or {}, pvc.get("spec") or {}, pvc.get("status") or {}
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes_string(status.get("accessModes"))
        capacity = (status.get("capacity") or {}).get("storage") or "0"
    return [md.get("name", ""), _phase(pvc), spec.get("volumeName") or "", capacity, modes,
            storage_class_of(pvc), spec.get("volumeAttributesClassName") or "<unset>",
            since(md.get("creationTimestamp"), now), spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME_CLAIM = Printer(
    (_NAME,
     Column("Status", description="phase represents the current phase of PersistentVolumeClaim."),
     Column("Volume", description="volumeName is the binding reference to the PersistentVolume "
            "backing this claim."),
     Column("Capacity", description="capacity represents the actual resources of the underlying volume."),
     Column("Access Modes", description="accessModes contains the actual access modes the volume "
            "backing the PVC has."),
     Column("StorageClass", description="StorageClass of the pvc"),
     Column("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"),
     _AGE,
     Column("VolumeMode", priority=1, description="volumeMode defines what type of volume is required "
            "by the claim.")),
    _pvc_row,
)


def _storage_class_row(sc: dict[str, Any], now: float) -> list[Any]:
    md = sc.get("metadata") or {}
    name = md.get("name", "")
    if storage_api.is_default_class(sc):
        name += " (default)"
    return [name, sc.get("provisioner") or "", sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion")),
            since(md.get("creationTimestamp"), now)]


STORAGE_CLASS = Printer(
    (_NAME,
     Column("Provisioner", description="provisioner indicates the type of the provisioner."),
     Column("ReclaimPolicy", description="reclaimPolicy controls the reclaimPolicy for dynamically "
            "provisioned PersistentVolumes of this storage class."),
     Column("VolumeBindingMode", description="volumeBindingMode indicates how PersistentVolumeClaims "
            "should be provisioned and bound."),
     Column("AllowVolumeExpansion", description="allowVolumeExpansion shows whether the storage class "
            "allow volume expand."),
     _AGE),
    _storage_class_row,
)
