"""Printed columns of every kind: what ``kubectl get`` shows, served as a meta/v1 Table.

Each kind has a :class:`Printer`: its column definitions (name, type, format, description,
priority — ``priority > 0`` only with ``-o wide``) and a function turning one object into its
cells, exactly as Kubernetes' ``pkg/printers/internalversion/printers.go`` prints them.

As the Kubernetes apiserver does, a row always carries every cell, wide ones included; kubectl
hides the ``priority > 0`` columns itself unless asked for ``-o wide``. :func:`table` wraps rows
into the ``meta.k8s.io/v1`` Table that kubectl asks for with ``Accept: ...;as=Table``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import Any

from minik8s.duration import human_duration, since
from minik8s.labels import format_label_selector, format_labels, label_selector_string
from minik8s.timestamps import to_unix


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclasses.dataclass(frozen=True, slots=True)
class Printer:
    columns: tuple[Column, ...]
    # row(obj, now_epoch_seconds) -> cells, one per column
    row: Callable[[dict[str, Any], float], list[Any]]
    # conditions(obj) -> TableRowConditions (pods mark finished rows "Completed"), or None
    conditions: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None


# ---------------------------------------------------------------------------------------------
# Time


def age(obj: dict[str, Any], now: float) -> str:
    """The AGE column: how long ago ``obj`` was created, as kubectl prints it."""
    return since(meta(obj).get("creationTimestamp"), now)


# ---------------------------------------------------------------------------------------------
# Small formatting helpers shared by several kinds


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``'s metadata, ``{}`` when it has none."""
    return obj.get("metadata") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _containers_cells(containers: list[dict[str, Any]] | None) -> tuple[str, str]:
    """``layoutContainerCells``: the names and the images, each comma-joined."""
    cs = containers or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _template_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []


def _join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: IPv6 hosts in brackets."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]:{port}"
    except ValueError:
        pass
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


# ---------------------------------------------------------------------------------------------
# Column descriptions (what a column means; kubectl shows none of this, clients may)

_NAME = Column("Name", format="name", description="Name of the object, unique within its namespace "
               "(or the cluster, for cluster-scoped kinds).")
_AGE = Column("Age", description="Time since the object was created (metadata.creationTimestamp).")
_CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
_IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")


# ---------------------------------------------------------------------------------------------
# Namespace


def _namespace_row(obj: dict[str, Any], now: float) -> list[Any]:
    return [meta(obj).get("name", ""), _status(obj).get("phase", ""), age(obj, now)]


NAMESPACE = Printer(
    (_NAME, Column("Status", description="The status of the namespace"), _AGE),
    _namespace_row,
)


# ---------------------------------------------------------------------------------------------
# Pod


def _restartable(container: dict[str, Any] | None) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return container is not None and bool(container) and container.get("restartPolicy") == "Always"


