"""discovery.k8s.io/v1 types: EndpointSlice, the scalable successor of Endpoints that the
endpoint-slice controller writes and kube-proxy reads."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.core import ObjectReference
from minik8s.api.meta import ListMeta, ObjectMeta


class EndpointConditions(K8sModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(K8sModel):
    addresses: list[str]
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: dict[str, Any] | None = None
    deprecated_topology: dict[str, str] | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    protocol: str = "TCP"
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(K8sModel):
    api_version: str = "discovery.k8s.io/v1"
    kind: str = "EndpointSlice"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    address_type: str
    endpoints: list[Endpoint] = []
    ports: list[EndpointPort] | None = None


class EndpointSliceList(K8sModel):
    api_version: str = "discovery.k8s.io/v1"
    kind: str = "EndpointSliceList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[EndpointSlice] = []
