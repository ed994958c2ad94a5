"""The EndpointSlice controller: ``discovery.k8s.io/v1`` slices of each Service's endpoints.

As Kubernetes' ``pkg/controller/endpointslice``. For every Service with a selector (not of type
ExternalName) the pods it selects become endpoints (``addresses``, ``conditions``
ready/serving/terminating, ``targetRef``, ``nodeName``, ``zone``, ``hostname`` for a pod whose
subdomain names the service), grouped by their resolved port set, and packed into slices of at
most :data:`MAX_ENDPOINTS_PER_SLICE`. Slices are named from the service (``generateName``),
labelled ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io``, owned by the service (controller reference), and carry
``endpoints.kubernetes.io/last-change-trigger-time`` when written.

Reconciling keeps churn low, as Kubernetes' reconciler tries to: an endpoint stays in the slice
it is in; new endpoints fill existing slices with room before new slices are made; a slice is
rewritten only when its content changed, and deleted when it became empty. A service with no
endpoints keeps one empty placeholder slice. Writes go create → update → delete, so readers
never see an endpoint vanish before its replacement appears.

Our own writes come back through the informer later; until they have, a sync of that service
would act on a stale cache and duplicate slices, so it is put off a moment (Kubernetes'
endpointSliceTracker does the same with generations).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from controllers import controller_utils as cu
from controllers import endpoints as ep
from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import ENDPOINTSLICES, NODES, PODS, SERVICES, split_key
from minik8s.api.typed import Endpoint, EndpointPort, EndpointSlice, Pod, Service, ServicePort
from minik8s.client.events import WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LABEL_ZONE = "topology.kubernetes.io/zone"
# Kubernetes' --max-endpoints-per-slice default.
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "endpointslice-service"
# How soon to look again when the cache has not yet caught up with our own writes.
_STALE_CACHE_RETRY_S = 0.05


def slice_service_index(obj: dict[str, Any]) -> list[str]:
    """Index of managed slices by ``namespace/service``."""
    labels = cu.meta(obj).get("labels") or {}
    svc = labels.get(LABEL_SERVICE_NAME)
    if not svc or labels.get(LABEL_MANAGED_BY) != CONTROLLER_NAME:
        return []
    return [f"{cu.meta(obj).get('namespace') or ''}/{svc}"]


# -- what the slices should say (pure) --------------------------------------------------------

# A slice's port set, comparable: (name, port, protocol, appProtocol) of each port, sorted.
PortsKey = tuple[tuple[str, Any, str, str], ...]
# Port-set key -> (the slice ports, {address: endpoint}): the endpoints a service should have.
Desired = dict[PortsKey, tuple[list[EndpointPort], dict[str, Endpoint]]]

def slice_port(service_port: ServicePort, port: int) -> EndpointPort:
    out: EndpointPort = {"name": service_port.get("name") or "", "port": port,
                 "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("appProtocol"):
        out["appProtocol"] = service_port["appProtocol"]
    return out


def ports_key(ports: Sequence[Mapping[str, Any]] | None) -> PortsKey:
    return tuple(sorted((p.get("name") or "", p.get("port"), p.get("protocol") or "TCP", p.get("appProtocol") or "")
                        for p in ports or []))


def pod_endpoint(pod: Pod, service: Service, *, zone: str | None = None) -> Endpoint:
    """One slice endpoint for a pod, conditions as Kubernetes' podToEndpoint computes them."""
    md, spec = cu.meta(pod), pod.get("spec") or {}
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = cu.is_pod_ready(pod)
    terminating = bool(md.get("deletionTimestamp"))
    ready = publish or serving
    if terminating and not publish:
        ready = False  # a terminating pod never counts as ready (for older readers)
    out: Endpoint = {"addresses": [pod["status"]["podIP"]],
                 "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    hostname = ep.pod_hostname_for(pod, service)
    if hostname:
        out["hostname"] = hostname
    out["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace"), "name": md.get("name"), "uid": md.get("uid")}
    if spec.get("nodeName"):
        out["nodeName"] = spec["nodeName"]
    if zone:
        out["zone"] = zone
    return out


def desired_endpoints(service: Service, pods: list[Pod], *, zones: dict[str, str] | None = None) -> Desired:
    """Port-set key → (slice ports, {address: endpoint}) for the pods the service selects."""
    zones = zones or {}
    service_ports = (service.get("spec") or {}).get("ports") or []
    out: Desired = {}
    for pod in pods:
        if not ep.should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        ports: list[EndpointPort] = []
        for sp in service_ports:
            try:
                ports.append(slice_port(sp, ep.find_port(pod, sp)))
            except ep.PortNotFound as e:
                log.debug("endpointslice: %s", e)
        if service_ports and not ports:
            continue
        key = ports_key(ports)
        endpoint = pod_endpoint(pod, service, zone=zones.get((pod.get("spec") or {}).get("nodeName") or ""))
        out.setdefault(key, (ports, {}))[1][endpoint["addresses"][0]] = endpoint
    return out


