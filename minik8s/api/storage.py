"""storage.k8s.io/v1 StorageClass: how volumes of a class are provisioned and reclaimed.

Fields follow ``k8s.io/api/storage/v1/types.go``; defaults follow
``pkg/apis/storage/v1/defaults.go``: ``reclaimPolicy: Delete`` and
``volumeBindingMode: Immediate``. A class is the default one when it carries the annotation
``storageclass.kubernetes.io/is-default-class: "true"``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta

ANN_IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_IS_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"

BINDING_IMMEDIATE = "Immediate"
BINDING_WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"


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


def is_default_class(sc: dict[str, Any]) -> bool:
    """Whether a StorageClass (JSON) is marked default (``storageutil.IsDefaultAnnotation``)."""
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return ann.get(ANN_IS_DEFAULT_CLASS) == "true" or ann.get(ANN_BETA_IS_DEFAULT_CLASS) == "true"
