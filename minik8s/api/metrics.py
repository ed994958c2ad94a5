"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: the resource metrics ``kubectl top`` and
the HorizontalPodAutoscaler read, as metrics-server serves them.

Fields follow ``k8s.io/metrics/pkg/apis/metrics/v1beta1/types.go``: ``timestamp`` is when the
figures were read (the later of the two kubelet readings a rate is taken between), ``window``
the span between those readings (a Duration string, ``15.2s``), ``usage`` a ResourceList of
``cpu`` (cores, from the rate of cumulative CPU time) and ``memory`` (the working set).
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.core import Quantity
from minik8s.api.meta import ListMeta, ObjectMeta

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"


class NodeMetrics(K8sModel):
    api_version: str = "metrics.k8s.io/v1beta1"
    kind: str = "NodeMetrics"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    timestamp: str | None = None
    window: str | None = None
    usage: dict[str, Quantity] = {}


class NodeMetricsList(K8sModel):
    api_version: str = "metrics.k8s.io/v1beta1"
    kind: str = "NodeMetricsList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[NodeMetrics] = []


class ContainerMetrics(K8sModel):
    name: str
    usage: dict[str, Quantity] = {}


class PodMetrics(K8sModel):
    api_version: str = "metrics.k8s.io/v1beta1"
    kind: str = "PodMetrics"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    timestamp: str | None = None
    window: str | None = None
    containers: list[ContainerMetrics] = []


class PodMetricsList(K8sModel):
    api_version: str = "metrics.k8s.io/v1beta1"
    kind: str = "PodMetricsList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[PodMetrics] = []