def slice_labels(service: Service) -> dict[str, str]:
    md = cu.meta(service)
    labels = {k: v for k, v in (md.get("labels") or {}).items() if k not in (LABEL_SERVICE_NAME, LABEL_MANAGED_BY)}
    labels[LABEL_SERVICE_NAME] = md["name"]
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    if ep.is_service_ip_set(service):
        labels.pop(ep.LABEL_HEADLESS, None)
    else:
        labels[ep.LABEL_HEADLESS] = ""
    return labels


_E = TypeVar("_E", bound=Mapping[str, Any])


def _sort_endpoints(endpoints: Sequence[_E]) -> list[_E]:
    def key(e: _E) -> tuple[tuple[int, ...], str]:
        try:
            return tuple(int(x) for x in e["addresses"][0].split(".")), ""
        except ValueError:
            return (), e["addresses"][0]
    return sorted(endpoints, key=key)


def plan(service: Service, existing: list[EndpointSlice], desired: Desired, *, max_per_slice: int = MAX_ENDPOINTS_PER_SLICE
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[EndpointSlice]]:
    """What to write: (slices to create, slices to update, slices to delete). Pure; the slices
    to create have ``generateName``, those to update are changed copies of existing ones."""
    labels = slice_labels(service)
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[EndpointSlice] = []
    existing = sorted(existing, key=lambda s: cu.meta(s).get("name") or "")
    by_key: dict[PortsKey, list[EndpointSlice]] = {}
    for s in existing:
        by_key.setdefault(ports_key(s.get("ports")), []).append(s)

    for key, slices in by_key.items():
        if key not in desired:
            deletes.extend(slices)
    for key, (ports, wanted) in desired.items():
        placed: set[str] = set()
        kept: list[tuple[EndpointSlice, list[Endpoint]]] = []
        for s in by_key.get(key, []):
            eps: list[Endpoint] = []
            for e in s.get("endpoints") or []:
                addresses = e.get("addresses")
                addr = addresses[0] if addresses else None
                if addr is not None and addr in wanted and addr not in placed:
                    eps.append(wanted[addr])
                    placed.add(addr)
            kept.append((s, eps))
        rest = [wanted[a] for a in sorted(wanted) if a not in placed]
        # Fill the slices that have room (fullest first keeps the count of slices low).
        for _slice, eps in sorted(kept, key=lambda t: -len(t[1])):
            while rest and len(eps) < max_per_slice:
                eps.append(rest.pop(0))
        for s, eps in kept:
            if not eps:
                deletes.append(s)
                continue
            new_eps = _sort_endpoints(eps)
            if (_sort_endpoints(s.get("endpoints") or []) != new_eps or ports_key(s.get("ports")) != key
                    or (cu.meta(s).get("labels") or {}) != labels or s.get("ports") != ports):
                changed: dict[str, Any] = copy.deepcopy(dict(s))
                changed["endpoints"] = new_eps
                changed["ports"] = ports
                changed["metadata"]["labels"] = dict(labels)
                updates.append(changed)
        while rest:
            chunk, rest = rest[:max_per_slice], rest[max_per_slice:]
            creates.append(new_slice(service, labels, ports, _sort_endpoints(chunk)))

    if not desired and not creates:
        # No endpoints at all: one empty placeholder slice says so (kept if one exists).
        placeholder = next((s for s in existing if not s.get("endpoints") and not s.get("ports")), None)
        if placeholder is None:
            creates.append(new_slice(service, labels, None, []))
        else:
            deletes = [s for s in deletes if s is not placeholder]
            if (cu.meta(placeholder).get("labels") or {}) != labels:
                changed = copy.deepcopy(dict(placeholder))
                changed["metadata"]["labels"] = dict(labels)
                updates.append(changed)
    return creates, updates, deletes


def new_slice(service: Service, labels: dict[str, str], ports: list[EndpointPort] | None,
              endpoints: list[Endpoint]) -> dict[str, Any]:
    md = cu.meta(service)
    owner = {"apiVersion": "v1", "kind": "Service", "name": md["name"], "uid": md["uid"],
             "controller": True, "blockOwnerDeletion": True}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{md['name']}-", "namespace": md.get("namespace"),
                         "labels": dict(labels), "ownerReferences": [owner]},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


# -- the controller ----------------------------------------------------------------------------

def _rv_at_least(cached: str | None, written: str) -> bool:
    if cached is None:
        return False
    try:
        return int(cached) >= int(written)
    except ValueError:
        return cached == written


