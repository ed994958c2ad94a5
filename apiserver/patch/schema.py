"""The schema strategic merge patch asks about fields (merge keys, patch strategies).

It lives in ``minik8s.patchschema`` because the client side (``mkctl apply``'s three-way
patch) needs the same answers; this module is the apiserver's name for it.
"""

from __future__ import annotations

from minik8s.patchschema import DictSchema, PatchSchema, schema_from_model

__all__ = ["PatchSchema", "DictSchema", "schema_from_model"]
