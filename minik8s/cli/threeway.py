"""kubectl's client-side apply bookkeeping: the ``last-applied-configuration`` annotation and
the patch from it, the manifest and the live object.

The annotation must be byte-identical to the one kubectl writes for the same manifest (Go's
``json.Marshal``: sorted keys, compact, ``<>&`` escaped, integral floats without a fraction,
and a trailing newline), so that kubectl and mkctl can take turns on one object and each sees
"unchanged" after the other. Built-in kinds get a strategic merge patch guided by their merge
keys (from the server's OpenAPI, :mod:`minik8s.cli.patchmeta`, else from the API model); other
kinds a JSON merge patch, as kubectl does for unstructured.
"""

from __future__ import annotations

import copy
import json
import math
from typing import TYPE_CHECKING, Any

from minik8s import patch3way
from minik8s.api import resources
from minik8s.cli.printers import go_html_escape

if TYPE_CHECKING:
    from minik8s.patchschema import PatchSchema

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def go_json(value: Any) -> str:
    """Go's ``json.Marshal`` of a decoded document."""
    text = json.dumps(_go_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return go_html_escape(text)


def _go_numbers(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, dict):
        return {k: _go_numbers(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_go_numbers(x) for x in v]
    return v


def modified_configuration(obj: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its own last-applied annotation set (kubectl's
    ``GetModifiedConfiguration(obj, annotate=true)``): the annotation holds the manifest
    without that annotation."""
    bare = copy.deepcopy(obj)
    meta = bare.setdefault("metadata", {})
    # kubectl sets the annotations map before encoding, so an empty one is part of the text.
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations.pop(LAST_APPLIED, None)
    text = go_json(bare) + "\n"
    modified = copy.deepcopy(obj)
    mmeta = modified.setdefault("metadata", {})
    mmeta.setdefault("annotations", {})
    if mmeta["annotations"] is None:
        mmeta["annotations"] = {}
    mmeta["annotations"][LAST_APPLIED] = text
    return modified


def original_configuration(live: dict[str, Any]) -> dict[str, Any] | None:
    """What was applied last time, from the live object's annotation; None when absent."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def builtin(api_version: str, kind: str) -> bool:
    """Whether minik8s serves the kind itself (kubectl: its scheme knows it), so a strategic
    merge patch applies; a custom resource takes a JSON merge patch."""
    return (api_version.rpartition("/")[0], kind) in resources.BY_KIND


def patch_for(api_version: str, kind: str, original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any], *,
              schema: PatchSchema | None = None) -> tuple[dict[str, Any], str]:
    """(patch, patch type ``strategic`` or ``merge``); an empty patch means nothing changed.
    ``schema`` is the built-in kind's patch schema from the server's OpenAPI; without it, the
    API model's (kubectl's fallback to its compiled-in types)."""
    if schema is None:
        model = _model(api_version, kind)
        if model is None:
            return patch3way.three_way_json_merge(original, modified, current), "merge"
        from minik8s.patchschema import schema_from_model

        schema = schema_from_model(model)
    return patch3way.three_way_strategic(original, modified, current, schema), "strategic"


def _model(api_version: str, kind: str) -> type | None:
    # Imported here: the API models take a moment to build, and most mkctl verbs never need them.
    from minik8s.api import schema

    group = api_version.rpartition("/")[0]
    return schema.MODELS.get((group, kind))
