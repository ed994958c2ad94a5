"""Bootstrap tokens (Kubernetes' ``plugin/pkg/auth/authenticator/token/bootstrap``): short-lived
bearer tokens ``<id>.<secret>`` (6 and 16 of ``[a-z0-9]``) that let a joining node ask for its
own certificate, kept as Secrets ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token`` with ``token-id``, ``token-secret``, ``expiration``
(RFC 3339), ``usage-bootstrap-authentication: "true"`` and ``auth-extra-groups``.

A good token authenticates as ``system:bootstrap:<id>`` in ``system:bootstrappers`` and the
extra groups (each must start with ``system:bootstrappers:``). A token of that shape that does
not match a usable Secret (absent, being deleted, expired, not for authentication, another
secret) is refused; any other token is left to the other authenticators.
"""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable, Sequence
from typing import Any

from apiserver.auth.serviceaccount_tokens import Getter, TokenInvalid
from apiserver.auth.user import BOOTSTRAPPERS, UserInfo
from minik8s.api import bootstraptoken as bt
from minik8s.timestamps import to_unix

__all__ = ["BootstrapTokens"]

TOKEN_PATTERN, SECRET_TYPE, SECRET_PREFIX = bt.TOKEN_PATTERN, bt.SECRET_TYPE, bt.SECRET_PREFIX
NAMESPACE, USER_PREFIX = bt.NAMESPACE, bt.USER_PREFIX


def _data(secret: dict[str, Any], key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else ""


class BootstrapTokens:
    """A bearer-token authenticator (``apiserver.auth.bearer_tokens``) over bootstrap Secrets."""

    name = "bootstrap-token"

    def __init__(self, get: Getter, *, clock: Callable[[], float] = time.time) -> None:
        """``get(plural, namespace, name)``: the object or None (``bearer_tokens.cache_getter``)."""
        self.get = get
        self.clock = clock  # for tests

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None
                                 ) -> tuple[UserInfo, tuple[str, ...]] | None:
        m = TOKEN_PATTERN.match(token)
        if m is None:
            return None
        token_id, token_secret = m.groups()
        secret = await self.get("secrets", NAMESPACE, SECRET_PREFIX + token_id)
        if secret is None:
            raise TokenInvalid(f"no bootstrap token secret for token id {token_id}")
        if secret["metadata"].get("deletionTimestamp"):
            raise TokenInvalid(f"bootstrap token secret {SECRET_PREFIX}{token_id} is being deleted")
        if secret.get("type") != SECRET_TYPE:
            raise TokenInvalid(f"secret {SECRET_PREFIX}{token_id} is not of type {SECRET_TYPE}")
        if not hmac.compare_digest(_data(secret, "token-secret"), token_secret) or \
                _data(secret, "token-id") not in ("", token_id):
            raise TokenInvalid(f"bootstrap token {token_id}: the secret does not match")
        exp = _data(secret, "expiration")
        if exp:
            expires = to_unix(exp)
            if expires is None or expires < self.clock():
                raise TokenInvalid(f"bootstrap token {token_id} has expired")
        if _data(secret, "usage-bootstrap-authentication") != "true":
            raise TokenInvalid(f"bootstrap token {token_id} is not usable for authentication")
        groups = [BOOTSTRAPPERS]
        for g in filter(None, (x.strip() for x in _data(secret, "auth-extra-groups").split(","))):
            if not g.startswith(BOOTSTRAPPERS + ":"):
                raise TokenInvalid(f"bootstrap token {token_id}: extra group {g!r} is not in {BOOTSTRAPPERS}:")
            groups.append(g)
        # audiences: a bootstrap token is good for this apiserver only (Kubernetes ignores them)
        return UserInfo(name=USER_PREFIX + token_id, groups=tuple(groups)), tuple(audiences or ())
