"""Service environment variables: what a container learns about the services that exist when it
starts (Kubernetes' ``pkg/kubelet/envvars``).

For each service with a ClusterIP (not headless, not ExternalName) in the pod's namespace (all
of them only when ``spec.enableServiceLinks`` is not false), and always for the ``kubernetes``
service of ``default``::

    WEB_SERVICE_HOST=10.96.0.20        WEB_SERVICE_PORT=80        WEB_SERVICE_PORT_HTTP=80
    WEB_PORT=tcp://10.96.0.20:80       (Docker links, first port)
    WEB_PORT_80_TCP=tcp://10.96.0.20:80  WEB_PORT_80_TCP_PROTO=tcp  WEB_PORT_80_TCP_PORT=80
    WEB_PORT_80_TCP_ADDR=10.96.0.20

Names are upper-cased with ``-`` as ``_``. These are the lowest-precedence variables: the
container's own ``env``/``envFrom`` win, and ``$(VAR)`` in them may refer to these.
:class:`ServiceEnv` reads them from a Services informer, waiting for its first list as the
kubelet does (variables from a half-read cache would differ from pod to pod).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from minik8s.api import typed
from minik8s.api.resources import SERVICES
from minik8s.client.informer import SharedInformerFactory

__all__ = ["from_services", "env_for_pod", "ServiceEnv", "MASTER_NAMESPACE", "MASTER_SERVICES"]

MASTER_NAMESPACE = "default"
MASTER_SERVICES = frozenset({"kubernetes"})


def _var(name: str) -> str:
    return name.replace("-", "_").upper()


def _ip_set(service: typed.Service) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def from_services(services: Iterable[typed.Service]) -> dict[str, str]:
    """The variables for these services (Kubernetes' envvars.FromServices)."""
    out: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not _ip_set(svc) or not ports:
            continue
        ip = spec["clusterIP"]
        prefix = _var(svc["metadata"]["name"])
        out[f"{prefix}_SERVICE_HOST"] = ip
        out[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                out[f"{prefix}_SERVICE_PORT_{_var(p['name'])}"] = str(p["port"])
        for i, p in enumerate(ports):
            proto = (p.get("protocol") or "TCP")
            url = f"{proto.lower()}://{ip}:{p['port']}"
            if i == 0:
                out[f"{prefix}_PORT"] = url  # Docker special-cases the first port
            pp = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
            out[pp] = url
            out[f"{pp}_PROTO"] = proto.lower()
            out[f"{pp}_PORT"] = str(p["port"])
            out[f"{pp}_ADDR"] = ip
    return out


def env_for_pod(pod: typed.Pod, services: Iterable[typed.Service]) -> dict[str, str]:
    """The service variables a pod's containers get, from all services known (any namespace)."""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks")
    links = True if links is None else bool(links)
    chosen: dict[str, typed.Service] = {}
    for svc in services:
        md = svc.get("metadata") or {}
        if not _ip_set(svc):
            continue
        name, svc_ns = md.get("name") or "", md.get("namespace")
        if svc_ns == MASTER_NAMESPACE and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif svc_ns == ns and links:
            chosen[name] = svc  # a service of the pod's own namespace wins over the master's
    return from_services(chosen[k] for k in sorted(chosen))


class ServiceEnv:
    """Service variables from a Services informer (any SharedInformerFactory's)."""

    def __init__(self, informers: SharedInformerFactory, *, sync_timeout: float = 30.0) -> None:
        self.informer = informers.informer(SERVICES)
        self.sync_timeout = sync_timeout

    async def env_for(self, pod: typed.Pod) -> dict[str, str]:
        """Raises TimeoutError while services have never been listed (the container waits)."""
        if not self.informer.has_synced:
            await asyncio.wait_for(self.informer.wait_synced(), self.sync_timeout)
        return env_for_pod(pod, map(typed.service, self.informer.store.list()))
