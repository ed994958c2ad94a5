"""Serving HTTPS with uvicorn and knowing, per connection, who the client certificate says the
caller is: what the apiserver and the kubelet's node API share.

The serving socket asks every client for a certificate and verifies one that is offered
against the client CA (``ssl.CERT_OPTIONAL``: a certificate the CA did not sign, or one not
meant for client auth, fails the handshake; none at all is allowed, and then it is up to other
credentials). uvicorn's protocol classes are subclassed (:func:`tls_protocol`) so that when a
connection is made its verified certificate's subject -- ``(CN, (O, ...))``, the user and
groups as Kubernetes' x509 authenticator reads them -- is stored in the connection's copy of
the ASGI ``state``: every request of the connection finds it at ``scope["state"][PEER_KEY]``
without parsing anything again.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

__all__ = ["PEER_KEY", "Subject", "peer_subject", "tls_protocol", "uvicorn_options"]

PEER_KEY = "minik8s.peer"

#: ``(common name, organizations)`` of a verified client certificate.
Subject = tuple[str, tuple[str, ...]]


def peer_subject(transport: asyncio.BaseTransport) -> Subject | None:
    """The verified client certificate's subject of a connection; None without one."""
    cert: Any = transport.get_extra_info("peercert")
    if not cert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in cert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return (cn, tuple(orgs)) if cn else None


def tls_protocol(base: type[Any]) -> type[Any]:
    """``base`` (a uvicorn HTTP or WebSocket protocol class) that records the peer's subject."""

    class PeerSubjectProtocol(base):  # type: ignore[misc]  # the base is chosen at run time (HTTP or WebSocket)
        app_state: dict[str, Any]

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            # A per-connection copy of the server's state: uvicorn copies it into every
            # request's scope, so the subject travels with each request of this connection.
            self.app_state = {**self.app_state, PEER_KEY: peer_subject(transport)}

    PeerSubjectProtocol.__name__ = PeerSubjectProtocol.__qualname__ = f"PeerSubject{base.__name__}"
    return PeerSubjectProtocol


def uvicorn_options(cert_file: str, key_file: str, client_ca_file: str | None, *,
                    websockets: bool = True) -> dict[str, Any]:
    """uvicorn's settings to serve ``cert_file`` and, with a client CA, verify and record
    client certificates. ``websockets=False`` for a server that serves no WebSocket (a
    control loop's /metrics): uvicorn then loads no WebSocket implementation (wsproto) and
    answers an upgrade request as a plain HTTP request."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # proxy_headers off: uvicorn would otherwise take a loopback peer's X-Forwarded-For as the
    # client's address, so the peer itself would be lost (the audit log's sourceIPs keep the
    # forwarded hops and then the peer, as Kubernetes' do); no proxy fronts these servers.
    opts: dict[str, Any] = {"ssl_certfile": cert_file, "ssl_keyfile": key_file, "proxy_headers": False,
                            "http": tls_protocol(HttpToolsProtocol), "ws": "none"}
    if client_ca_file:
        opts |= {"ssl_ca_certs": client_ca_file, "ssl_cert_reqs": ssl.CERT_OPTIONAL}
    if websockets:
        opts["ws"] = tls_protocol(_ws_protocol())
    return opts


def _ws_protocol() -> type[Any]:
    # wsproto, not websockets: kubectl port-forward's subprotocol (SPDY/3.1+portforward.k8s.io)
    # is no RFC 6455 token, and the websockets server refuses that handshake outright.
    from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

    class _Unpaused(WSProtocol):
        async def send(self, message: Any) -> None:
            # A refused handshake ends the connection once its response is written, so the
            # response says so: without ``Connection: close`` a client keeping the connection
            # alive sends its next request into a socket about to close.
            if message["type"] == "websocket.http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await super().send(message)

        def handle_message(self, event: Any) -> None:
            super().handle_message(event)
            if self.read_paused:
                self.read_paused = False
                self.transport.resume_reading()

    return _Unpaused
