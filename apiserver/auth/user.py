"""The authenticated identity of a request (Kubernetes' ``user.Info``) and the well-known names.

An authenticator turns credentials into a ``UserInfo``; the request carries it in
``request.scope[USER_KEY]`` for authorization, admission, audit and managedFields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

USER_KEY = "minik8s.user"

ANONYMOUS = "system:anonymous"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
NODES = "system:nodes"
NODE_PREFIX = "system:node:"
SERVICEACCOUNTS = "system:serviceaccounts"
SERVICEACCOUNT_PREFIX = "system:serviceaccount:"
BOOTSTRAPPERS = "system:bootstrappers"


@dataclasses.dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def extra_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.extras}

    def api_dict(self) -> dict[str, Any]:
        """authentication/v1 UserInfo (``username``, then ``uid``, ``groups``, ``extra`` when
        set): what SelfSubjectReview, a CSR's spec and the audit log say of a user."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extras:
            out["extra"] = self.extra_dict()
        return out


ANONYMOUS_USER = UserInfo(name=ANONYMOUS, groups=(UNAUTHENTICATED,))