class EndpointSliceController(ep.ServicePodHandlers, Controller):
    name = "endpointslice"
    max_retries = 15

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="endpointslice-controller")
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.triggers = ep.TriggerTimeTracker()
        # service key -> {slice name: resourceVersion we wrote, or None for a delete}
        self._written: dict[str, dict[str, str | None]] = {}
        self.service_informer = informers.informer(SERVICES)
        self.pod_informer = informers.informer(PODS)
        self.slice_informer = informers.informer(ENDPOINTSLICES, indexers={SERVICE_INDEX: slice_service_index})
        self.node_informer = informers.informer(NODES)
        self.informers = [self.service_informer, self.pod_informer, self.slice_informer, self.node_informer]
        self.service_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur),
                                          on_delete=self._delete_service)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)
        self.slice_informer.add_handler(on_add=self._slice_changed, on_update=lambda old, cur: self._slice_changed(cur),
                                        on_delete=self._slice_changed)
        self.node_informer.add_handler(on_update=self._update_node)

    # -- handlers -------------------------------------------------------------------------------

    def _delete_service(self, svc: dict[str, Any] | None) -> None:
        svc = tombstone_safe(svc)
        if svc is not None:
            self.enqueue(svc)

    def _slice_changed(self, s: dict[str, Any] | None) -> None:
        s = tombstone_safe(s)
        if s is None:
            return
        for key in slice_service_index(s):
            self.enqueue_key(key)

    def _update_node(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        # Only a zone change moves endpoints; Kubernetes resyncs every service then, as here.
        if (cu.meta(old).get("labels") or {}).get(LABEL_ZONE) != (cu.meta(cur).get("labels") or {}).get(LABEL_ZONE):
            for svc in self.service_informer.store.list():
                self.enqueue(svc)

    # -- sync --------------------------------------------------------------------------------------

    def _cache_caught_up(self, key: str) -> bool:
        written = self._written.get(key)
        if not written:
            return True
        ns, _ = split_key(key)
        for name, rv in list(written.items()):
            cached = self.slice_informer.store.get(f"{ns}/{name}")
            if rv is None:
                if cached is not None:
                    return False
            elif cached is None or not _rv_at_least(cu.meta(cached).get("resourceVersion"), rv):
                return False
            del written[name]
        return True

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        if not self._cache_caught_up(key):
            self.queue.add_after(key, _STALE_CACHE_RETRY_S)
            return
        cached = self.service_informer.store.get(key)
        existing = self.slice_informer.store.by_index(SERVICE_INDEX, key)
        if cached is None:
            self.triggers.forget(key)
            self._written.pop(key, None)
            for s in map(typed.endpoint_slice, existing):
                await self._delete(key, s)  # the garbage collector would too, through the owner
            return
        service = typed.service(cached)
        spec = service.get("spec") or {}
        if ep.service_selector(service) is None or spec.get("type") == "ExternalName":
            return
        slices = [s for s in map(typed.endpoint_slice, existing) if s.get("addressType", "IPv4") == "IPv4"]
        selector = ep.service_selector(service) or {}
        pods = [typed.pod(p) for p in self.pod_informer.store.by_index("namespace", namespace or "")
                if ep.selector_matches(selector, cu.meta(p).get("labels"))]
        zones: dict[str, str] = {cu.meta(n).get("name") or "": (cu.meta(n).get("labels") or {})[LABEL_ZONE]
                 for n in self.node_informer.store.list()
                 if (cu.meta(n).get("labels") or {}).get(LABEL_ZONE)}
        trigger = self.triggers.compute(key, service, pods)
        creates, updates, deletes = plan(service, slices, desired_endpoints(service, pods, zones=zones),
                                         max_per_slice=self.max_endpoints_per_slice)
        try:
            for body in creates:
                _set_trigger(body, trigger)
                created = await self.client.create(ENDPOINTSLICES, body, namespace=namespace)
                self._written.setdefault(key, {})[cu.meta(created)["name"]] = cu.meta(created)["resourceVersion"]
            for body in updates:
                _set_trigger(body, trigger)
                updated = await self.client.update(ENDPOINTSLICES, body)
                self._written.setdefault(key, {})[cu.meta(updated)["name"]] = cu.meta(updated)["resourceVersion"]
            for s in deletes:
                await self._delete(key, s)
        except errors.ApiError as e:
            self.triggers.forget(key)
            if isinstance(e, errors.Forbidden) and "being terminated" in (e.message or ""):
                return
            if not isinstance(e, (errors.Conflict, errors.AlreadyExists, errors.NotFound)):
                self.recorder.event({**service, "apiVersion": "v1", "kind": "Service"}, WARNING,
                                    "FailedToUpdateEndpointSlices",
                                    f"Error updating Endpoint Slices for Service {key}: {e}")
            raise

    async def _delete(self, key: str, s: EndpointSlice) -> None:
        md = cu.meta(s)
        try:
            await self.client.delete(ENDPOINTSLICES, md["name"], namespace=md.get("namespace"),
                                     preconditions={"uid": md.get("uid")})
        except (errors.NotFound, errors.Conflict):
            return
        self._written.setdefault(key, {})[md["name"]] = None


def _set_trigger(s: dict[str, Any], trigger: str | None) -> None:
    annotations = dict(s["metadata"].get("annotations") or {})
    if trigger:
        annotations[ep.ANNOTATION_TRIGGER_TIME] = trigger
    else:
        annotations.pop(ep.ANNOTATION_TRIGGER_TIME, None)
    s["metadata"]["annotations"] = annotations or None
