"""Acting as someone else: the ``Impersonate-User``, ``Impersonate-Group``, ``Impersonate-Uid``
and ``Impersonate-Extra-<key>`` headers (``kubectl --as``, ``--as-group``, ``--as-uid``), as
Kubernetes' impersonation filter reads them.

The authenticated requester must be allowed the verb ``impersonate`` on each thing asked
for, through the same authorizer chain as every request: ``users`` (or ``serviceaccounts``
in their namespace, for ``system:serviceaccount:<ns>:<name>``) and ``groups`` in the core
group, ``uids`` and ``userextras/<key>`` in ``authentication.k8s.io``. Any refusal is a 403
naming what was refused; groups, uid or extras without a user is a 400. The impersonated
user then gets ``system:authenticated`` (``system:unauthenticated`` for ``system:anonymous``)
unless one of those was asked for explicitly, and a ServiceAccount with no groups asked gets
``system:serviceaccounts`` and ``system:serviceaccounts:<ns>``.
"""

from __future__ import annotations

from urllib.parse import unquote

from apiserver import errors
from apiserver.auth.attributes import Attributes, Authorizer, Decision
from apiserver.auth.authenticate import Credentials
from apiserver.auth.authorize import forbidden_message
from apiserver.auth.user import (
    ANONYMOUS,
    AUTHENTICATED,
    SERVICEACCOUNT_PREFIX,
    SERVICEACCOUNTS,
    UNAUTHENTICATED,
    UserInfo,
)

__all__ = ["impersonate", "requested"]

_USER = b"impersonate-user"
_GROUP = b"impersonate-group"
_UID = b"impersonate-uid"
_EXTRA = b"impersonate-extra-"


def requested(creds: Credentials) -> bool:
    """Whether the request asks to impersonate anyone (cheap: most requests do not)."""
    return any(k.startswith(b"impersonate-") for k, _ in creds.headers)


def impersonate(requester: UserInfo, creds: Credentials, authorizer: Authorizer) -> UserInfo:
    """The user the request acts as; raises a 400 or 403 :class:`~apiserver.errors.StatusError`."""
    username: str | None = None
    uid: str | None = None
    groups: list[str] = []
    extras: dict[str, list[str]] = {}
    for k, v in creds.headers:
        value = v.decode("latin-1").strip()
        if k == _USER:
            username = value
        elif k == _GROUP:
            groups.append(value)
        elif k == _UID:
            uid = value
        elif k.startswith(_EXTRA):
            key = unquote(k[len(_EXTRA):].decode("latin-1")).lower()
            extras.setdefault(key, []).append(value)
    if username is None:
        asked = (["Impersonate-Group"] if groups else []) + (["Impersonate-Uid"] if uid is not None else []) + \
            [f"Impersonate-Extra-{k}" for k in extras]
        raise errors.BadRequest(f"requested {asked} without impersonating a user")

    checks: list[Attributes] = []

    def check(resource: str, name: str, *, group: str = "", namespace: str = "", subresource: str = "") -> None:
        checks.append(Attributes(user=requester, verb="impersonate", resource_request=True, namespace=namespace,
                                 api_group=group, resource=resource, subresource=subresource, name=name))

    sa_namespace = ""
    if username.startswith(SERVICEACCOUNT_PREFIX) and username.count(":") == 3:
        sa_namespace, sa_name = username[len(SERVICEACCOUNT_PREFIX):].split(":", 1)
        check("serviceaccounts", sa_name, namespace=sa_namespace)
    else:
        check("users", username)
    for g in groups:
        check("groups", g)
    if uid is not None:
        check("uids", uid, group="authentication.k8s.io")
    for key, values in extras.items():
        for value in values:
            check("userextras", value, group="authentication.k8s.io", subresource=key)
    for attrs in checks:
        verdict = authorizer.authorize(attrs)
        if verdict.decision is not Decision.ALLOW:
            details = {"name": attrs.name, "kind": attrs.resource}
            if attrs.api_group:
                details["group"] = attrs.api_group
            raise errors.Forbidden(forbidden_message(attrs, verdict.reason), details=details)

    if sa_namespace and not groups:
        groups = [SERVICEACCOUNTS, f"{SERVICEACCOUNTS}:{sa_namespace}"]
    if not (AUTHENTICATED in groups or UNAUTHENTICATED in groups):
        groups.append(UNAUTHENTICATED if username == ANONYMOUS else AUTHENTICATED)
    return UserInfo(name=username, uid=uid or "", groups=tuple(groups),
                    extras=tuple((k, tuple(v)) for k, v in extras.items()))