def _condition_true(conditions: list[dict[str, Any]], ctype: str) -> bool:
    for c in conditions:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_status_cells(pod: dict[str, Any], now: float) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS of a pod, computed as kubectl's ``printPod`` does."""
    spec, status, md = _spec(pod), _status(pod), meta(pod)
    conditions = status.get("conditions") or []
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = 0
    restarts = 0
    sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    def later(a: float | None, ts: str | None) -> float | None:
        t = to_unix(ts)
        if t is None:
            return a
        return t if a is None or t > a else a

    initializing = False
    n_init = len(spec.get("initContainers") or [])
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        last_term = (cs.get("lastState") or {}).get("terminated")
        restarts += int(cs.get("restartCount") or 0)
        if last_term:
            last_restart = later(last_restart, last_term.get("finishedAt"))
        sidecar = _restartable(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            if last_term:
                last_sidecar_restart = later(last_sidecar_restart, last_term.get("finishedAt"))
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term:
            reason = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        error_reason = ""
        # Walk backwards so the first container's state wins, as kubectl does.
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += int(cs.get("restartCount") or 0)
            last_term = (cs.get("lastState") or {}).get("terminated")
            if last_term:
                last_restart = later(last_restart, last_term.get("finishedAt"))
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term:
                reason = _terminated_reason(term)
                if int(term.get("exitCode") or 0) != 0:
                    error_reason = reason
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # One container finished but another still runs: the pod is not "Completed".
        if reason == "Completed":
            if has_running and _condition_true(conditions, "Ready"):
                reason = "Running"
            elif error_reason:
                reason = error_reason
            elif has_running:
                reason = "NotReady"

    if md.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif md.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_cell


def _pod_row(pod: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(pod), _status(pod)
    ready, reason, restarts = pod_status_cells(pod, now)
    pod_ips = status.get("podIPs") or []
    # podIPs[0] is what kubectl reads; the apiserver keeps it equal to podIP.
    pod_ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        conditions = status.get("conditions") or []
        true_count = 0
        for g in gates:
            for c in conditions:
                if c.get("type") == g.get("conditionType"):
                    true_count += c.get("status") == "True"
                    break
        gates_cell = f"{true_count}/{len(gates)}"
    return [
        meta(pod).get("name", ""), ready, reason, restarts, age(pod, now),
        pod_ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_cell,
    ]


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return [{"type": "Completed", "status": "True", "reason": "Succeeded",
                 "message": "The pod has completed successfully."}]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


POD = Printer(
    (
        _NAME,
        Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", description="The aggregate status of the containers in this pod."),
        Column("Restarts", description="The number of times the containers in this pod have been "
               "restarted and when the last container in this pod has restarted."),
        _AGE,
        Column("IP", priority=1, description="The pod's IP address (status.podIPs[0])."),
        Column("Node", priority=1, description="The node the pod is bound to (spec.nodeName)."),
        Column("Nominated Node", priority=1, description="The node the scheduler nominated for this "
               "pod when preempting others (status.nominatedNodeName)."),
        Column("Readiness Gates", priority=1, description="How many of the pod's readiness gates "
               "(spec.readinessGates) are true."),
    ),
    _pod_row,
    _pod_conditions,
)


# ---------------------------------------------------------------------------------------------
# Node

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def _node_row(node: dict[str, Any], now: float) -> list[Any]:
    md, spec, status = meta(node), _spec(node), _status(node)
    states: list[str] = []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            states = ["Ready" if c.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for k, v in (md.get("labels") or {}).items():
        if k.startswith(_ROLE_PREFIX) and k[len(_ROLE_PREFIX):]:
            roles.add(k[len(_ROLE_PREFIX):])
        elif k == _ROLE_LABEL and v:
            roles.add(v)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for a in status.get("addresses") or []:
            if a.get("type") == kind:
                address: str = a.get("address", "")
                return address
        return "<none>"

    return [
        md.get("name", ""), ",".join(states), ",".join(sorted(roles)) or "<none>", age(node, now),
        info.get("kubeletVersion", ""),
        address("InternalIP"), address("ExternalIP"),
        info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


NODE = Printer(
    (
        _NAME,
        Column("Status", description="The status of the node"),
        Column("Roles", description="The roles of the node"),
        _AGE,
        Column("Version", description="The version of the node's kubelet (status.nodeInfo.kubeletVersion)."),
        Column("Internal-IP", priority=1, description="The node's first InternalIP address."),
        Column("External-IP", priority=1, description="The node's first ExternalIP address."),
        Column("OS-Image", priority=1, description="The operating system image of the node."),
        Column("Kernel-Version", priority=1, description="The kernel version of the node."),
        Column("Container-Runtime", priority=1, description="The container runtime and its version."),
    ),
    _node_row,
)


# ---------------------------------------------------------------------------------------------
# Service


def _lb_ingress(status: dict[str, Any]) -> str:
    seen = set()
    for ing in ((status.get("loadBalancer") or {}).get("ingress") or []):
        if ing.get("ip"):
            seen.add(ing["ip"])
        elif ing.get("hostname"):
            seen.add(ing["hostname"])
    # The server prints wide (no 16-character clipping): kubectl clips nothing itself.
    return ",".join(sorted(seen))


def _service_external_ip(svc: dict[str, Any]) -> str:
    spec = _spec(svc)
    stype = spec.get("type") or "ClusterIP"
    external = spec.get("externalIPs") or []
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if stype == "LoadBalancer":
        lb = _lb_ingress(_status(svc))
        if external:
            return ",".join(([*lb.split(",")] if lb else []) + list(external))
        return lb or "<pending>"
    if stype == "ExternalName":
        external_name: str = spec.get("externalName", "")
        return external_name
    return "<unknown>"


def service_ports(ports: list[dict[str, Any]] | None) -> str:
    """``80/TCP``, or ``80:30080/TCP`` with a node port; comma-joined."""
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            pieces.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port')}/{proto}")
    return ",".join(pieces)


def _service_row(svc: dict[str, Any], now: float) -> list[Any]:
    spec = _spec(svc)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [
        meta(svc).get("name", ""), spec.get("type") or "ClusterIP", cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(svc), service_ports(spec.get("ports")) or "<none>", age(svc, now),
        format_labels(spec.get("selector")),
    ]


SERVICE = Printer(
    (
        _NAME,
        Column("Type", description="How the service is exposed: ClusterIP, NodePort, LoadBalancer "
               "or ExternalName."),
        Column("Cluster-IP", description="The service's virtual IP inside the cluster."),
        Column("External-IP", description="Addresses the service is reachable on from outside the cluster."),
        Column("Port(s)", description="The ports the service exposes (port[:nodePort]/protocol)."),
        _AGE,
        Column("Selector", priority=1, description="The labels of the pods the service routes to."),
    ),
    _service_row,
)


# ---------------------------------------------------------------------------------------------
# Endpoints


def format_endpoints(ep: dict[str, Any]) -> str:
    """``10.0.0.1:80,10.0.0.2:80 + 1 more...``: at most three addresses, ``<none>`` when empty."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or []
        ports = ss.get("ports") or []
        # A headless service may have no ports: list bare addresses then.
        pairs = ([(a.get("ip", ""), None) for a in addrs] if not ports
                 else [(a.get("ip", ""), p.get("port")) for p in ports for a in addrs])
        for ip, port in pairs:
            if len(shown) == limit:
                more = True
            if not more:
                shown.append(ip if port is None else _join_host_port(ip, int(port)))
            count += 1
    out = ",".join(shown)
    if more:
        return f"{out} + {count - limit} more..."
    return out


def _endpoints_row(ep: dict[str, Any], now: float) -> list[Any]:
    return [meta(ep).get("name", ""), format_endpoints(ep), age(ep, now)]


ENDPOINTS = Printer(
    (_NAME, Column("Endpoints", description="The ready addresses and ports behind the service."), _AGE),
    _endpoints_row,
)


def _endpointslice_row(es: dict[str, Any], now: float) -> list[Any]:
    ports = ",".join(str(p.get("port")) if p.get("port") is not None else "<unset>"
                     for p in es.get("ports") or []) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") if addrs else "<unset>"
    return [meta(es).get("name", ""), es.get("addressType", ""), ports, shown, age(es, now)]


ENDPOINTSLICE = Printer(
    (_NAME, Column("AddressType", description="The type of address carried by the slice."),
     Column("Ports", description="The ports the endpoints serve."),
     Column("Endpoints", description="The addresses of the endpoints in the slice."), _AGE),
    _endpointslice_row,
)


# ---------------------------------------------------------------------------------------------
# ConfigMap, Secret


def _configmap_row(cm: dict[str, Any], now: float) -> list[Any]:
    return [meta(cm).get("name", ""), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age(cm, now)]


CONFIGMAP = Printer(
    (_NAME, Column("Data", description="The number of keys in data and binaryData."), _AGE),
    _configmap_row,
)


def _secret_row(s: dict[str, Any], now: float) -> list[Any]:
    # stringData is folded into data on write, so data alone is counted (as Kubernetes does).
    return [meta(s).get("name", ""), s.get("type") or "Opaque", len(s.get("data") or {}), age(s, now)]


SECRET = Printer(
    (_NAME, Column("Type", description="The type of the secret, e.g. Opaque."),
     Column("Data", description="The number of keys in data."), _AGE),
    _secret_row,
)


# ---------------------------------------------------------------------------------------------
# Event


def _event_source(ev: dict[str, Any]) -> str:
    src = ev.get("source") or {}
    # core/v1 calls the new API's reportingController "reportingComponent" on the wire.
    component = src.get("component") or ev.get("reportingComponent") or ""
    instance = src.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _event_row(ev: dict[str, Any], now: float) -> list[Any]:
    first = since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1  # a singleton event of the new API carries no count
    io = ev.get("involvedObject") or {}
    kind = (io.get("kind") or "").lower()
    target = f"{kind}/{io['name']}" if io.get("name") else kind
    return [
        last, ev.get("type", ""), ev.get("reason", ""), target,
        io.get("fieldPath", ""), _event_source(ev), (ev.get("message") or "").strip(),
        first, count, meta(ev).get("name", ""),
    ]


EVENT = Printer(
    (
        Column("Last Seen", description="When the event was last seen."),
        Column("Type", description="Normal or Warning."),
        Column("Reason", description="Why the event happened, in CamelCase."),
        Column("Object", description="The object the event is about (kind/name)."),
        Column("Subobject", priority=1, description="The part of the object the event is about "
               "(involvedObject.fieldPath)."),
        Column("Source", priority=1, description="The component (and host) that reported the event."),
        Column("Message", description="What happened, for a person to read."),
        Column("First Seen", priority=1, description="When the event was first seen."),
        Column("Count", priority=1, description="How many times the event happened."),
        dataclasses.replace(_NAME, priority=1),
    ),
    _event_row,
)


# ---------------------------------------------------------------------------------------------
# Deployment, ReplicaSet


def _or(value: str | None, fallback: str) -> str:
    return fallback if value is None else value


def _replicas(obj: dict[str, Any]) -> int:
    r = _spec(obj).get("replicas")
    return 1 if r is None else int(r)  # the apps/v1 default


def _deployment_row(d: dict[str, Any], now: float) -> list[Any]:
    status = _status(d)
    names, images = _containers_cells(_template_containers(d))
    return [
        meta(d).get("name", ""), f"{int(status.get('readyReplicas') or 0)}/{_replicas(d)}",
        int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), age(d, now),
        names, images, _or(label_selector_string(_spec(d).get("selector")), "<invalid>"),
    ]


DEPLOYMENT = Printer(
    (
        _NAME,
        Column("Ready", description="Number of the pod with ready state"),
        Column("Up-to-date", description="Pods that run the newest pod template."),
        Column("Available", description="Pods that have been ready for at least minReadySeconds."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="The label selector of the deployment's pods."),
    ),
    _deployment_row,
)


def _replicaset_row(rs: dict[str, Any], now: float) -> list[Any]:
    status = _status(rs)
    names, images = _containers_cells(_template_containers(rs))
    return [
        meta(rs).get("name", ""), _replicas(rs), int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0), age(rs, now),
        names, images, format_label_selector(_spec(rs).get("selector")),
    ]


REPLICASET = Printer(
    (
        _NAME,
        Column("Desired", type="integer", description="The number of pods wanted (spec.replicas)."),
        Column("Current", type="integer", description="The number of pods that exist (status.replicas)."),
        Column("Ready", type="integer", description="The number of ready pods (status.readyReplicas)."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="The label selector of the replica set's pods."),
    ),
    _replicaset_row,
)


# ---------------------------------------------------------------------------------------------
# RBAC: roles print as Kubernetes' default table (Name, Created At); bindings as printers.go


def _created_at_row(obj: dict[str, Any], now: float) -> list[Any]:
    return [meta(obj).get("name", ""), meta(obj).get("creationTimestamp") or ""]


ROLE = Printer(
    (_NAME, Column("Created At", type="date", description="CreationTimestamp is a timestamp representing "
                   "the server time when this object was created.")),
    _created_at_row,
)


def subjects_strings(subjects: list[dict[str, Any]] | None) -> tuple[str, str, str]:
    """Users, groups and service accounts (``namespace:name``) of a binding, comma-joined."""
    users, groups, sas = [], [], []
    for s in subjects or []:
        kind = s.get("kind")
        if kind == "User":
            users.append(s.get("name", ""))
        elif kind == "Group":
            groups.append(s.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{s.get('namespace') or ''}:{s.get('name', '')}")
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def _binding_row(obj: dict[str, Any], now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = subjects_strings(obj.get("subjects"))
    return [meta(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            users, groups, sas]


BINDING = Printer(
    (_NAME, Column("Role", description="RoleRef can reference a Role in the current namespace or a "
                   "ClusterRole in the global namespace."), _AGE,
     Column("Users", priority=1, description="Users in the roleBinding"),
     Column("Groups", priority=1, description="Groups in the roleBinding"),
     Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding")),
    _binding_row,
)


# ---------------------------------------------------------------------------------------------
# Lease


def _lease_row(lease: dict[str, Any], now: float) -> list[Any]:
    return [meta(lease).get("name", ""), _spec(lease).get("holderIdentity") or "", age(lease, now)]


LEASE = Printer(
    (_NAME, Column("Holder", description="The identity of the lease's current holder."), _AGE),
    _lease_row,
)


# ---------------------------------------------------------------------------------------------
# The Table

PARTIAL_OBJECT_METADATA = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}


def table_row(printer: Printer, obj: dict[str, Any], *, include_object: str = "Metadata",
              now: float | None = None) -> dict[str, Any]:
    """One ``TableRow``: its cells, its conditions and the object as asked (``includeObject``)."""
    t = time.time() if now is None else now
    row: dict[str, Any] = {"cells": printer.row(obj, t)}
    if printer.conditions is not None:
        conds = printer.conditions(obj)
        if conds:
            row["conditions"] = conds
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {**PARTIAL_OBJECT_METADATA, "metadata": meta(obj)}
    return row


def table(printer: Printer, objs: Iterable[dict[str, Any]], *, include_object: str = "Metadata",
          resource_version: str | None = None, continue_: str | None = None,
          remaining_item_count: int | None = None, with_columns: bool = True,
          now: float | None = None) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objs``.

    ``include_object`` is the ``includeObject`` query parameter: ``Metadata`` (default) puts a
    PartialObjectMetadata in each row, ``Object`` the whole object, ``None`` nothing.
    ``with_columns=False`` leaves ``columnDefinitions`` null, as Kubernetes does for every watch
    event after the first.
    """
    t = time.time() if now is None else now
    metadata: dict[str, Any] = {}
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    if continue_:
        metadata["continue"] = continue_
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in printer.columns] if with_columns else None,
        "rows": [table_row(printer, o, include_object=include_object, now=t) for o in objs],
    }
