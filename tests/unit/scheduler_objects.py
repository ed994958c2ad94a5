"""Builders of Kubernetes JSON pods and nodes for the scheduler's unit tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

_uids = itertools.count(1)


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[Mapping[str, str]] = (),
    unschedulable: bool = False,
    ready: str | None = "True",
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"capacity": dict(allocatable), "allocatable": allocatable, "conditions": []},
    }
    if taints:
        node["spec"]["taints"] = [dict(t) for t in taints]
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if ready is not None:
        node["status"]["conditions"].append({"type": "Ready", "status": ready})
    return node


def container(name: str = "c", *, cpu: str | None = None, memory: str | None = None,
              host_ports: Iterable[int] = (), restart_policy: str | None = None,
              **requests: str) -> dict[str, Any]:
    req = dict(requests)
    if cpu is not None:
        req["cpu"] = cpu
    if memory is not None:
        req["memory"] = memory
    c: dict[str, Any] = {"name": name, "image": "busybox"}
    if req:
        c["resources"] = {"requests": req}
    ports = [{"containerPort": p, "hostPort": p} for p in host_ports]
    if ports:
        c["ports"] = ports
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def make_pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    namespace: str = "default",
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    node_name: str | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: dict[str, Any] | None = None,
    host_ports: Iterable[int] = (),
    owner_uid: str | None = None,
    phase: str | None = None,
    **spec_extra: Any,
) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}-{next(_uids)}"}
    if owner_uid:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                  "uid": owner_uid, "controller": True}]
    spec: dict[str, Any] = {
        "containers": containers or [container(cpu=cpu, memory=memory, host_ports=host_ports)],
        **spec_extra,
    }
    if init_containers:
        spec["initContainers"] = init_containers
    if node_name:
        spec["nodeName"] = node_name
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity:
        spec["affinity"] = affinity
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec,
                           "status": {"phase": phase or "Pending"}}
    return pod


def required_affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e
