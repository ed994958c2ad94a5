"""storage.k8s.io/v1 StorageClass: how volumes of a class are provisioned and reclaimed.

Fields follow ``k8s.io/api/storage/v1/types.go``; defaults follow
``pkg/apis/storage/v1/defaults.go``: ``reclaimPolicy: Delete`` and
``volumeBindingMode: Immediate``. A class is the default one when it carries the annotation
``storageclass.kubernetes.io/is-default-class: "true"``.

The names and helpers of these kinds (phases, annotations, condition types...) are in
:mod:`minik8s.api.wellknown.storage`, which imports no pydantic, so the components can use them.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta
from minik8s.api.wellknown.storage import BINDING_IMMEDIATE


class TopologySelectorLabelRequirement(K8sModel):
    key: str
    values: list[str]


class TopologySelectorTerm(K8sModel):
    match_label_expressions: list[TopologySelectorLabelRequirement] | None = None


class StorageClass(K8sModel):
    api_version: str = "storage.k8s.io/v1"
    kind: str = "StorageClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    provisioner: str = ""  # required; written even when empty, as Go has no omitempty here
    parameters: dict[str, str] | None = None
    reclaim_policy: str = "Delete"
    mount_options: list[str] | None = None
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str = BINDING_IMMEDIATE
    allowed_topologies: list[TopologySelectorTerm] | None = None


class StorageClassList(K8sModel):
    api_version: str = "storage.k8s.io/v1"
    kind: str = "StorageClassList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[StorageClass] = []
