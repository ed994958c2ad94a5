"""What a request asks to do, read from its method, path and query alone (Kubernetes'
``RequestInfoFactory``), as the :class:`~apiserver.auth.attributes.Attributes` authorizers see.

Resource requests are ``/api/{version}/...`` and ``/apis/{group}/{version}/...`` with at
least a resource after the version; everything else (``/api``, ``/api/v1``, ``/apis/g/v``,
``/healthz``, ``/openapi/v3``, ...) is a non-resource request whose verb is the lower-cased
HTTP method. For resources the verb comes from the method (GET/HEAD get, POST create, PUT
update, PATCH patch, DELETE delete), a ``/watch/`` path segment, then: a GET naming no object
is ``list``, or ``watch`` with ``watch=true``; a DELETE naming none is ``deletecollection``.
A list or watch with a ``metadata.name=X`` field selector names object X. Like Kubernetes,
``/api/v1/namespaces/X`` is in namespace X, so a namespace's own RoleBindings may grant
reading it. The path is not checked against the registry: an authorizer may be asked about
a resource that does not exist, which then answers 404 once allowed.

The answer depends on nothing but the arguments and is immutable, so recent ones are kept
(every create in a namespace asks the same thing): building an ``Attributes`` costs more than
the rest of the authorization of a request.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qsl

from apiserver.auth.attributes import Attributes
from apiserver.auth.user import UserInfo

__all__ = ["ATTRS_KEY", "attributes"]

#: Where the authentication filter leaves a request's Attributes in the ASGI scope (for the
#: request metrics, which label by them).
ATTRS_KEY = "minik8s.attributes"

_METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_TRUE = frozenset(("1", "t", "T", "true", "True", "TRUE"))
_NAMESPACE_SUBRESOURCES = frozenset(("status", "finalize"))


def _query(query_string: bytes) -> dict[str, str]:
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)) if query_string else {}


def _name_from_field_selector(selector: str) -> str:
    """X of ``metadata.name=X`` (or ``==``) when the selector requires exactly that."""
    for term in selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and not key.endswith("!"):
            value = value.strip()
            if value and value not in (".", "..") and "/" not in value and "%" not in value:
                return value
    return ""


@functools.lru_cache(maxsize=8192)
def attributes(user: UserInfo, method: str, path: str, query_string: bytes = b"") -> Attributes:
    """The authorization attributes of ``method path?query`` asked by ``user``."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return Attributes(user=user, verb=method.lower(), resource_request=False, path=path)
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return Attributes(user=user, verb=method.lower(), resource_request=False, path=path)
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method.upper(), method.lower())
    if rest[0] == "watch":
        if len(rest) < 2:
            return Attributes(user=user, verb=method.lower(), resource_request=False, path=path)
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        q = _query(query_string)
        verb = "watch" if q.get("watch") in _TRUE else "list"
        if q.get("fieldSelector"):
            name = _name_from_field_selector(q["fieldSelector"])
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user=user, verb=verb, resource_request=True, namespace=namespace, api_group=group,
                      api_version=version, resource=resource, subresource=subresource, name=name, path=path)
