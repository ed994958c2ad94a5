"""core/v1 PersistentVolume and PersistentVolumeClaim.

Field names and JSON names follow ``k8s.io/api/core/v1/types.go``; defaults follow
``pkg/apis/core/v1/defaults.go``: a volume's reclaim policy is ``Retain`` and its mode
``Filesystem``, a claim's mode is ``Filesystem``, and both start ``Pending``. They live apart
from ``core.py`` (same API group and version, same OpenAPI package) so storage can grow here
without touching the pod types.

A PersistentVolume carries its source inline (``spec.hostPath``, ``spec.local``, ...), as
Kubernetes' ``PersistentVolumeSource`` is embedded in the spec. minik8s acts on ``hostPath``
and ``local``; the other sources are kept verbatim.

The names and helpers of these kinds (phases, annotations, condition types...) are in
:mod:`minik8s.api.wellknown.volumes`, which imports no pydantic, so the components can use them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik8s.api.base import K8sModel, merge_key
from minik8s.api.core import (
    HostPathVolumeSource,
    NodeSelector,
    ObjectReference,
    ResourceList,
)
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta
from minik8s.api.wellknown.volumes import RECLAIM_RETAIN

Dict = dict[str, Any]



class LocalVolumeSource(K8sModel):
    path: str
    fs_type: str | None = None


class VolumeNodeAffinity(K8sModel):
    required: NodeSelector | None = None


class PersistentVolumeSpec(K8sModel):
    capacity: ResourceList | None = None
    access_modes: list[str] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str = RECLAIM_RETAIN
    storage_class_name: str | None = None
    mount_options: list[str] | None = None
    volume_mode: str = "Filesystem"
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None
    # PersistentVolumeSource, inline: the two minik8s mounts, then the ones it keeps verbatim.
    host_path: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    gce_persistent_disk: Dict | None = None
    aws_elastic_block_store: Dict | None = None
    glusterfs: Dict | None = None
    nfs: Dict | None = None
    rbd: Dict | None = None
    iscsi: Dict | None = None
    cinder: Dict | None = None
    cephfs: Dict | None = None
    fc: Dict | None = None
    flocker: Dict | None = None
    flex_volume: Dict | None = None
    azure_file: Dict | None = None
    vsphere_volume: Dict | None = None
    quobyte: Dict | None = None
    azure_disk: Dict | None = None
    photon_persistent_disk: Dict | None = None
    portworx_volume: Dict | None = None
    scale_io: Dict | None = Field(default=None, alias="scaleIO")
    storageos: Dict | None = None
    csi: Dict | None = None




class PersistentVolumeStatus(K8sModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: str | None = None


class PersistentVolume(K8sModel):
    api_version: str = "v1"
    kind: str = "PersistentVolume"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PersistentVolumeSpec = Field(default_factory=PersistentVolumeSpec)
    status: PersistentVolumeStatus = Field(default_factory=PersistentVolumeStatus)


class PersistentVolumeList(K8sModel):
    api_version: str = "v1"
    kind: str = "PersistentVolumeList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[PersistentVolume] = []


class VolumeResourceRequirements(K8sModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None


class TypedLocalObjectReference(K8sModel):
    api_group: str | None = None
    kind: str
    name: str


class TypedObjectReference(K8sModel):
    api_group: str | None = None
    kind: str
    name: str
    namespace: str | None = None


class PersistentVolumeClaimSpec(K8sModel):
    access_modes: list[str] | None = None
    selector: LabelSelector | None = None
    # Go writes resources without omitempty: ``resources: {}`` is always there.
    resources: VolumeResourceRequirements = Field(default_factory=VolumeResourceRequirements)
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str = "Filesystem"
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimCondition(K8sModel):
    type: str
    status: str
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class PersistentVolumeClaimStatus(K8sModel):
    phase: str | None = None
    access_modes: list[str] | None = None
    capacity: ResourceList | None = None
    conditions: list[PersistentVolumeClaimCondition] | None = merge_key("type")
    allocated_resources: ResourceList | None = None
    allocated_resource_statuses: dict[str, str] | None = None
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: Dict | None = None


class PersistentVolumeClaim(K8sModel):
    api_version: str = "v1"
    kind: str = "PersistentVolumeClaim"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PersistentVolumeClaimSpec = Field(default_factory=PersistentVolumeClaimSpec)
    status: PersistentVolumeClaimStatus = Field(default_factory=PersistentVolumeClaimStatus)


class PersistentVolumeClaimList(K8sModel):
    api_version: str = "v1"
    kind: str = "PersistentVolumeClaimList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[PersistentVolumeClaim] = []


__all__ = [
    "LocalVolumeSource", "VolumeNodeAffinity", "PersistentVolumeSpec",
    "PersistentVolumeStatus", "PersistentVolume", "PersistentVolumeList", "VolumeResourceRequirements",
    "TypedObjectReference", "PersistentVolumeClaimSpec", "PersistentVolumeClaimCondition",
    "PersistentVolumeClaimStatus", "PersistentVolumeClaim", "PersistentVolumeClaimList",
]
