"""meta/v1 types shared by every resource: ObjectMeta, ListMeta, OwnerReference, Status,
LabelSelector, Condition."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik8s.api.base import K8sModel, merge_key, set_strategy


class OwnerReference(K8sModel):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ManagedFieldsEntry(K8sModel):
    manager: str | None = None
    operation: str | None = None
    api_version: str | None = None
    time: str | None = None
    fields_type: str | None = None
    fields_v1: dict[str, Any] | None = None
    subresource: str | None = None


class ObjectMeta(K8sModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = merge_key("uid")
    finalizers: list[str] | None = set_strategy("merge")
    managed_fields: list[ManagedFieldsEntry] | None = None


class ListMeta(K8sModel):
    resource_version: str | None = None
    self_link: str | None = None
    continue_: str | None = Field(default=None, alias="continue")
    remaining_item_count: int | None = None
    shard_info: dict[str, Any] | None = None


class LabelSelectorRequirement(K8sModel):
    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(K8sModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class Condition(K8sModel):
    """meta/v1 Condition (also the shape of most per-kind conditions)."""

    type: str
    status: str
    observed_generation: int | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class StatusCause(K8sModel):
    reason: str | None = None
    message: str | None = None
    field: str | None = None


class StatusDetails(K8sModel):
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    uid: str | None = None
    causes: list[StatusCause] | None = None
    retry_after_seconds: int | None = None


class Status(K8sModel):
    api_version: str = "v1"
    kind: str = "Status"
    metadata: dict[str, Any] = {}
    status: str | None = None
    message: str | None = None
    reason: str | None = None
    details: StatusDetails | None = None
    code: int | None = None


class DeleteOptions(K8sModel):
    api_version: str | None = None
    kind: str | None = None
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None
    preconditions: dict[str, Any] | None = None
    dry_run: list[str] | None = None
