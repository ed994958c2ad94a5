"""Typed views of the objects the components read most — Pod and Node, with their metadata — as
``TypedDict``\\ s over the JSON dicts the informers hold (issue #16).

Chosen by measurement (``tests/perf/typed_access_bench.py``): a TypedDict costs nothing at run
time, the object stays the dict the apiserver sent and every read stays a dict read, where a
view class per object cost 1.5x per read and validating into the pydantic models of
:mod:`minik8s.api.core` 17x (~50 us per pod event). What changes is what the type checker sees:
field names (camelCase, as on the wire) and their types, so a misspelt key or a wrong type is an
error in ``make test``.

Every key is optional (``total=False``): an object read from the cluster carries what the
apiserver defaulted, but a reader still says what it does when a field is absent. Nested parts a
reader does not yet need are ``dict[str, Any]``; they get their own TypedDicts as readers come.

:func:`pod` and :func:`node` type an informer's object at the boundary, without copying or
checking it (the apiserver validated it); the informers' stores hold ``dict[str, Any]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

__all__ = [
    "Container", "Node", "NodeAddress", "NodeCondition", "NodeSpec", "NodeStatus", "ObjectMeta",
    "OwnerReference", "Pod", "PodCondition", "PodSpec", "PodStatus", "Taint", "Toleration", "node", "pod",
]


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[OwnerReference]
    finalizers: list[str]
    managedFields: list[dict[str, Any]]


# -- Pod ------------------------------------------------------------------------------------

class Toleration(TypedDict, total=False):
    key: str
    operator: str
    value: str
    effect: str
    tolerationSeconds: int


class Container(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]
    workingDir: str
    env: list[dict[str, Any]]
    ports: list[dict[str, Any]]
    resources: dict[str, Any]
    volumeMounts: list[dict[str, Any]]
    restartPolicy: str
    imagePullPolicy: str
    securityContext: dict[str, Any]
    readinessProbe: dict[str, Any]
    livenessProbe: dict[str, Any]
    startupProbe: dict[str, Any]


class PodSpec(TypedDict, total=False):
    nodeName: str
    nodeSelector: dict[str, str]
    schedulerName: str
    priority: int
    priorityClassName: str
    serviceAccountName: str
    restartPolicy: str
    terminationGracePeriodSeconds: int
    hostNetwork: bool
    containers: list[Container]
    initContainers: list[Container]
    ephemeralContainers: list[dict[str, Any]]
    tolerations: list[Toleration]
    affinity: dict[str, Any]
    volumes: list[dict[str, Any]]
    securityContext: dict[str, Any]


class PodCondition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastProbeTime: str
    lastTransitionTime: str


class PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    message: str
    conditions: list[PodCondition]
    hostIP: str
    podIP: str
    podIPs: list[dict[str, str]]
    startTime: str
    nominatedNodeName: str
    qosClass: str
    containerStatuses: list[dict[str, Any]]
    initContainerStatuses: list[dict[str, Any]]
    ephemeralContainerStatuses: list[dict[str, Any]]


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


# -- Node -----------------------------------------------------------------------------------

class Taint(TypedDict, total=False):
    key: str
    value: str
    effect: str
    timeAdded: str


class NodeSpec(TypedDict, total=False):
    podCIDR: str
    podCIDRs: list[str]
    providerID: str
    unschedulable: bool
    taints: list[Taint]


class NodeCondition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastHeartbeatTime: str
    lastTransitionTime: str


class NodeAddress(TypedDict, total=False):
    type: str
    address: str


class NodeStatus(TypedDict, total=False):
    conditions: list[NodeCondition]
    addresses: list[NodeAddress]
    capacity: dict[str, str]
    allocatable: dict[str, str]
    nodeInfo: dict[str, str]
    daemonEndpoints: dict[str, Any]


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: NodeSpec
    status: NodeStatus


def pod(obj: Mapping[str, Any]) -> Pod:
    """``obj`` (a Pod as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Pod, obj)


def node(obj: Mapping[str, Any]) -> Node:
    """``obj`` (a Node as the apiserver sent it) typed as one: the same object, not a copy."""
    return cast(Node, obj)
