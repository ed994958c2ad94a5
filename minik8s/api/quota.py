"""core/v1 ResourceQuota and LimitRange: the per-namespace caps and defaults the apiserver's
admission enforces (``apiserver/admission/``) and the quota controller keeps counted.

Fields follow ``k8s.io/api/core/v1/types.go``. Every ``ResourceList`` value is a quantity,
canonicalized on the way in as Kubernetes stores it (``0.5`` → ``500m``).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from minik8s.api.base import K8sModel
from minik8s.api.core import ResourceList
from minik8s.api.meta import ListMeta, ObjectMeta


class ScopedResourceSelectorRequirement(K8sModel):
    scope_name: str
    operator: str
    values: list[str] | None = None


class ScopeSelector(K8sModel):
    match_expressions: list[ScopedResourceSelectorRequirement] | None = None


class ResourceQuotaSpec(K8sModel):
    hard: ResourceList | None = None
    scopes: list[str] | None = None
    scope_selector: ScopeSelector | None = None


class ResourceQuotaStatus(K8sModel):
    hard: ResourceList | None = None
    used: ResourceList | None = None


class ResourceQuota(K8sModel):
    api_version: str = "v1"
    kind: str = "ResourceQuota"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ResourceQuotaSpec = Field(default_factory=ResourceQuotaSpec)
    status: ResourceQuotaStatus = Field(default_factory=ResourceQuotaStatus)


class ResourceQuotaList(K8sModel):
    api_version: str = "v1"
    kind: str = "ResourceQuotaList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ResourceQuota] = []


class LimitRangeItem(K8sModel):
    type: str
    max: ResourceList | None = None
    min: ResourceList | None = None
    default: ResourceList | None = None
    default_request: ResourceList | None = None
    max_limit_request_ratio: ResourceList | None = None

    @model_validator(mode="after")
    def _defaults(self) -> LimitRangeItem:
        # SetDefaults_LimitRangeItem: for containers, the default limit falls back to max, the
        # default request to the default limit, then to min.
        if self.type == "Container":
            default = dict(self.default or {})
            for k, val in (self.max or {}).items():
                default.setdefault(k, val)
            request = dict(self.default_request or {})
            for k, val in default.items():
                request.setdefault(k, val)
            for k, val in (self.min or {}).items():
                request.setdefault(k, val)
            self.default, self.default_request = default or None, request or None
        return self


class LimitRangeSpec(K8sModel):
    limits: list[LimitRangeItem] = []


class LimitRange(K8sModel):
    api_version: str = "v1"
    kind: str = "LimitRange"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LimitRangeSpec = Field(default_factory=LimitRangeSpec)


class LimitRangeList(K8sModel):
    api_version: str = "v1"
    kind: str = "LimitRangeList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[LimitRange] = []
