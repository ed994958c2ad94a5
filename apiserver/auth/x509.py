"""x509 client-certificate authentication, read once per TLS connection.

The serving socket asks every client for a certificate and verifies one that is offered
against ``--client-ca-file`` (``ssl.CERT_OPTIONAL``: a certificate the CA did not sign, or one
not meant for client auth, fails the handshake; none at all is fine, it is then up to the
other authenticators). uvicorn's protocols are subclassed (:func:`tls_protocol`) so that when
a connection is made, its verified certificate becomes a :class:`~apiserver.auth.user.UserInfo`
(CN = user, each O = a group, as Kubernetes' x509 authenticator reads them) stored in the
connection's copy of the ASGI ``state``; every request of that connection finds it at
``scope["state"][PEER_KEY]`` without parsing anything again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver.auth.authenticate import Credentials
from apiserver.auth.user import UserInfo

__all__ = ["PEER_KEY", "Authenticator", "peer_user", "tls_protocol"]

PEER_KEY = "minik8s.peer"


def peer_user(transport: asyncio.BaseTransport) -> UserInfo | None:
    """The user a connection's verified client certificate names; None without one."""
    cert: Any = transport.get_extra_info("peercert")
    if not cert:
        return None
    cn = ""
    groups: list[str] = []
    for rdn in cert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                groups.append(value)
    if not cn:
        return None
    return UserInfo(name=cn, groups=tuple(groups))


def tls_protocol(base: type) -> type:
    """``base`` (a uvicorn HTTP or WebSocket protocol class) that records the peer's identity."""

    class PeerIdentityProtocol(base):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # A per-connection copy of the server's state: uvicorn copies it into every
            # request's scope, so the identity travels with each request of this connection.
            self.app_state = {**self.app_state, PEER_KEY: peer_user(transport)}

    PeerIdentityProtocol.__name__ = PeerIdentityProtocol.__qualname__ = f"PeerIdentity{base.__name__}"
    return PeerIdentityProtocol


class Authenticator:
    """The chain's x509 link: the connection's verified client certificate, if any."""

    name = "x509"

    async def authenticate(self, creds: Credentials) -> UserInfo | None:
        return creds.peer
