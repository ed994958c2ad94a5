"""x509 client-certificate authentication: the user a connection's verified client certificate
names (CN = user, each O = a group, as Kubernetes' x509 authenticator reads them).

The handshake verifies the certificate against ``--client-ca-file``; :mod:`minik8s.tlspeer`
records its subject once per connection in ``scope["state"][PEER_KEY]``; the filter hands it
to the chain as :attr:`Credentials.peer <apiserver.auth.authenticate.Credentials.peer>`.
"""

from __future__ import annotations

import functools
from typing import Any

from apiserver.auth.authenticate import Credentials
from apiserver.auth.user import UserInfo
from minik8s.tlspeer import PEER_KEY, Subject

__all__ = ["PEER_KEY", "Authenticator", "peer_user"]


@functools.lru_cache(maxsize=4096)
def peer_user(subject: Subject | None) -> UserInfo | None:
    """The user of a verified certificate's subject; None without one."""
    if subject is None:
        return None
    return UserInfo(name=subject[0], groups=subject[1])


class Authenticator:
    """The chain's x509 link: the connection's verified client certificate, if any."""

    name = "x509"

    async def authenticate(self, creds: Credentials) -> UserInfo | None:
        return creds.peer


def credentials_peer(state: dict[str, Any]) -> UserInfo | None:
    """The x509 user of a request's ASGI ``state``."""
    return peer_user(state.get(PEER_KEY))
