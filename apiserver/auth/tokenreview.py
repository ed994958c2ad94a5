"""TokenReview (authentication.k8s.io/v1): ``POST /apis/authentication.k8s.io/v1/tokenreviews``
asks this apiserver's bearer-token authenticators about ``spec.token``, for ``spec.audiences``
(the apiserver's own when empty), and answers 201 with ``status``: ``authenticated``, the
``user`` (username, uid, groups with ``system:authenticated``, extra), the ``audiences`` it
was accepted for, or the ``error`` (Kubernetes' ``pkg/registry/authentication/tokenreview``).
Nothing is stored. Webhook token authenticators (the kubelet's) call it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from apiserver import errors
from apiserver.auth import bearer_tokens
from apiserver.auth.user import AUTHENTICATED


async def handle(request: Request, server: Any, info: Any) -> Response:
    if request.method != "POST" or info.name is not None:
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    body = await server.read_body(request)
    if isinstance(body, dict) and (body.get("metadata") or {}).get("namespace"):
        raise errors.BadRequest("namespace is not allowed on this type")
    warnings: list[str] = []
    obj = server.rest.admit_body(info.entry, body, field_validation=request.query_params.get("fieldValidation")
                                 or "Warn", warnings=warnings)
    spec = obj.get("spec") or {}
    token = spec.get("token") or ""
    if not token:
        raise errors.BadRequest("token is required for TokenReview in authentication")
    status: dict[str, Any] = {"user": {}}
    try:
        user, audiences = await bearer_tokens.authenticate(server.token_authenticators, token,
                                                           spec.get("audiences") or None)
    except bearer_tokens.TokenInvalid as e:
        status.update(authenticated=False, error=str(e))
    else:
        groups = list(user.groups) if AUTHENTICATED in user.groups else [*user.groups, AUTHENTICATED]
        ui: dict[str, Any] = {"username": user.name, "groups": groups}
        if user.uid:
            ui["uid"] = user.uid
        if user.extras:
            ui["extra"] = user.extra_dict()
        status.update(authenticated=True, user=ui, audiences=list(audiences))
    obj["status"] = status
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
    return Response(orjson.dumps(obj), status_code=201, media_type="application/json", headers=headers)
