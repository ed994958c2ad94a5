"""Who sent a request: the apiserver's chain of authenticators (Kubernetes' union
authenticator with the anonymous fallback).

Each :class:`Authenticator` looks at a request's :class:`Credentials` and answers one of three
ways: a :class:`~apiserver.auth.user.UserInfo` (these are its credentials and they are good),
``None`` (no credentials of its kind: no opinion), or it raises :class:`InvalidCredentials`
(credentials of its kind that are wrong: an unknown or expired token, ...).

:class:`Chain` asks them in order, x509 client certificates first; the first user wins. Other
modules add theirs with :meth:`Chain.add` when the apiserver is assembled
(``apiserver/main.py``: ServiceAccount and bootstrap-token bearer authenticators go after
x509). When no authenticator knew the request: if one of them said the credentials were
wrong, the answer is 401 Unauthorized; if it carried no credentials at all it is
``system:anonymous`` (group ``system:unauthenticated``), unless ``--anonymous-auth=false``,
and the authorizer decides what that user may do. Every authenticated user also gets the
group ``system:authenticated``, as Kubernetes adds it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Protocol

from apiserver.auth.user import ANONYMOUS_USER, AUTHENTICATED, UserInfo

__all__ = ["Authenticator", "Chain", "Credentials", "InvalidCredentials", "Unauthenticated"]

log = logging.getLogger(__name__)


class InvalidCredentials(Exception):
    """Raised by an authenticator when the request carries credentials of its kind that it
    rejects (the message is logged, never sent to the client)."""


class Unauthenticated(Exception):
    """Raised by :meth:`Chain.authenticate` when the request must be answered 401."""


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presents: the TLS peer's identity (verified by the handshake), its
    headers (lower-cased names, as ASGI gives them) and, for a WebSocket handshake, the
    subprotocols it offers (None for an HTTP request)."""

    peer: UserInfo | None
    headers: tuple[tuple[bytes, bytes], ...]
    subprotocols: tuple[str, ...] | None = None

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower-case bytes), decoded."""
        for k, v in self.headers:
            if k == name:
                return v.decode("latin-1")
        return None

    @property
    def authorization(self) -> str | None:
        return self.header(b"authorization")

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, if the request has one."""
        auth = self.authorization
        if not auth:
            return None
        scheme, _, token = auth.strip().partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


class Authenticator(Protocol):
    """One way of proving who one is (x509, a bearer token kind, ...)."""

    name: str

    async def authenticate(self, creds: Credentials) -> UserInfo | None: ...


class Chain:
    """The authenticators in order, and what to do when none knows the request."""

    def __init__(self, authenticators: list[Authenticator] | None = None, *, anonymous: bool = True) -> None:
        self.authenticators: list[Authenticator] = list(authenticators or [])
        self.anonymous = anonymous

    def add(self, authenticator: Authenticator) -> None:
        """Append an authenticator (asked after those already in the chain)."""
        self.authenticators.append(authenticator)

    async def authenticate(self, creds: Credentials) -> UserInfo:
        """The request's user; raises :class:`Unauthenticated` for a 401."""
        failures: list[str] = []
        for a in self.authenticators:
            try:
                user = await a.authenticate(creds)
            except InvalidCredentials as e:
                failures.append(f"{a.name}: {e}")
                continue
            if user is not None:
                if AUTHENTICATED in user.groups:
                    return user
                return _authenticated(user)
        if failures:
            log.info("unable to authenticate the request: %s", "; ".join(failures))
            raise Unauthenticated("; ".join(failures))
        if creds.authorization is not None:
            # An Authorization header no authenticator understands (Basic, an unknown scheme,
            # a token nobody issued): wrong credentials, never anonymous.
            raise Unauthenticated("no authenticator accepted the Authorization header")
        if not self.anonymous:
            raise Unauthenticated("anonymous requests are disabled (--anonymous-auth=false)")
        return ANONYMOUS_USER


@functools.lru_cache(maxsize=4096)
def _authenticated(user: UserInfo) -> UserInfo:
    """``user`` with the group ``system:authenticated``: one object per user, so what the
    request path keeps by the user's identity (the audit policy's recent decisions) finds it
    again on the next request of the same user, and nothing new is made per request."""
    return dataclasses.replace(user, groups=(*user.groups, AUTHENTICATED))
