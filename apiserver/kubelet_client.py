"""How the apiserver reaches a kubelet (``pods/log``, ``pods/exec``): only at the node's
registered address and port, over TLS, verifying the kubelet's serving certificate against the
cluster CA and presenting the apiserver's own client certificate.

The address is the node's ``InternalIP`` and must be an IP address (the Node's validation
already refuses anything else; this checks again, so an object stored before that rule cannot
steer a request elsewhere); the port is ``status.daemonEndpoints.kubeletEndpoint.Port``. The
certificate must be signed by ``--kubelet-certificate-authority`` (default the cluster CA) and
name that IP; the apiserver authenticates with ``--kubelet-client-certificate``/``-key``
(``kube-apiserver-kubelet-client``, group ``system:masters``). Anything else is no kubelet of
this cluster: the request is refused with 503 and nothing is sent to it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import ssl
from typing import TYPE_CHECKING, Any

import httpx

from apiserver import errors
from apiserver.registry import table as registry
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.rest import RestStorage
    from apiserver.scope import Server

__all__ = ["Endpoint", "KubeletClient", "Target", "credentials", "endpoint", "endpoint_of"]

_CONNECT_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """A node's kubelet: its IP address and node API port."""

    node: str
    ip: str
    port: int

    def url(self, path_query: str, scheme: str = "https") -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{scheme}://{host}:{self.port}{path_query}"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """Where a streaming request goes (``pods/exec``, ``pods/attach``, ``pods/portforward``): the
    kubelet's URL path and query, on its host and port."""

    endpoint: Endpoint
    path_query: str

    @property
    def node(self) -> str:
        return self.endpoint.node

    def url(self, scheme: str) -> str:
        return self.endpoint.url(self.path_query, scheme)


async def endpoint(rest: RestStorage, node_name: str) -> Endpoint:
    """The kubelet of ``node_name``, from the Node's registered status."""
    return endpoint_of(await rest.get(registry.BY_TYPE[rs.NODES], None, node_name))


def endpoint_of(node: dict[str, Any]) -> Endpoint:
    """The kubelet of a Node object (ServiceUnavailable when it has no valid endpoint)."""
    node_name = node["metadata"]["name"]
    status = node.get("status") or {}
    addr = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not addr or not port:
        raise errors.ServiceUnavailable(f"node {node_name} has no kubelet endpoint")
    try:
        ip = str(ipaddress.ip_address(addr))
    except ValueError:
        raise errors.ServiceUnavailable(f"node {node_name} has no valid InternalIP: {addr!r} is not an IP address") \
            from None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise errors.ServiceUnavailable(f"node {node_name} has no valid kubelet port: {port!r}")
    return Endpoint(node_name, ip, port)


class KubeletClient:
    """The TLS settings (and a pooled HTTP client) for talking to kubelets; ``tls`` holds
    ``kubelet_ca``, ``kubelet_client_cert`` and ``kubelet_client_key`` paths
    (:class:`apiserver.serving.TLSFiles`)."""

    def __init__(self, tls: Any) -> None:
        self._ca = getattr(tls, "kubelet_ca", None)
        self._cert = getattr(tls, "kubelet_client_cert", None)
        self._key = getattr(tls, "kubelet_client_key", None)
        self._ssl: ssl.SSLContext | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the kubelet's certificate (CA and IP) and presents ours."""
        if self._ssl is None:
            if not self._ca:
                raise errors.ServiceUnavailable("the apiserver has no --kubelet-certificate-authority to verify "
                                                "kubelets with")
            ctx = ssl.create_default_context(cafile=self._ca)
            if self._cert and self._key:
                ctx.load_cert_chain(self._cert, self._key)
            self._ssl = ctx
        return self._ssl

    @property
    def http(self) -> httpx.AsyncClient:
        """One pooled client for log streams (no read timeout: a followed log may idle)."""
        if self._http is None:
            self._http = httpx.AsyncClient(verify=self.ssl_context, timeout=httpx.Timeout(_CONNECT_TIMEOUT_S, read=None),
                                           trust_env=False)
        return self._http

    def unreachable(self, ep: Endpoint, exc: BaseException) -> errors.StatusError:
        """The 503 for a kubelet that cannot be reached or is not one of ours."""
        return errors.ServiceUnavailable(f"unable to reach the kubelet of node {ep.node} at {ep.ip}:{ep.port}: {exc}")


def credentials(server: Server) -> KubeletClient:
    """The apiserver's client for kubelets (ServiceUnavailable when it was given none)."""
    if server.kubelet_client is None:
        raise errors.ServiceUnavailable("this apiserver has no credentials for kubelets")
    client: KubeletClient = server.kubelet_client
    return client
