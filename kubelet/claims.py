"""PersistentVolumeClaim-backed pod volumes: from a pod's claim to a directory on this node.

As Kubernetes' kubelet (``desired_state_of_world_populator.getPVCExtractPV`` / ``getPVSpec``):
the claim must exist, not be being deleted, and be Bound with a ``volumeName``; the volume
must name the claim in its ``claimRef``. Anything else is a :class:`UnboundClaimError`, whose
``event_message`` is Kubernetes' FailedMount text (``Unable to attach or mount volumes: ...``),
and the pod's containers are not started until it resolves. A bound volume's ``hostPath`` is
checked and, for ``DirectoryOrCreate`` (the provisioner's), made here, by the node that runs
the pod; a ``local`` volume's path must exist already. Reads go to the apiserver, once per
pod start (and per retry while unbound).
"""

from __future__ import annotations

import asyncio
import os

from kubelet.objects import ObjectReader
from kubelet.volume_host import HostVolume, VolumeError, check_host_path
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES
from minik8s.api.wellknown.volumes import PV_SOURCES

__all__ = ["UnboundClaimError", "claim_volume"]


class UnboundClaimError(VolumeError):
    """Raised when a pod's claim cannot be used yet (missing, being deleted, unbound)."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.event_message = (f"Unable to attach or mount volumes: unmounted volumes=[{volume}], "
                              f"unattached volumes=[{volume}], failed to process volumes=[{volume}]: {message}")


async def claim_volume(client: ObjectReader, namespace: str, volume: str,
                       source: typed.PersistentVolumeClaimVolumeSource) -> HostVolume:
    """The host directory behind the pod volume ``volume`` (a ``persistentVolumeClaim``)."""
    claim = source.get("claimName") or ""
    prefix = f"error processing PVC {namespace}/{claim}: "
    try:
        pvc = typed.persistent_volume_claim(await client.get(PERSISTENTVOLUMECLAIMS, claim, namespace=namespace))
    except errors.NotFound as e:
        raise UnboundClaimError(volume, f"{prefix}failed to fetch PVC from API server: {e}") from None
    if pvc["metadata"].get("deletionTimestamp"):
        raise UnboundClaimError(volume, f"{prefix}can't start pod because PVC {namespace}/{claim} is being deleted")
    phase = (pvc.get("status") or {}).get("phase") or ""
    pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
    if phase != "Bound" or not pv_name:
        raise UnboundClaimError(volume, f'{prefix}PVC {namespace}/{claim} has non-bound phase ("{phase}") or empty '
                                        f'pvc.Spec.VolumeName ("{pv_name}")')
    try:
        pv_obj = await client.get(PERSISTENTVOLUMES, pv_name)
    except errors.NotFound as e:
        raise UnboundClaimError(volume, f"{prefix}failed to fetch PV {pv_name} from API server: {e}") from None
    pv = typed.persistent_volume(pv_obj)
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        raise UnboundClaimError(volume, f'{prefix}found PV object "{pv_name}" but it has a nil pv.Spec.ClaimRef '
                                        "indicating it is not yet bound to the claim")
    if ref.get("uid") != pvc["metadata"].get("uid"):
        raise UnboundClaimError(volume, f'{prefix}found PV object "{pv_name}" but its pv.Spec.ClaimRef.UID '
                                        f'("{ref.get("uid")}") does not point to claim.UID ("{pvc["metadata"].get("uid")}")')
    read_only = bool(source.get("readOnly"))
    spec = pv["spec"]
    if spec.get("hostPath"):
        hp = spec["hostPath"]
        await asyncio.to_thread(check_host_path, hp.get("path") or "", hp.get("type") or "")
        return HostVolume(hp["path"], read_only=read_only)
    if spec.get("local"):
        path = spec["local"].get("path") or ""
        if not await asyncio.to_thread(os.path.exists, path):
            raise VolumeError(f'path "{path}" does not exist')
        return HostVolume(path, read_only=read_only)
    # Any other source, by its JSON name (the view names only the two this kubelet mounts).
    kind = next((src for src in PV_SOURCES if pv_obj["spec"].get(src) is not None), "unknown")
    raise VolumeError(f'volume "{pv_name}": the {kind} volume source is not supported by this kubelet')
