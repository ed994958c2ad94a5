"""The ``default/kubernetes`` Service, its Endpoints and EndpointSlice: how pods find the
apiserver, kept by the apiserver itself as Kubernetes' does (the service takes the first
address of the service range; its endpoints are the advertised addresses of the live apiservers,
which :mod:`apiserver.endpoint_reconciler` keeps).

minik8s serves plain HTTP, so the service's port 443 (named ``https`` as in Kubernetes)
forwards to the apiserver's HTTP port: ``curl http://kubernetes.default.svc:443/version``.
"""

from __future__ import annotations

import logging
from typing import Any

from apiserver import errors
from apiserver.registry import table as registry
from apiserver.rest import RestStorage
from minik8s.api import resources as rs

log = logging.getLogger(__name__)

NAME, NAMESPACE = "kubernetes", "default"
MANAGER = "kube-apiserver"


def service(cluster_ip: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}


def endpoints(addresses: list[str], port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": a} for a in addresses],
                         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}


def endpoint_slice(addresses: list[str], port: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


async def ensure(rest: RestStorage, *, cluster_ip: str, addresses: list[str], port: int) -> None:
    """Create the three objects, or bring the endpoints to ``addresses`` (every live apiserver,
    in order) on ``port``."""
    svc_entry = registry.BY_TYPE[rs.SERVICES]
    try:
        await rest.get(svc_entry, NAMESPACE, NAME)
    except errors.NotFound:  # looked up first: a create would be refused for its taken cluster IP
        try:
            await rest.create(svc_entry, NAMESPACE, service(cluster_ip, port), field_manager=MANAGER)
        except errors.AlreadyExists:
            pass
        except errors.Invalid as e:  # the first address is taken by a user's service
            log.warning("cannot create service default/kubernetes: %s", e.message)
    for rt, body, field in ((rs.ENDPOINTS, endpoints(addresses, port), "subsets"),
                            (rs.ENDPOINTSLICES, endpoint_slice(addresses, port), "endpoints")):
        entry = registry.BY_TYPE[rt]
        try:
            await rest.create(entry, NAMESPACE, body, field_manager=MANAGER)
        except errors.AlreadyExists:
            current = await rest.get(entry, NAMESPACE, NAME)
            if current.get(field) != body[field] or current.get("ports") != body.get("ports"):
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                await rest.update(entry, NAMESPACE, NAME, body, field_manager=MANAGER)
