"""A bearer token carried in a WebSocket subprotocol (Kubernetes'
``authentication/request/websocket``): how a browser authenticates a WebSocket, since its
``WebSocket`` API cannot set an ``Authorization`` header.

The client offers ``base64url.bearer.authorization.k8s.io.<token>`` (the token base64url
encoded without padding) beside at least one real subprotocol, e.g.
``["base64.binary.k8s.io", "base64url.bearer.authorization.k8s.io.ZXlK..."]``. Only a WebSocket
handshake is looked at (its offer is :attr:`Credentials.subprotocols
<apiserver.auth.authenticate.Credentials.subprotocols>`, the ASGI scope's). The token goes
to the same token authenticators as an ``Authorization: Bearer`` header
(``server.token_authenticators``); a token none accepts, a second token protocol, a bad
encoding or a token with no other protocol beside it are invalid credentials (401).

The token protocol is never chosen as the connection's subprotocol: :func:`strip` takes it out
of the handshake's offer once the request is authenticated, so what the server echoes can only
be one of the others (Kubernetes rewrites the header the same way).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from apiserver.auth import bearer_tokens
from apiserver.auth.authenticate import Credentials, InvalidCredentials
from apiserver.auth.user import UserInfo

__all__ = ["PREFIX", "ProtocolTokens", "strip", "token_of"]

PREFIX = "base64url.bearer.authorization.k8s.io."
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def token_of(protocols: list[str]) -> str | None:
    """The bearer token among ``protocols`` (None without one); raises InvalidCredentials for
    one that cannot be used."""
    tokens = [p[len(PREFIX):] for p in protocols if p.startswith(PREFIX)]
    if not tokens:
        return None
    if len(tokens) > 1:
        raise InvalidCredentials("multiple base64.bearer.authorization tokens specified")
    encoded = tokens[0]
    if not _BASE64URL.fullmatch(encoded) or len(encoded) % 4 == 1:  # base64url without padding only
        raise InvalidCredentials("invalid base64.bearer.authorization token encoding")
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        raise InvalidCredentials("invalid base64.bearer.authorization token") from None
    if not token:
        return None
    if len(protocols) == 1:
        # There must be another protocol to echo back once the token's is removed.
        raise InvalidCredentials("missing additional subprotocol")
    return token


class ProtocolTokens:
    """The request authenticator chain's WebSocket-subprotocol token link."""

    name = "websocket-protocol-token"

    def __init__(self, server: Any) -> None:
        self.server = server

    async def authenticate(self, creds: Credentials) -> UserInfo | None:
        if creds.subprotocols is None:  # not a WebSocket handshake
            return None
        token = token_of(list(creds.subprotocols))
        if token is None:
            return None
        try:
            user, _ = await bearer_tokens.authenticate(self.server.token_authenticators, token)
        except bearer_tokens.TokenInvalid as e:
            raise InvalidCredentials(str(e)) from None
        return user


def strip(scope: dict[str, Any]) -> None:
    """Take every token protocol out of a WebSocket scope's offer (``subprotocols``, what the
    application chooses from), whoever authenticated the request."""
    protocols: list[str] = scope.get("subprotocols") or []
    if any(p.startswith(PREFIX) for p in protocols):
        scope["subprotocols"] = [p for p in protocols if not p.startswith(PREFIX)]
