"""JSON merge patch (RFC 7386, ``application/merge-patch+json``).

``kubectl scale`` (``{"spec":{"replicas":3}}``), ``kubectl label`` and ``kubectl annotate``
(``{"metadata":{"labels":{"app":null}}}``) send these. Objects merge key by key, ``null``
removes a key, anything else (lists included) replaces the target value.

The input document is never changed: only the objects the patch reaches are copied, every
other subtree of the result is shared with the input.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply_merge_patch"]


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """``doc`` merged with ``patch`` as RFC 7386 defines it.

    A patch that is not an object replaces the whole document (so the result is not
    necessarily an object; the caller decides whether that is acceptable).
    """
    if not isinstance(patch, dict):
        return _copy(patch)
    result = dict(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _copy(value: Any) -> Any:
    """A copy of a JSON value so the result never aliases the caller's patch.

    Arrays are taken as they are, nulls inside them included (RFC 7386 merges objects only).
    """
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
