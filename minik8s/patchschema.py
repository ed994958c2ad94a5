"""What strategic merge patch needs to know about a field: its merge key and patch strategy.

Kubernetes reads this from Go struct tags (``patchMergeKey:"name" patchStrategy:"merge"``) or
from OpenAPI (``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy``). minik8s
declares the same OpenAPI extensions on its pydantic models (``minik8s.api.base.merge_key`` /
``set_strategy``), and this module turns a model class into a :class:`PatchSchema` tree.

The applier (``apiserver.patch.strategic``) and the three-way patch creator
(``minik8s.patch3way``) both ask the tree the same four questions, so this module lives in
``minik8s/`` where both sides can import it.

A ``None`` schema means "nothing is known": maps still merge key by key, every list is replaced.
"""

from __future__ import annotations

import collections.abc as abc
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel

__all__ = ["PatchSchema", "DictSchema", "schema_from_model"]

_MERGE_KEY = "x-kubernetes-patch-merge-key"
_STRATEGY = "x-kubernetes-patch-strategy"


class PatchSchema(Protocol):
    """The schema of one JSON value, as strategic merge patch asks about it.

    ``merge_key`` and ``patch_strategy`` describe the value itself (``containers`` is a list with
    merge key ``name`` and strategy ``merge``); ``field`` and ``items`` lead to its children.
    """

    @property
    def merge_key(self) -> str | None: ...

    @property
    def patch_strategy(self) -> str | None: ...

    def field(self, name: str) -> PatchSchema | None:
        """The schema of a map's field (by its wire name), or ``None`` when unknown."""
        ...

    def items(self) -> PatchSchema | None:
        """The schema of a list's elements, or ``None`` when unknown."""
        ...


class _Node:
    """A plain PatchSchema: metadata plus functions leading to the children (built lazily, so
    recursive models such as JSON schema props do not recurse at construction)."""

    __slots__ = ("merge_key", "patch_strategy", "_field", "_items")

    def __init__(
        self,
        *,
        merge_key: str | None = None,
        patch_strategy: str | None = None,
        field: Callable[[str], PatchSchema | None] | None = None,
        items: Callable[[], PatchSchema | None] | None = None,
    ) -> None:
        self.merge_key = merge_key
        self.patch_strategy = patch_strategy
        self._field = field
        self._items = items

    def field(self, name: str) -> PatchSchema | None:
        return self._field(name) if self._field is not None else None

    def items(self) -> PatchSchema | None:
        return self._items() if self._items is not None else None

    def __repr__(self) -> str:
        return f"_Node(merge_key={self.merge_key!r}, patch_strategy={self.patch_strategy!r})"


class DictSchema:
    """A PatchSchema written out as nested dicts, for tests and small ad-hoc uses::

        DictSchema({"fields": {"containers": {
            "merge_key": "name", "patch_strategy": "merge",
            "items": {"fields": {"ports": {"merge_key": "containerPort", "patch_strategy": "merge"}}},
        }}})

    Keys of a spec: ``merge_key``, ``patch_strategy``, ``fields`` (wire name → spec),
    ``items`` (spec of list elements). A field missing from ``fields`` is unknown (``None``).
    """

    __slots__ = ("_spec",)

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        spec = dict(spec or {})
        unknown = set(spec) - {"merge_key", "patch_strategy", "fields", "items"}
        if unknown:
            raise ValueError(f"DictSchema: unknown spec keys {sorted(unknown)}")
        self._spec = spec

    @property
    def merge_key(self) -> str | None:
        return self._spec.get("merge_key")

    @property
    def patch_strategy(self) -> str | None:
        return self._spec.get("patch_strategy")

    def field(self, name: str) -> PatchSchema | None:
        sub = (self._spec.get("fields") or {}).get(name)
        return DictSchema(sub) if sub is not None else None

    def items(self) -> PatchSchema | None:
        sub = self._spec.get("items")
        return DictSchema(sub) if sub is not None else None

    def __repr__(self) -> str:
        return f"DictSchema({self._spec!r})"


class _ModelSchema:
    """The PatchSchema of a pydantic model: fields by wire name (alias), each resolved once."""

    __slots__ = ("_model", "_by_wire_name", "_cache")

    merge_key = None
    patch_strategy = None

    def __init__(self, model: type[BaseModel]) -> None:
        self._model = model
        self._by_wire_name: dict[str, str] = {}
        for attr, info in model.model_fields.items():
            wire = info.serialization_alias or info.alias or attr
            self._by_wire_name[wire] = attr
        self._cache: dict[str, PatchSchema | None] = {}

    def field(self, name: str) -> PatchSchema | None:
        try:
            return self._cache[name]
        except KeyError:
            pass
        attr = self._by_wire_name.get(name)
        node: PatchSchema | None = None
        if attr is not None:
            info = self._model.model_fields[attr]
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            node = _with_metadata(
                _schema_of_type(info.annotation),
                merge_key=extra.get(_MERGE_KEY),
                patch_strategy=extra.get(_STRATEGY),
            )
        self._cache[name] = node
        return node

    def items(self) -> PatchSchema | None:
        return None

    def __repr__(self) -> str:
        return f"schema_from_model({self._model.__name__})"


_model_schemas: dict[type[BaseModel], _ModelSchema] = {}


def schema_from_model(model_cls: type[BaseModel]) -> PatchSchema:
    """The PatchSchema of a pydantic model class (cached per class)."""
    schema = _model_schemas.get(model_cls)
    if schema is None:
        schema = _model_schemas[model_cls] = _ModelSchema(model_cls)
    return schema


def _with_metadata(
    node: PatchSchema | None, *, merge_key: Any, patch_strategy: Any
) -> PatchSchema | None:
    """A field's own merge metadata layered over the schema of its type."""
    if merge_key is None and patch_strategy is None:
        return node
    return _Node(
        merge_key=merge_key,
        patch_strategy=patch_strategy,
        field=node.field if node is not None else None,
        items=node.items if node is not None else None,
    )


def _schema_of_type(tp: Any) -> PatchSchema | None:
    """The schema of a type annotation: models, ``list[X]``, ``dict[str, X]``, ``X | None``.

    Scalars, ``Any`` and unions of several non-null types have nothing to say: ``None``.
    """
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _schema_of_type(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _schema_of_type(args[0]) if len(args) == 1 else None
    if origin in (list, tuple, set, frozenset, abc.Sequence, abc.MutableSequence):
        params = typing.get_args(tp)
        elem = params[0] if params else Any
        return _Node(items=lambda: _schema_of_type(elem))
    if origin in (dict, abc.Mapping, abc.MutableMapping):
        params = typing.get_args(tp)
        value_tp = params[1] if len(params) == 2 else Any
        return _Node(field=lambda _name: _schema_of_type(value_tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return schema_from_model(tp)
    return None

