"""The Endpoints controller: one ``v1/Endpoints`` per Service with a selector, listing its pods.

As Kubernetes' ``pkg/controller/endpoint/endpoints_controller.go``. Handlers map service and pod
events to service keys (a pod to every service of its namespace whose selector matches it,
before and after a label change). ``sync(key)`` reads the service and the pods from the caches
and computes the subsets: a pod with an IP is listed under ``addresses`` when Ready (or always,
with ``publishNotReadyAddresses``), else under ``notReadyAddresses``; each service port's
``targetPort`` is resolved per pod (a number, or a named container port of that pod); pods of
the same port set are packed into one subset. The object carries the service's labels, the
``service.kubernetes.io/headless`` label for a headless service, the controller's
``endpoints.kubernetes.io/managed-by`` label, and ``endpoints.kubernetes.io/last-change-trigger-time``
(the earliest not-yet-reflected change: a pod's Ready transition or the service's creation).
It is written only when subsets or labels differ from what is stored. A service without a
selector is left alone (its Endpoints are the user's); the Endpoints of a deleted service are
deleted when this controller manages them.

The pod helpers (:func:`find_port`, :func:`should_pod_be_in_endpoints`, :func:`pod_services`)
are shared with the EndpointSlice controller, and so are the pod handlers
(:class:`ServicePodHandlers`, for a controller that is a :class:`ServicePodHost`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from typing import Any, Literal, Protocol, TypedDict

from controllers import controller_utils as cu
from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import ENDPOINTS, PODS, SERVICES, object_key, split_key
from minik8s.api.typed import EndpointAddress, EndpointPort, EndpointSubset, Pod, Service, ServicePort
from minik8s.client.events import WARNING, EventRecorder
from minik8s.client.informer import Informer, SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

LABEL_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
LABEL_HEADLESS = "service.kubernetes.io/headless"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
# Kubernetes' maxCapacity: an Endpoints object lists at most this many addresses.
MAX_CAPACITY = 1000
# Kubernetes' maxRetries for this controller.
MAX_RETRIES = 15


# -- pods and services (shared with the EndpointSlice controller) ---------------------------

def is_service_ip_set(service: Service) -> bool:
    """A ClusterIP other than None/"" (Kubernetes' helper.IsServiceIPSet)."""
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def service_selector(service: Service) -> dict[str, str] | None:
    """The selector map, or None for a service without one (its endpoints are the user's)."""
    sel = (service.get("spec") or {}).get("selector")
    return sel or None


def selector_matches(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pod_services(services: Iterable[Service], pod: Pod) -> list[Service]:
    """Services (of the pod's namespace, as given) whose non-empty selector matches the pod."""
    labels = cu.meta(pod).get("labels")
    return [s for s in services if (sel := service_selector(s)) and selector_matches(sel, labels)]


def should_pod_be_in_endpoints(pod: Pod, *, include_terminating: bool) -> bool:
    """Kubernetes' ShouldPodBeInEndpoints: has an IP, not finished for good, not being deleted
    (unless terminating pods are wanted)."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    if not include_terminating and cu.meta(pod).get("deletionTimestamp"):
        return False
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    phase = status.get("phase")
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


class PortNotFound(LookupError):
    """Raised when a named targetPort matches no container port of the pod."""


def find_port(pod: Pod, service_port: ServicePort) -> int:
    """The pod's port for a service port: a numeric targetPort as is, a named one looked up in
    the pod's containers (same name and protocol), as Kubernetes' podutil.FindPort."""
    target = service_port.get("targetPort")
    if target in (None, "", 0):
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    raise PortNotFound(f"no container port named {target!r} ({protocol}) on pod {object_key(pod)}")


def pod_hostname_for(pod: Pod, service: Service) -> str | None:
    """The DNS hostname a headless service publishes for a pod: ``spec.hostname`` when the pod's
    ``spec.subdomain`` names the service."""
    spec = pod.get("spec") or {}
    hostname, subdomain = spec.get("hostname"), spec.get("subdomain")
    if hostname and subdomain and subdomain == cu.meta(service).get("name"):
        return hostname
    return None


def pod_trigger_time(pod: Pod) -> str | None:
    """When the pod last changed in a way endpoints care about: its Ready transition."""
    cond = cu.pod_ready_condition(pod)
    return None if cond is None else cond.get("lastTransitionTime")


def endpoint_relevant(pod: Pod) -> tuple[Any, ...]:
    """What of a pod, if changed, changes some Endpoints (Kubernetes' podEndpointsChanged)."""
    md, spec, status = cu.meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    ports = tuple((p.get("name"), p.get("containerPort"), p.get("protocol"))
                  for c in spec.get("containers") or [] for p in c.get("ports") or [])
    return (status.get("podIP"), cu.is_pod_ready(pod), md.get("deletionTimestamp"), status.get("phase"),
            spec.get("hostname"), spec.get("subdomain"), spec.get("nodeName"), ports, md.get("uid"))


class TriggerTimeTracker:
    """Kubernetes' TriggerTimeTracker: per service, the trigger times last reflected, so a sync
    can name the earliest change it is the first to reflect."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[str | None, dict[str, str | None]]] = {}

    def compute(self, key: str, service: Service, pods: Iterable[Pod]) -> str | None:
        last_svc, last_pods = self._state.get(key, (None, {}))
        svc_time = cu.meta(service).get("creationTimestamp")
        times: list[str] = []
        if svc_time != last_svc and svc_time:
            times.append(svc_time)
        now_pods: dict[str, str | None] = {}
        for pod in pods:
            k = object_key(pod)
            t = pod_trigger_time(pod)
            now_pods[k] = t
            if t and (k not in last_pods or last_pods[k] != t):
                times.append(t)
        self._state[key] = (svc_time, now_pods)
        # RFC 3339 UTC strings of one format order as the times they name.
        return min(times) if times else None

    def forget(self, key: str) -> None:
        self._state.pop(key, None)


# -- computing the subsets -------------------------------------------------------------------

# The two address lists of a subset.
_AddressField = Literal["addresses", "notReadyAddresses"]


class _Group(TypedDict):
    """The pods of one port set, while the subsets are computed."""

    ports: list[EndpointPort]
    addresses: list[EndpointAddress]
    notReadyAddresses: list[EndpointAddress]


def _address(pod: Pod, service: Service) -> EndpointAddress:
    md, spec = cu.meta(pod), pod.get("spec") or {}
    addr: EndpointAddress = {"ip": pod["status"]["podIP"]}
    hostname = pod_hostname_for(pod, service) if not is_service_ip_set(service) else None
    if hostname:
        addr["hostname"] = hostname
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    addr["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace"), "name": md.get("name"),
                         "uid": md.get("uid")}
    return addr


def _endpoint_port(service_port: ServicePort, port: int) -> EndpointPort:
    out: EndpointPort = {"port": port, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        out["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        out["appProtocol"] = service_port["appProtocol"]
    return out


def _addr_sort_key(addr: EndpointAddress) -> tuple[tuple[int | str, ...], str]:
    ip = addr["ip"]
    try:
        packed: tuple[int | str, ...] = tuple(int(x) for x in ip.split("."))
    except ValueError:
        packed = (ip,)
    return packed, (addr.get("targetRef") or {}).get("uid") or ""


def compute_subsets(service: Service, pods: Iterable[Pod]) -> list[EndpointSubset]:
    """The subsets of a service's Endpoints from its pods, repacked and sorted (pure)."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    groups: dict[tuple[tuple[str, int, str, str], ...], _Group] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        ports: list[EndpointPort] = []
        for sp in service_ports:
            try:
                ports.append(_endpoint_port(sp, find_port(pod, sp)))
            except PortNotFound as e:
                log.debug("endpoints: %s", e)
        if service_ports and not ports:
            continue
        key = tuple(sorted((p.get("name") or "", p["port"], p["protocol"], p.get("appProtocol") or "")
                           for p in ports))
        group = groups.setdefault(key, {"ports": ports, "addresses": [], "notReadyAddresses": []})
        ready = tolerate_unready or cu.is_pod_ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(_address(pod, service))
    subsets: list[EndpointSubset] = []
    for key in sorted(groups):
        g = groups[key]
        subset: EndpointSubset = {}
        if g["addresses"]:
            subset["addresses"] = sorted(g["addresses"], key=_addr_sort_key)
        if g["notReadyAddresses"]:
            subset["notReadyAddresses"] = sorted(g["notReadyAddresses"], key=_addr_sort_key)
        if g["ports"]:
            subset["ports"] = sorted(g["ports"], key=lambda p: (p.get("name") or "", p["port"], p["protocol"]))
        subsets.append(subset)
    return subsets


def truncate_subsets(subsets: list[EndpointSubset], max_capacity: int = MAX_CAPACITY
                     ) -> tuple[list[EndpointSubset], bool]:
    """At most ``max_capacity`` addresses, ready ones kept first; True when some were dropped."""
    total = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
    if total <= max_capacity:
        return subsets, False
    room = max_capacity
    out: list[tuple[EndpointSubset, _AddressField, list[EndpointAddress]]] = []
    fields: tuple[_AddressField, ...] = ("addresses", "notReadyAddresses")
    for field in fields:
        for s in subsets:
            take = (s.get(field) or [])[:room]
            room -= len(take)
            out.append((s, field, take))
    result: dict[int, EndpointSubset] = {}
    for s, field, take in out:
        ports = s.get("ports")
        d = result.setdefault(id(s), {"ports": ports} if ports else {})
        if take:
            d[field] = take
    return [d for d in result.values() if d.get("addresses") or d.get("notReadyAddresses")], True


def desired_labels(service: Service) -> dict[str, str]:
    labels = dict(cu.meta(service).get("labels") or {})
    if is_service_ip_set(service):
        labels.pop(LABEL_HEADLESS, None)
    else:
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return labels


# -- the controller --------------------------------------------------------------------------

class ServicePodHost(Protocol):
    """What a controller offers :class:`ServicePodHandlers`: its Service informer (with the
    ``namespace`` index) and its queue's ``enqueue_key``."""

    service_informer: Informer

    def enqueue_key(self, key: str) -> None: ...


def services_of(host: ServicePodHost, pod: Pod) -> list[Service]:
    """The services of ``host``'s cache that select ``pod``."""
    ns = cu.meta(pod).get("namespace") or ""
    return pod_services((typed.service(s) for s in host.service_informer.store.by_index("namespace", ns)), pod)


class ServicePodHandlers:
    """Pod event handlers shared by the endpoints and endpoint-slice controllers: a pod change
    enqueues the services that select it (before and after a label change), and only when
    something the endpoints show changed. Mixed into a :class:`ServicePodHost` (each method's
    ``self`` says so, and mypy checks the controller it is mixed into against it)."""

    def _add_pod(self: ServicePodHost, obj: dict[str, Any]) -> None:
        for svc in services_of(self, typed.pod(obj)):
            self.enqueue_key(object_key(svc))

    def _update_pod(self: ServicePodHost, old_obj: dict[str, Any], cur_obj: dict[str, Any]) -> None:
        old, cur = typed.pod(old_obj), typed.pod(cur_obj)
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        labels_changed = cu.meta(old).get("labels") != cu.meta(cur).get("labels")
        if not labels_changed and endpoint_relevant(old) == endpoint_relevant(cur):
            return
        keys = {object_key(s) for s in services_of(self, cur)}
        if labels_changed:
            keys |= {object_key(s) for s in services_of(self, old)}
        for key in keys:
            self.enqueue_key(key)

    def _delete_pod(self: ServicePodHost, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is not None:
            for svc in services_of(self, typed.pod(obj)):
                self.enqueue_key(object_key(svc))


class EndpointsController(ServicePodHandlers, Controller):
    name = "endpoint"
    max_retries = MAX_RETRIES

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="endpoint-controller")
        self.triggers = TriggerTimeTracker()
        self.service_informer = informers.informer(SERVICES)
        self.pod_informer = informers.informer(PODS)
        self.endpoints_informer = informers.informer(ENDPOINTS)
        self.informers = [self.service_informer, self.pod_informer, self.endpoints_informer]
        self.service_informer.add_handler(on_add=self.enqueue, on_update=self._update_service,
                                          on_delete=self._delete_service)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)
        self.endpoints_informer.add_handler(on_delete=self._delete_endpoints)

    async def run(self, workers: int) -> None:
        await self.wait_for_caches()
        self._check_leftovers()
        await super().run(workers)

    # -- handlers: events to service keys ------------------------------------------------------

    def _update_service(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        self.enqueue(cur)

    def _delete_service(self, svc: dict[str, Any] | None) -> None:
        svc = tombstone_safe(svc)
        if svc is not None:
            self.enqueue(svc)

    def _delete_endpoints(self, ep: dict[str, Any] | None) -> None:
        # Someone deleted Endpoints we keep: put them back if the service still wants them.
        ep = tombstone_safe(ep)
        if ep is not None and object_key(ep) in self.service_informer.store:
            self.enqueue(ep)

    def _check_leftovers(self) -> None:
        """Endpoints we manage whose service is gone (deleted while we were down) get a sync."""
        for ep in self.endpoints_informer.store.list():
            labels = cu.meta(ep).get("labels") or {}
            if labels.get(LABEL_MANAGED_BY) == CONTROLLER_NAME and object_key(ep) not in self.service_informer.store:
                self.enqueue(ep)

    # -- sync ------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.service_informer.store.get(key)
        current = self.endpoints_informer.store.get(key)
        if cached is None:
            self.triggers.forget(key)
            await self._delete_managed(namespace or "", name, current)
            return
        service = typed.service(cached)
        if service_selector(service) is None:
            # Endpoints of a service without a selector are the user's to write.
            return
        pods = [typed.pod(p) for p in self.pod_informer.store.by_index("namespace", namespace or "")
                if selector_matches(service_selector(service) or {}, cu.meta(p).get("labels"))]
        trigger = self.triggers.compute(key, service, pods)
        subsets, truncated = truncate_subsets(compute_subsets(service, pods))
        labels = desired_labels(service)

        stored = typed.endpoints(current) if current is not None else None
        current_annotations = (stored.get("metadata") or {}).get("annotations") or {} if stored else {}
        capacity_ok = (current_annotations.get(ANNOTATION_OVER_CAPACITY) == "truncated") == truncated
        if (stored is not None and (stored.get("subsets") or []) == subsets
                and ((stored.get("metadata") or {}).get("labels") or {}) == labels and capacity_ok):
            return

        if current is None:
            endpoints: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                               "metadata": {"name": name, "namespace": namespace}}
        else:
            endpoints = copy.deepcopy(current)
        md = endpoints["metadata"]
        annotations = dict(md.get("annotations") or {})
        if trigger:
            annotations[ANNOTATION_TRIGGER_TIME] = trigger
        else:
            annotations.pop(ANNOTATION_TRIGGER_TIME, None)
        if truncated:
            annotations[ANNOTATION_OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(ANNOTATION_OVER_CAPACITY, None)
        md["annotations"] = annotations or None
        md["labels"] = labels
        endpoints["subsets"] = subsets
        try:
            if current is None:
                await self.client.create(ENDPOINTS, endpoints, namespace=namespace)
            else:
                await self.client.update(ENDPOINTS, endpoints)
        except errors.ApiError as e:
            if isinstance(e, errors.Forbidden) and "being terminated" in (e.message or ""):
                return  # the namespace is going away: so are these Endpoints
            verb = "create" if current is None else "update"
            if not isinstance(e, (errors.Conflict, errors.AlreadyExists)):
                self.recorder.event({**service, "apiVersion": "v1", "kind": "Service"}, WARNING, f"FailedTo{verb.capitalize()}Endpoint",
                                    f"Failed to {verb} endpoint {key}: {e}")
            # Our cache was behind (or the write failed): forget what we claimed to reflect.
            self.triggers.forget(key)
            raise

    async def _delete_managed(self, namespace: str, name: str, current: dict[str, Any] | None) -> None:
        if current is None:
            return
        if (cu.meta(current).get("labels") or {}).get(LABEL_MANAGED_BY) != CONTROLLER_NAME:
            return  # not ours (a user's Endpoints for a service that may come later)
        try:
            await self.client.delete(ENDPOINTS, name, namespace=namespace,
                                     preconditions={"uid": cu.meta(current).get("uid")})
        except (errors.NotFound, errors.Conflict):
            pass
