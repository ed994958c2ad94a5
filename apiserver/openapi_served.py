"""What ``/openapi/v2`` and ``/openapi/v3[/<group-version>]`` serve: the built-in documents
(``apiserver/openapi.py``, built once from the registry table) with the served custom
resources' merged in (``apiserver/apiextensions/openapi.py``, rebuilt when a CRD changes).

This module sits above both, as Kubernetes' OpenAPI aggregation sits above the built-in and
the CRD specs: the custom documents are built with the built-in builders, so the builders
cannot be the ones that ask for them.
"""

from __future__ import annotations

import functools

from apiserver import openapi
from apiserver.apiextensions import openapi as custom

__all__ = ["v2_body", "v2_hash", "v3_body", "v3_document", "v3_root_body"]


def v2_body() -> bytes:
    """``GET /openapi/v2``: the Swagger document, as JSON, with the custom resources' paths and
    definitions when there are any.

    (client-go's own v2 reader asks for protobuf only; kubectl 1.32 reads v3, which is JSON.)
    """
    return custom.v2_body() or openapi.builtin_v2()[0]


def v2_hash() -> str:
    """The SHA-512 of the built-in :func:`v2_body`, for an ETag."""
    return openapi.builtin_v2()[1]


def v3_root_body() -> bytes:
    """``GET /openapi/v3``: where each group-version document is, with its hash (the custom
    resources' group-versions too)."""
    extra = custom.v3_bodies()
    if not extra:
        return _v3_root_body()
    paths = {**openapi.builtin_v3_root_paths(), **{p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={h}"}
                                                   for p, (_b, h) in extra.items()}}
    return openapi.dump({"paths": paths})


@functools.cache
def _v3_root_body() -> bytes:
    return openapi.dump({"paths": openapi.builtin_v3_root_paths()})


def v3_document(path: str) -> tuple[bytes, str] | None:
    """``GET /openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``): the document and its hash,
    or None (404) when no such group-version is served."""
    found = openapi.builtin_v3_bodies().get(path.strip("/"))
    if found is None:
        found = custom.v3_bodies().get(path.strip("/"))
    return found


def v3_body(path: str) -> bytes | None:
    """The bytes of :func:`v3_document`, or None when the group-version is not served."""
    doc = v3_document(path)
    return None if doc is None else doc[0]
