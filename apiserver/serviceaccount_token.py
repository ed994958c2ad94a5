"""The ServiceAccount ``token`` subresource (Kubernetes' ``pkg/registry/core/serviceaccount/
storage/token.go``): a request handler above the REST storage, apart from the ServiceAccount
strategy in the registry, which the REST storage itself reads.

``POST .../serviceaccounts/{name}/token`` takes an authentication.k8s.io/v1 TokenRequest and
answers it (201) with ``status.token`` and ``status.expirationTimestamp``; nothing is stored. The request is checked as Kubernetes does:
``spec.expirationSeconds`` between 10 minutes and 2^32 seconds (clamped to
``--service-account-max-token-expiration``), ``spec.boundObjectRef`` a Pod (running as this
account), Secret or Node of the right uid; the audiences default to the apiserver's. A
pod-bound token also names the pod's node. A token asked for with the kubelet's default
lifetime (3607 s) for a pod is issued for a year with a ``warnafter`` at the requested end
(Kubernetes' ``--service-account-extend-token-expiration``), while its status still reports
the requested expiry, so the kubelet keeps rotating it. A node (``system:node:<name>``) may
ask only for tokens bound, by uid, to a pod on itself (NodeRestriction).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pydantic

from apiserver import errors
from apiserver import validation as v
from apiserver.auth import node as node_auth
from apiserver.auth import request_user
from apiserver.auth.serviceaccount_tokens import EXPIRATION_EXTENSION_SECONDS, Bound, TokenIssuer
from apiserver.registry import table
from apiserver.rest import pydantic_errors
from apiserver.validation import FieldError
from minik8s.api import resources as rs
from minik8s.api import tokens as tokens_api
from minik8s.api.wellknown import serviceaccounts as sa_api
from minik8s.timestamps import from_unix

if TYPE_CHECKING:
    from apiserver.scope import RequestInfo, Server

MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32


@dataclasses.dataclass
class TokenSettings:
    """How the apiserver issues tokens (its ``--service-account-*`` and ``--api-audiences`` flags)."""

    issuer: TokenIssuer
    audiences: tuple[str, ...]
    max_expiration_seconds: int = 0  # 0: no limit
    extend_expiration: bool = True


def _validate(req: dict[str, Any]) -> list[FieldError]:
    exp = req["spec"]["expirationSeconds"]
    if exp < MIN_EXPIRATION_SECONDS:
        return [v.invalid("spec.expirationSeconds", exp, "may not specify a duration less than 10 minutes")]
    if exp > MAX_EXPIRATION_SECONDS:
        return [v.invalid("spec.expirationSeconds", exp, "may not specify a duration larger than 2^32 seconds")]
    return []


async def create_token(server: Server, info: RequestInfo, body: Any) -> dict[str, Any]:
    """The answered TokenRequest for ``POST serviceaccounts/{name}/token``."""
    settings: TokenSettings | None = getattr(server, "token_settings", None)
    if settings is None:
        raise errors.ServiceUnavailable("this apiserver issues no ServiceAccount tokens "
                                        "(no --service-account-signing-key-file)")
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of the request was in an unknown format")
    name, ns = info.name or "", info.namespace or ""
    if body.get("kind") not in (None, "TokenRequest") or body.get("apiVersion") not in (None, tokens_api.API_VERSION):
        raise errors.BadRequest(f"the kind in the data ({body.get('apiVersion')}, Kind={body.get('kind')}) does not "
                                f"match the expected kind (authentication.k8s.io/v1, Kind=TokenRequest)")
    try:
        req = tokens_api.TokenRequest.model_validate(body).model_dump(by_alias=True, exclude_none=True, mode="json")
    except pydantic.ValidationError as e:
        raise errors.Invalid.of("TokenRequest", tokens_api.GROUP, name, pydantic_errors(e)) from None
    md = req["metadata"]
    if md.get("namespace") and md["namespace"] != ns:
        raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    errs = _validate(req)
    if errs:
        raise errors.Invalid.of("TokenRequest", tokens_api.GROUP, name, errs)
    sa = await server.rest.get(info.entry, ns, name)
    spec = req["spec"]
    bound: Bound | None = None
    node: Bound | None = None
    pod_bound = False
    ref = spec.get("boundObjectRef")
    if ref is not None:
        api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
        group = api_version.rpartition("/")[0]
        types = {"Pod": rs.PODS, "Secret": rs.SECRETS, "Node": rs.NODES}
        rt = types.get(kind) if group == "" else None
        if rt is None:
            version = api_version.rpartition("/")[2]
            raise errors.BadRequest(f"cannot bind token to object of type {group}/{version}, Kind={kind}")
        target = await _get(server, rt, ns, ref.get("name") or "")
        uid = target["metadata"]["uid"]
        if rt is rs.PODS:
            running_as = (target.get("spec") or {}).get("serviceAccountName") or ""
            if running_as != name:
                raise errors.BadRequest(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                        f'different serviceaccount name.')
            pod_bound = True
            node_name = (target.get("spec") or {}).get("nodeName")
            if node_name:
                node_obj = server.cache.resource(rs.NODES.plural).objects.get(f"/registry/nodes/{node_name}")
                if node_obj is not None:
                    node = Bound("Node", node_name, node_obj["metadata"]["uid"])
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.Conflict(f'Operation cannot be fulfilled on {kind} "{ref.get("name")}": the UID in the '
                                  f"bound object reference ({ref['uid']}) does not match the UID in record ({uid}). "
                                  f"The object might have been deleted and then recreated",
                                  details={"name": ref.get("name"), "kind": kind})
        bound = Bound(kind, target["metadata"]["name"], uid)
    _node_restriction(ref, bound, target if ref is not None else None)
    if not spec.get("audiences"):
        spec["audiences"] = list(settings.audiences)
    exp = spec["expirationSeconds"]
    if settings.max_expiration_seconds and exp > settings.max_expiration_seconds:
        exp = spec["expirationSeconds"] = settings.max_expiration_seconds
    issued_for, warn_after = exp, 0
    if (settings.extend_expiration and pod_bound and exp == sa_api.WARN_ONLY_EXPIRATION_SECONDS
            and set(spec["audiences"]) <= set(settings.audiences)):
        issued_for, warn_after = EXPIRATION_EXTENSION_SECONDS, exp
    token, token_exp = settings.issuer.issue(sa, audiences=spec["audiences"], expiration_seconds=issued_for,
                                             bound=bound, node=node, warn_after=warn_after)
    now = token_exp - issued_for
    md.update({"name": name, "namespace": ns, "creationTimestamp": from_unix(now)})
    req["status"] = {"token": token, "expirationTimestamp": from_unix(now + exp)}
    return req


def _node_restriction(ref: dict[str, Any] | None, bound: Bound | None, target: dict[str, Any] | None) -> None:
    """NodeRestriction for tokens: a node may ask only for tokens bound to a pod of its own,
    named with its uid (Kubernetes' noderestriction ``admitServiceAccount``)."""
    user = request_user.get()
    node = node_auth.node_name(user) if user is not None else None
    if node is None:
        return
    def forbid(why: str) -> errors.Forbidden:
        return errors.Forbidden(f"serviceaccounts \"token\" is forbidden: {why}", details={"kind": "serviceaccounts"})
    if bound is None or bound.kind != "Pod" or target is None:
        raise forbid("node requested token not bound to a pod")
    if not (ref or {}).get("uid"):
        raise forbid("node requested token with a pod binding without a uid")
    if ((target.get("spec") or {}).get("nodeName") or "") != node:
        raise forbid("node requested token bound to a pod scheduled on a different node")


async def _get(server: Server, rt: rs.ResourceType, namespace: str, name: str) -> dict[str, Any]:
    entry = table.BY_TYPE[rt]
    return await server.rest.get(entry, namespace if rt.namespaced else None, name)
