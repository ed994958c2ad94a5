"""Names the API gives meaning to -- access modes, phases, annotations, finalizers, condition
types, signer names -- and the small functions over objects' JSON that go with them, one
module per API module whose kinds they belong to (:mod:`.volumes`, :mod:`.storage`,
:mod:`.certificates`, :mod:`.serviceaccounts`, :mod:`.apiextensions`), as Kubernetes names them.

They live apart from those kinds' pydantic models (``minik8s/api/<name>.py``, which take
their defaults from here): the scheduler, the controller-manager and the kubelet only compare
strings with them, and importing a model module would load pydantic and the core models into
each of those processes (~10 MiB apiece) for that. Nothing here imports pydantic;
``tests/unit/test_component_imports.py`` keeps the components so. Here itself: finding a
condition by type in an object's ``status.conditions``, as every kind's conditions are found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["condition"]


def condition(obj: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    """The condition of ``type_`` in ``obj``'s ``status.conditions`` (JSON), None when absent."""
    conditions: list[dict[str, Any]] = (obj.get("status") or {}).get("conditions") or []
    for c in conditions:
        if c.get("type") == type_:
            return c
    return None
