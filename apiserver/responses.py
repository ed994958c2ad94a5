"""The apiserver's response writers: an object or list as JSON (with its ``Warning`` headers), an
error as its ``meta/v1 Status``, and whether a client asked for a ``meta.k8s.io`` Table — as
Kubernetes' ``endpoints/handlers/responsewriters``.

Their own module so that the request handlers beside the app (subresources, exec, proxy, the
virtual resources) write responses without importing :mod:`apiserver.app`, which imports them.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from apiserver import bodies, errors

JSON = "application/json"


def status_response(err: errors.StatusError) -> Response:
    return Response(err.encoded(), status_code=err.code, media_type=JSON)


def json_response(body: Any, code: int = 200, warnings: list[str] | None = None) -> Response:
    response = Response(orjson.dumps(body), status_code=code, media_type=JSON)
    if warnings:
        response.raw_headers.append((b"warning", bodies.warning_header(warnings)))
    return response


def wants_table(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "as=Table" in accept and "g=meta.k8s.io" in accept
