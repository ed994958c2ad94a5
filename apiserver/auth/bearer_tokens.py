"""Bearer-token authenticators (Kubernetes' ``authenticator.Token``): each turns a token into a
user, says it does not know the token (None), or raises ``TokenInvalid`` for a token of its
kind that is not good. The apiserver keeps them in ``ApiServer.token_authenticators``, in
order; the request authenticator chain and TokenReview both ask them.

* :class:`ServiceAccountTokens`: JWTs naming one of this apiserver's issuers
  (:mod:`apiserver.auth.serviceaccount_tokens`); any other token is left to the others;
* ``BootstrapTokens`` (:mod:`apiserver.auth.bootstrap_tokens`): ``<id>.<secret>`` tokens of
  ``kube-system/bootstrap-token-<id>`` Secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from apiserver.auth.serviceaccount_tokens import Getter, TokenInvalid, TokenValidator
from apiserver.auth.user import UserInfo

__all__ = ["RequestTokens", "TokenAuthenticator", "ServiceAccountTokens", "TokenInvalid", "authenticate",
           "cache_getter"]


class TokenAuthenticator(Protocol):
    name: str

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None
                                 ) -> tuple[UserInfo, tuple[str, ...]] | None:
        """``(user, the audiences the token was accepted for)``; None: not a token of this kind."""


class ServiceAccountTokens:
    name = "serviceaccount-token"

    def __init__(self, validator: TokenValidator) -> None:
        self.validator = validator

    async def authenticate_token(self, token: str, audiences: Sequence[str] | None
                                 ) -> tuple[UserInfo, tuple[str, ...]] | None:
        if not self.validator.has_our_issuer(token):
            return None
        info = await self.validator.validate(token, audiences)
        return info.user(), info.audiences


def cache_getter(cache: Any) -> Getter:
    """Objects as the apiserver's watch cache has them (a lister's view), read through to the
    store for one created a moment ago: what the token authenticators look bound objects up in."""
    async def get(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        key = f"/registry/{plural}/{namespace}/{name}" if namespace else f"/registry/{plural}/{name}"
        found: dict[str, Any] | None = cache.resource(plural).objects.get(key)
        if found is None:
            found = await cache.read(key)
        return found
    return get


async def authenticate(authenticators: Sequence[TokenAuthenticator], token: str,
                       audiences: Sequence[str] | None = None) -> tuple[UserInfo, tuple[str, ...]]:
    """The first authenticator's answer; raises TokenInvalid (with every refusal) when none
    accepts the token."""
    refusals: list[str] = []
    for a in authenticators:
        try:
            found = await a.authenticate_token(token, audiences)
        except TokenInvalid as e:
            refusals.append(str(e))
            continue
        if found is not None:
            return found
    raise TokenInvalid("[" + ", ".join(["invalid bearer token", *refusals]) + "]")


class RequestTokens:
    """The request authenticator chain's bearer-token link (:mod:`apiserver.auth.authenticate`):
    ``Authorization: Bearer <token>`` asked of ``server.token_authenticators`` for the
    apiserver's own audiences. No such header: no opinion; a token none of them accepts:
    invalid credentials (401)."""

    name = "bearer-token"

    def __init__(self, server: Any) -> None:
        self.server = server

    async def authenticate(self, creds: Any) -> UserInfo | None:
        from apiserver.auth.authenticate import InvalidCredentials

        token = creds.bearer_token()
        if token is None:
            return None
        try:
            user, _ = await authenticate(self.server.token_authenticators, token)
        except TokenInvalid as e:
            raise InvalidCredentials(str(e)) from None
        return user
