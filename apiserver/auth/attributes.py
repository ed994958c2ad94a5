"""What a request asks to do, as an authorizer sees it (Kubernetes' ``authorizer.Attributes``),
and the authorizer interface every mode (RBAC, Node, always-allow) implements."""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol

from apiserver.auth.user import UserInfo


@dataclasses.dataclass(frozen=True, slots=True)
class Attributes:
    user: UserInfo
    verb: str  # get list watch create update patch delete deletecollection; or the HTTP verb lowercased for non-resource paths
    resource_request: bool
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests


class Decision(enum.Enum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str = ""


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Verdict: ...
