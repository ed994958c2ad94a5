"""apiregistration.k8s.io/v1 APIService: one per served group version, as Kubernetes'
aggregation layer keeps them (``kubectl get apiservices``).

Fields follow ``k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/types.go``. A group
version this apiserver serves itself has no ``spec.service`` ("Local"); its ``Available``
condition says whether it is served.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta

GROUP = "apiregistration.k8s.io"


class ServiceReference(K8sModel):
    namespace: str | None = None
    name: str | None = None
    port: int | None = None


class APIServiceSpec(K8sModel):
    service: ServiceReference | None = None
    group: str | None = None
    version: str | None = None
    insecure_skip_tls_verify: bool | None = Field(default=None, alias="insecureSkipTLSVerify")
    ca_bundle: str | None = None
    group_priority_minimum: int = 0
    version_priority: int = 0


class APIServiceCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class APIServiceStatus(K8sModel):
    conditions: list[APIServiceCondition] | None = None


class APIService(K8sModel):
    api_version: str = "apiregistration.k8s.io/v1"
    kind: str = "APIService"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: APIServiceSpec = Field(default_factory=APIServiceSpec)
    status: APIServiceStatus = Field(default_factory=APIServiceStatus)


class APIServiceList(K8sModel):
    api_version: str = "apiregistration.k8s.io/v1"
    kind: str = "APIServiceList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[APIService] = []
