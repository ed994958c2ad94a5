"""The questions a client may ask the apiserver about authorization and identity, answered in the
returned object's ``status`` and never stored (Kubernetes' ``pkg/registry/authorization/*`` and
``pkg/registry/authentication/selfsubjectreview``):

* ``SelfSubjectAccessReview``: may I do this? (``kubectl auth can-i VERB RESOURCE``);
* ``SelfSubjectRulesReview``: what may I do in this namespace? (``kubectl auth can-i --list``);
* ``SubjectAccessReview``: may this user do this? (webhook authorizers, the kubelet's API);
* ``LocalSubjectAccessReview``: the same, confined to the namespace of the URL;
* ``SelfSubjectReview``: who am I? (``kubectl auth whoami``).

Each is a POST answered 201 with the object and its status; any other method is 405. Access
reviews ask the apiserver's whole authorizer chain (``app.state.authorizer``, built from
``--authorization-mode``), so the answer is the decision a real request would get. Rules
reviews list what RBAC grants (and, for a node, what the Node authorizer's rules grant).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from apiserver import errors
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Authorizer, Decision
from apiserver.auth.rbac import PolicyIndex, Rule
from apiserver.validation import FieldError
from minik8s.api import resources as rs

Handler = Callable[[Request, Any, Any], Awaitable[Response]]


def request_user(request: Request) -> u.UserInfo:
    """The authenticated user, or anonymous when the server runs without authentication."""
    found = request.scope.get(u.USER_KEY)
    return found if isinstance(found, u.UserInfo) else u.ANONYMOUS_USER


def _created(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=201, media_type="application/json")


def spec_attributes(user: u.UserInfo, spec: dict[str, Any]) -> Attributes:
    """The authorizer's attributes of an access review's spec (``authorizationutil``)."""
    ra = spec.get("resourceAttributes")
    if ra is not None:
        return Attributes(user=user, verb=ra.get("verb") or "", resource_request=True,
                          namespace=ra.get("namespace") or "", api_group=ra.get("group") or "",
                          api_version=ra.get("version") or "", resource=ra.get("resource") or "",
                          subresource=ra.get("subresource") or "", name=ra.get("name") or "")
    nra = spec.get("nonResourceAttributes") or {}
    return Attributes(user=user, verb=nra.get("verb") or "", resource_request=False, path=nra.get("path") or "")


def _spec_errors(spec: dict[str, Any]) -> list[FieldError]:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if ra is not None and nra is not None:
        return [FieldError("spec.nonResourceAttributes", "FieldValueInvalid",
                           "Invalid value: \"\": cannot be specified in combination with resourceAttributes")]
    if ra is None and nra is None:
        return [FieldError("spec.resourceAttributes", "FieldValueInvalid",
                           "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes "
                           "must be specified")]
    return []


def status_of(authorizer: Authorizer, attrs: Attributes) -> dict[str, Any]:
    verdict = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": verdict.decision is Decision.ALLOW}
    if verdict.decision is Decision.DENY:
        status["denied"] = True
    if verdict.reason:
        status["reason"] = verdict.reason
    return status


class Reviews:
    """The handlers, bound to the apiserver's policy index and a fallback authorizer (used when
    the app was built without an authorizer chain, as in-process tests do)."""

    def __init__(self, index: PolicyIndex, fallback: Authorizer, node_rules: list[Rule]) -> None:
        self.index = index
        self.fallback = fallback
        self.node_rules = node_rules

    def handlers(self) -> dict[rs.ResourceType, Handler]:
        return {rs.SELFSUBJECTACCESSREVIEWS: self.self_subject_access_review,
                rs.SUBJECTACCESSREVIEWS: self.subject_access_review,
                rs.LOCALSUBJECTACCESSREVIEWS: self.local_subject_access_review,
                rs.SELFSUBJECTRULESREVIEWS: self.self_subject_rules_review,
                rs.SELFSUBJECTREVIEWS: self.self_subject_review}

    def authorizer(self, request: Request) -> Authorizer:
        app = request.scope.get("app")
        found = getattr(getattr(app, "state", None), "authorizer", None)
        return found if found is not None else self.fallback

    async def _body(self, request: Request, server: Any, info: Any) -> dict[str, Any]:
        if request.method != "POST" or info.name is not None:
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        body = await server.read_body(request)
        warnings: list[str] = []
        validation = request.query_params.get("fieldValidation") or "Warn"
        obj: dict[str, Any] = server.rest.admit_body(info.entry, body, field_validation=validation, warnings=warnings)
        # answer from a policy that holds every write acknowledged before this question
        await server.cache.wait_current()
        t = info.entry.type
        if obj.get("kind") != t.kind or obj.get("apiVersion") != t.group_version:
            raise errors.BadRequest(f"the kind in the data ({obj.get('kind')}) does not match the expected kind "
                                    f"({t.kind})")
        return obj

    def _invalid(self, info: Any, errs: list[FieldError]) -> errors.Invalid:
        return errors.Invalid.of(info.entry.type.kind, info.entry.type.group, "", errs)

    async def self_subject_access_review(self, request: Request, server: Any, info: Any) -> Response:
        obj = await self._body(request, server, info)
        spec = obj.get("spec") or {}
        errs = _spec_errors(spec)
        if errs:
            raise self._invalid(info, errs)
        obj["status"] = status_of(self.authorizer(request), spec_attributes(request_user(request), spec))
        return _created(obj)

    def _subject(self, spec: dict[str, Any]) -> u.UserInfo:
        extra = tuple((k, tuple(v)) for k, v in sorted((spec.get("extra") or {}).items()))
        return u.UserInfo(name=spec.get("user") or "", uid=spec.get("uid") or "",
                          groups=tuple(spec.get("groups") or ()), extras=extra)

    async def subject_access_review(self, request: Request, server: Any, info: Any) -> Response:
        obj = await self._body(request, server, info)
        spec = obj.get("spec") or {}
        errs = _spec_errors(spec)
        if not spec.get("user") and not spec.get("groups"):
            errs.append(FieldError("spec.user", "FieldValueInvalid",
                                   'Invalid value: "": at least one of user or group must be specified'))
        if errs:
            raise self._invalid(info, errs)
        obj["status"] = status_of(self.authorizer(request), spec_attributes(self._subject(spec), spec))
        return _created(obj)

    async def local_subject_access_review(self, request: Request, server: Any, info: Any) -> Response:
        obj = await self._body(request, server, info)
        spec = obj.get("spec") or {}
        ns = info.namespace or ""
        errs = _spec_errors(spec)
        if spec.get("nonResourceAttributes") is not None:
            errs.append(FieldError("spec.nonResourceAttributes", "FieldValueInvalid",
                                   'Invalid value: "": disallowed on this kind of request'))
        if not spec.get("user") and not spec.get("groups"):
            errs.append(FieldError("spec.user", "FieldValueInvalid",
                                   'Invalid value: "": at least one of user or group must be specified'))
        if errs:
            raise self._invalid(info, errs)
        md_ns = (obj.get("metadata") or {}).get("namespace")
        if md_ns and md_ns != ns:
            raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on "
                                    "the request")
        ra = spec["resourceAttributes"]
        if (ra.get("namespace") or "") != ns:
            raise errors.BadRequest(f"spec.resourceAttributes.namespace must match namespace: {ns}")
        obj.setdefault("metadata", {})["namespace"] = ns
        obj["status"] = status_of(self.authorizer(request), spec_attributes(self._subject(spec), spec))
        return _created(obj)

    async def self_subject_rules_review(self, request: Request, server: Any, info: Any) -> Response:
        obj = await self._body(request, server, info)
        ns = (obj.get("spec") or {}).get("namespace") or ""
        if not ns:
            raise errors.BadRequest("no namespace on request")
        user = request_user(request)
        rules, errs = self.index.rules_for(user, ns)
        if any(g == u.NODES for g in user.groups) and user.name.startswith(u.NODE_PREFIX):
            rules = [*rules, *self.node_rules]
        resource_rules, url_rules = [], []
        for r in rules:
            src = r.source
            if src.get("nonResourceURLs"):
                url_rules.append({"verbs": list(src.get("verbs") or []), "nonResourceURLs": list(src["nonResourceURLs"])})
            else:
                rr = {"verbs": list(src.get("verbs") or []), "apiGroups": list(src.get("apiGroups") or []),
                      "resources": list(src.get("resources") or [])}
                if src.get("resourceNames"):
                    rr["resourceNames"] = list(src["resourceNames"])
                resource_rules.append(rr)
        status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": url_rules,
                                  "incomplete": bool(errs)}
        if errs:
            status["evaluationError"] = "[" + ", ".join(errs) + "]"
        obj["status"] = status
        return _created(obj)

    async def self_subject_review(self, request: Request, server: Any, info: Any) -> Response:
        obj = await self._body(request, server, info)
        user = request_user(request)
        obj["status"] = {"userInfo": user.api_dict()}
        return _created(obj)
