"""May the user do it: the apiserver's authorizer chain (``--authorization-mode``).

Kubernetes' union authorizer: each authorizer in order answers ALLOW, DENY or NO_OPINION;
the first ALLOW or DENY decides; when all have no opinion the request is forbidden (403).
The chain always starts with two fixed links, then the modes ``--authorization-mode`` lists
(comma-separated, in order):

1. members of ``system:masters`` may do anything (Kubernetes' privileged-group authorizer,
   which it puts before every mode);
2. everyone, anonymous included, may GET the health, version and discovery paths
   (``/healthz``, ``/livez``, ``/readyz``, ``/version``, ``/api``, ``/apis``, ``/openapi``
   and below): what Kubernetes' bootstrap ClusterRoles ``system:public-info-viewer`` and
   ``system:discovery`` grant; and the web dashboard's static files (``/ui``, ``/ui/`` and
   below: no cluster data, as the Kubernetes Dashboard serves its assets; see
   :mod:`apiserver.dashboard.route`).

Modes: ``Node`` and ``RBAC`` (registered by :mod:`apiserver.auth.policy`, which implements
them, with :func:`register_mode`), ``AlwaysAllow`` allows every *authenticated* request
(Kubernetes refuses anonymous requests altogether under AlwaysAllow; here anonymous keeps the
public paths above and nothing else), ``AlwaysDeny`` denies everything. The default is
:data:`DEFAULT_MODES`, ``Node,RBAC`` as kubeadm and k3s run it: secure by default.

:func:`forbidden_message` words a refusal as Kubernetes does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from apiserver.auth.attributes import Attributes, Authorizer, Decision, Verdict
from apiserver.auth.user import ANONYMOUS, MASTERS

__all__ = ["AlwaysAllow", "AlwaysDeny", "Chain", "DEFAULT_MODES", "MODES", "PrivilegedGroup", "PublicPaths",
           "build", "forbidden_message", "register_mode"]

ALLOW = Verdict(Decision.ALLOW)
NO_OPINION = Verdict(Decision.NO_OPINION)

#: ``--authorization-mode`` when none is given.
DEFAULT_MODES: tuple[str, ...] = ("Node", "RBAC")

#: Paths anyone may GET (exact), and prefixes under which anyone may GET.
PUBLIC_PATHS = frozenset(("/healthz", "/livez", "/readyz", "/version", "/version/", "/api", "/api/", "/apis",
                          "/apis/", "/openapi", "/openapi/", "/ui"))
PUBLIC_PREFIXES = ("/api/", "/apis/", "/openapi/", "/ui/")


class PrivilegedGroup:
    """Allows everything to members of a group (``system:masters``)."""

    def __init__(self, group: str = MASTERS) -> None:
        self.group = group

    def authorize(self, attrs: Attributes) -> Verdict:
        return ALLOW if self.group in attrs.user.groups else NO_OPINION


class PublicPaths:
    """Allows ``get`` of the health, version and discovery paths to everyone."""

    def authorize(self, attrs: Attributes) -> Verdict:
        if attrs.resource_request or attrs.verb not in ("get", "head"):
            return NO_OPINION
        p = attrs.path
        if p in PUBLIC_PATHS or p.startswith(PUBLIC_PREFIXES):
            return ALLOW
        return NO_OPINION


class AlwaysAllow:
    """Allows every authenticated request."""

    def authorize(self, attrs: Attributes) -> Verdict:
        return NO_OPINION if attrs.user.name == ANONYMOUS else ALLOW


class AlwaysDeny:
    def authorize(self, attrs: Attributes) -> Verdict:
        return Verdict(Decision.DENY, "Everything is forbidden.")


#: Mode name -> factory(server) making its authorizer (the apiserver's application state is
#: passed for modes that read the API, such as RBAC).
MODES: dict[str, Callable[[Any], Authorizer]] = {
    "AlwaysAllow": lambda server: AlwaysAllow(),
    "AlwaysDeny": lambda server: AlwaysDeny(),
}


def register_mode(name: str, factory: Callable[[Any], Authorizer]) -> None:
    """Make ``--authorization-mode=<name>`` build ``factory(server)``."""
    MODES[name] = factory


class Chain:
    """The union authorizer: the first ALLOW or DENY decides; otherwise NO_OPINION."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = list(authorizers)

    def authorize(self, attrs: Attributes) -> Verdict:
        reasons: list[str] = []
        for a in self.authorizers:
            v = a.authorize(attrs)
            if v.decision is not Decision.NO_OPINION:
                return v
            if v.reason:
                reasons.append(v.reason)
        return Verdict(Decision.NO_OPINION, ", ".join(reasons))


def build(modes: Sequence[str], server: Any) -> Chain:
    """The chain for ``--authorization-mode`` (already checked against :data:`MODES`)."""
    return Chain([PrivilegedGroup(), PublicPaths(), *(MODES[m](server) for m in modes)])


def _resource_phrase(attrs: Attributes) -> str:
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    scope = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    return f'resource "{resource}" in API group "{attrs.api_group}"{scope}'


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """Kubernetes' words for a refusal, e.g. ``pods "web" is forbidden: User "bob" cannot get
    resource "pods" in API group "" in the namespace "default"``."""
    who = f'User "{attrs.user.name}"'
    if attrs.resource_request:
        what = attrs.resource + (f".{attrs.api_group}" if attrs.api_group else "")
        subject = f'{what} "{attrs.name}"' if attrs.name else what
        msg = f"{subject} is forbidden: {who} cannot {attrs.verb} {_resource_phrase(attrs)}"
    else:
        msg = f'forbidden: {who} cannot {attrs.verb} path "{attrs.path}"'
    return f"{msg}: {reason}" if reason else msg
