"""apiextensions.k8s.io/v1 types: CustomResourceDefinition, which adds a resource to the API.

Fields follow ``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go``; defaults
follow its ``defaults.go``: ``conversion.strategy: None``, ``names.singular`` the lower-cased
kind, ``names.listKind`` the kind + ``List``, a column's ``priority`` 0. The OpenAPI v3 schema
(``JSONSchemaProps``) is kept as the JSON the user wrote: it is recursive and open-ended, and
the apiserver checks it (structural schema rules) itself, with Kubernetes' field paths.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta
from minik8s.api.resources import ResourceType

GROUP = "apiextensions.k8s.io"
NAMESPACE_SCOPED = "Namespaced"
CLUSTER_SCOPED = "Cluster"

# status.conditions types
ESTABLISHED = "Established"
NAMES_ACCEPTED = "NamesAccepted"
TERMINATING = "Terminating"
NON_STRUCTURAL = "NonStructuralSchema"

#: the finalizer that keeps a deleted CRD until every object of its resource is gone
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CustomResourceDefinitionNames(K8sModel):
    plural: str = ""
    singular: str | None = None
    short_names: list[str] | None = None
    kind: str = ""
    list_kind: str | None = None
    categories: list[str] | None = None


class CustomResourceValidation(K8sModel):
    open_apiv3_schema: dict[str, Any] | None = Field(default=None, alias="openAPIV3Schema")


class CustomResourceSubresourceScale(K8sModel):
    spec_replicas_path: str = ""
    status_replicas_path: str = ""
    label_selector_path: str | None = None


class CustomResourceSubresources(K8sModel):
    # an empty object enables the status subresource ({} is not None)
    status: dict[str, Any] | None = None
    scale: CustomResourceSubresourceScale | None = None


class CustomResourceColumnDefinition(K8sModel):
    name: str = ""
    type: str = ""
    format: str | None = None
    description: str | None = None
    priority: int | None = None
    json_path: str = Field(default="", alias="jsonPath")


class SelectableField(K8sModel):
    json_path: str = Field(default="", alias="jsonPath")


class CustomResourceDefinitionVersion(K8sModel):
    name: str = ""
    served: bool = False
    storage: bool = False
    deprecated: bool | None = None
    deprecation_warning: str | None = None
    schema_: CustomResourceValidation | None = Field(default=None, alias="schema")
    subresources: CustomResourceSubresources | None = None
    additional_printer_columns: list[CustomResourceColumnDefinition] | None = None
    selectable_fields: list[SelectableField] | None = None


class WebhookClientConfig(K8sModel):
    url: str | None = None
    service: dict[str, Any] | None = None
    ca_bundle: str | None = None


class WebhookConversion(K8sModel):
    client_config: WebhookClientConfig | None = None
    conversion_review_versions: list[str] = []


class CustomResourceConversion(K8sModel):
    strategy: str = "None"
    webhook: WebhookConversion | None = None


class CustomResourceDefinitionSpec(K8sModel):
    group: str = ""
    names: CustomResourceDefinitionNames = Field(default_factory=CustomResourceDefinitionNames)
    scope: str = ""
    versions: list[CustomResourceDefinitionVersion] = []
    conversion: CustomResourceConversion = Field(default_factory=CustomResourceConversion)
    preserve_unknown_fields: bool | None = None

    @model_validator(mode="after")
    def _defaults(self) -> CustomResourceDefinitionSpec:
        # SetDefaults_CustomResourceDefinitionSpec
        n = self.names
        if not n.singular and n.kind:
            n.singular = n.kind.lower()
        if not n.list_kind and n.kind:
            n.list_kind = n.kind + "List"
        for v in self.versions:
            for c in v.additional_printer_columns or ():
                if c.priority is None:
                    c.priority = 0
        return self


class CustomResourceDefinitionCondition(K8sModel):
    type: str = ""
    status: str = ""
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class CustomResourceDefinitionStatus(K8sModel):
    conditions: list[CustomResourceDefinitionCondition] | None = None
    accepted_names: CustomResourceDefinitionNames = Field(default_factory=CustomResourceDefinitionNames)
    stored_versions: list[str] = []


class CustomResourceDefinition(K8sModel):
    api_version: str = "apiextensions.k8s.io/v1"
    kind: str = "CustomResourceDefinition"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CustomResourceDefinitionSpec = Field(default_factory=CustomResourceDefinitionSpec)
    status: CustomResourceDefinitionStatus | None = None


class CustomResourceDefinitionList(K8sModel):
    api_version: str = "apiextensions.k8s.io/v1"
    kind: str = "CustomResourceDefinitionList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[CustomResourceDefinition] = []


def condition(crd: dict[str, Any], type_: str) -> dict[str, Any] | None:
    """The CRD's condition of ``type_`` (JSON), or None."""
    conditions: list[dict[str, Any]] = (crd.get("status") or {}).get("conditions") or []
    for c in conditions:
        if c.get("type") == type_:
            return c
    return None


def is_true(crd: dict[str, Any], type_: str) -> bool:
    c = condition(crd, type_)
    return c is not None and c.get("status") == "True"


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(name: str) -> tuple[int, int, int, str]:
    """A sort key putting versions in Kubernetes' priority order (v1, v1beta2, v1beta1,
    v1alpha1, then others alphabetically): the first served one is a group's preferred."""
    m = _KUBE_VERSION.match(name)
    if m is None:
        return (3, 0, 0, name)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


def served_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource of an established CRD in each served version, preferred first, named by
    its accepted names (what discovery shows); none until the CRD is established."""
    if not is_true(crd, ESTABLISHED):
        return []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    kind = accepted.get("kind") or names.get("kind") or ""
    versions = sorted((v["name"] for v in spec.get("versions") or [] if v.get("served")), key=version_priority)
    return [ResourceType(spec.get("group") or "", v, kind, names.get("plural") or "",
                         spec.get("scope") == NAMESPACE_SCOPED, tuple(accepted.get("shortNames") or ()),
                         tuple(accepted.get("categories") or ()),
                         accepted.get("singular") or names.get("singular") or kind.lower())
            for v in versions]
