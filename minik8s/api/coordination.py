"""coordination.k8s.io/v1 Lease: node heartbeats and leader election.

Fields follow ``k8s.io/api/coordination/v1/types.go``; Kubernetes defaults none of them.
``acquireTime`` and ``renewTime`` are MicroTime strings (``2026-11-23T15:38:36.123456Z``).
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta


class LeaseSpec(K8sModel):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(K8sModel):
    api_version: str = "coordination.k8s.io/v1"
    kind: str = "Lease"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LeaseSpec = Field(default_factory=LeaseSpec)


class LeaseList(K8sModel):
    api_version: str = "coordination.k8s.io/v1"
    kind: str = "LeaseList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Lease] = []
