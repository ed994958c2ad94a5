"""apiextensions.k8s.io/v1 types: CustomResourceDefinition, which adds a resource to the API.

Fields follow ``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types.go``; defaults
follow its ``defaults.go``: ``conversion.strategy: None``, ``names.singular`` the lower-cased
kind, ``names.listKind`` the kind + ``List``, a column's ``priority`` 0. The OpenAPI v3 schema
(``JSONSchemaProps``) is kept as the JSON the user wrote: it is recursive and open-ended, and
the apiserver checks it (structural schema rules) itself, with Kubernetes' field paths.

The names and helpers of these kinds (phases, annotations, condition types...) are in
:mod:`minik8s.api.wellknown.apiextensions`, which imports no pydantic, so the components can use them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta


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
