"""authorization.k8s.io/v1: SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectAccessReview and SelfSubjectRulesReview — questions to the authorizer, answered in
``status`` and never stored (``k8s.io/api/authorization/v1/types.go``)."""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ObjectMeta

GROUP = "authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"


class ResourceAttributes(K8sModel):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None


class NonResourceAttributes(K8sModel):
    path: str | None = None
    verb: str | None = None


class SubjectAccessReviewSpec(K8sModel):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None
    user: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None
    uid: str | None = None


class SelfSubjectAccessReviewSpec(K8sModel):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None


class SubjectAccessReviewStatus(K8sModel):
    allowed: bool = False
    denied: bool | None = None
    reason: str | None = None
    evaluation_error: str | None = None


class SubjectAccessReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "SubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SubjectAccessReviewSpec = Field(default_factory=SubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class LocalSubjectAccessReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "LocalSubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SubjectAccessReviewSpec = Field(default_factory=SubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class SelfSubjectAccessReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "SelfSubjectAccessReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SelfSubjectAccessReviewSpec = Field(default_factory=SelfSubjectAccessReviewSpec)
    status: SubjectAccessReviewStatus | None = None


class ResourceRule(K8sModel):
    verbs: list[str] = []
    api_groups: list[str] | None = None
    resources: list[str] | None = None
    resource_names: list[str] | None = None


class NonResourceRule(K8sModel):
    verbs: list[str] = []
    non_resource_urls: list[str] | None = Field(default=None, alias="nonResourceURLs")


class SubjectRulesReviewStatus(K8sModel):
    resource_rules: list[ResourceRule] = []
    non_resource_rules: list[NonResourceRule] = []
    incomplete: bool = False
    evaluation_error: str | None = None


class SelfSubjectRulesReviewSpec(K8sModel):
    namespace: str | None = None


class SelfSubjectRulesReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "SelfSubjectRulesReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SelfSubjectRulesReviewSpec = Field(default_factory=SelfSubjectRulesReviewSpec)
    status: SubjectRulesReviewStatus | None = None
