"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

Fields follow ``k8s.io/api/rbac/v1/types.go``. Kubernetes' defaulting is reproduced here: a
binding's ``roleRef.apiGroup`` and a User or Group subject's ``apiGroup`` default to
``rbac.authorization.k8s.io`` (a ServiceAccount subject's stays empty).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from minik8s.api.base import K8sModel
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta

GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"


class PolicyRule(K8sModel):
    verbs: list[str] = []
    api_groups: list[str] | None = None
    resources: list[str] | None = None
    resource_names: list[str] | None = None
    non_resource_urls: list[str] | None = Field(default=None, alias="nonResourceURLs")


class AggregationRule(K8sModel):
    cluster_role_selectors: list[LabelSelector] | None = None


class Role(K8sModel):
    api_version: str = API_VERSION
    kind: str = "Role"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    rules: list[PolicyRule] | None = None


class RoleList(K8sModel):
    api_version: str = API_VERSION
    kind: str = "RoleList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Role] = []


class ClusterRole(K8sModel):
    api_version: str = API_VERSION
    kind: str = "ClusterRole"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    rules: list[PolicyRule] | None = None
    aggregation_rule: AggregationRule | None = None


class ClusterRoleList(K8sModel):
    api_version: str = API_VERSION
    kind: str = "ClusterRoleList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ClusterRole] = []


class Subject(K8sModel):
    kind: str = ""
    api_group: str | None = None
    name: str = ""
    namespace: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_api_group(cls, data: Any) -> Any:
        # SetDefaults_Subject: User and Group subjects live in the RBAC group.
        if isinstance(data, dict) and not data.get("apiGroup") and not data.get("api_group") \
                and data.get("kind") in ("User", "Group"):
            data = {**data, "apiGroup": GROUP}
        return data


class RoleRef(K8sModel):
    api_group: str = GROUP
    kind: str = ""
    name: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_api_group(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("apiGroup") and not data.get("api_group"):
            data = {**data, "apiGroup": GROUP}
        return data


class RoleBinding(K8sModel):
    api_version: str = API_VERSION
    kind: str = "RoleBinding"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    subjects: list[Subject] | None = None
    role_ref: RoleRef = Field(default_factory=RoleRef)


class RoleBindingList(K8sModel):
    api_version: str = API_VERSION
    kind: str = "RoleBindingList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[RoleBinding] = []


class ClusterRoleBinding(K8sModel):
    api_version: str = API_VERSION
    kind: str = "ClusterRoleBinding"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    subjects: list[Subject] | None = None
    role_ref: RoleRef = Field(default_factory=RoleRef)


class ClusterRoleBindingList(K8sModel):
    api_version: str = API_VERSION
    kind: str = "ClusterRoleBindingList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ClusterRoleBinding] = []
