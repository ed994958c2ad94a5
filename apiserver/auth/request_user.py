"""The user of the request being served, for code below the HTTP layer (REST write hooks such as
escalation prevention and NodeRestriction) that is not handed the request.

The app sets it from ``request.scope[USER_KEY]`` when it starts serving a resource request; it
lives in a ``ContextVar``, so each request's task sees its own. None means no request user:
the apiserver's own writes (bootstrap policy, the kubernetes Service), or a server running
without authentication.
"""

from __future__ import annotations

import contextvars

from apiserver.auth.user import UserInfo

_current: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar("minik8s_request_user", default=None)


def get() -> UserInfo | None:
    return _current.get()


def set(user: UserInfo | None) -> contextvars.Token[UserInfo | None]:
    return _current.set(user)


def reset(token: contextvars.Token[UserInfo | None]) -> None:
    _current.reset(token)
