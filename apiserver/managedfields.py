"""Managed fields: which manager owns which field of an object, as Kubernetes' field manager
(structured-merge-diff) records them in ``metadata.managedFields``.

Every write through ``apiserver/rest.py`` gives its manager the fields it changed
(:func:`update_managed_fields`, operation ``Update``); server-side apply (``apiserver/apply.py``)
merges an applied configuration with :func:`merge`, removes what its manager stopped applying
with :func:`prune`, and asks :class:`Managers` for conflicts before recording an ``Apply`` entry.

The pieces, in the order they build on each other:

* :class:`FieldSet` – a set of field paths, serialised as ``fieldsV1``
  (``{"f:spec":{"f:replicas":{}}}``). A path is a tuple of path elements: ``f:name`` (a struct
  field or a map key), ``k:{"name":"x"}`` (an item of an associative list, by its keys),
  ``v:"x"`` (an item of a set), ``i:3`` (a list index; parsed, never produced).
* :func:`type_of` – how the API model types a value, read from the pydantic models and their
  strategic-merge metadata (``minik8s.patchschema``): struct, map, associative list (a merge
  key), set (a list of primitives with strategy ``merge``), atomic (other lists, a few atomic
  structs), scalar, or untyped (``dict[str, Any]``: maps granular, lists atomic).
* :func:`fieldset_of` – the fields an object (an applied configuration) sets;
  :func:`compare` – what was added, modified and removed between two objects;
  :func:`merge` and :func:`prune` – the object side of an apply.
* :class:`Managers` – the decoded ``managedFields``, the bookkeeping of Update and Apply, and
  conflicts.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from pydantic import BaseModel

from apiserver import memory
from minik8s.patchschema import schema_from_model
from minik8s.timestamps import now_rfc3339

__all__ = [
    "FieldSet", "Comparison", "ManagerEntry", "Managers", "Conflict", "MergeError", "Type",
    "canonical_json", "type_of", "fieldset_of", "compare", "check_keys", "merge", "prune", "strip_meta",
    "update_managed_fields",
    "manager_name", "DEFAULT_MANAGER", "FIELDS_TYPE", "MAX_MANAGER_LENGTH",
]

FIELDS_TYPE = "FieldsV1"
MAX_MANAGER_LENGTH = 128
# The manager of a write made inside the apiserver that named none. A request always has one:
# manager_name(...) of its fieldManager or User-Agent (possibly "", as in Kubernetes).
DEFAULT_MANAGER = "unknown"

Path = tuple[str, ...]


# ---- paths and field sets ------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    """Canonical JSON as Go writes it: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # < > & can only occur inside JSON strings, so replacing them keeps the JSON valid.
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _element_string(pe: str) -> str:
    """One path element as Kubernetes prints it in conflict messages."""
    kind, body = pe[:2], pe[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        keys = json.loads(body)
        return "[" + ",".join(f"{k}={canonical_json(v)}" for k, v in keys.items()) + "]"
    if kind == "v:":
        return f"[={canonical_json(json.loads(body))}]"
    return f"[{body}]"


_ELEMENT_ORDER = {"f:": 0, "k:": 1, "v:": 2, "i:": 3}


class FieldSet:
    """An immutable set of field paths (each a tuple of path elements).

    A path is a *member* when the field itself is in the set; in ``fieldsV1`` a member with
    members below it is marked with ``".": {}``. Set operations are member-wise, as
    structured-merge-diff's ``fieldpath.Set``.
    """

    __slots__ = ("_paths",)

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths: frozenset[Path] = frozenset(tuple(p) for p in paths if p)

    @classmethod
    def _of(cls, paths: frozenset[Path]) -> FieldSet:
        """A set over paths already known to be non-empty tuples (the set algebra's results)."""
        fs = cls.__new__(cls)
        fs._paths = paths
        return fs

    # set algebra
    def union(self, other: FieldSet) -> FieldSet:
        return FieldSet._of(self._paths | other._paths)

    def difference(self, other: FieldSet) -> FieldSet:
        return FieldSet._of(self._paths - other._paths)

    def intersection(self, other: FieldSet) -> FieldSet:
        return FieldSet._of(self._paths & other._paths)

    __or__, __sub__, __and__ = union, difference, intersection

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Members neither in ``other`` nor below one of its members."""
        gone = other._paths
        return FieldSet(p for p in self._paths if not any(p[:i] in gone for i in range(1, len(p) + 1)))

    def leaves(self) -> FieldSet:
        """Members with no member below them."""
        parents = {p[:i] for p in self._paths for i in range(1, len(p))}
        return FieldSet(p for p in self._paths if p not in parents)

    def under(self, prefix: Path) -> FieldSet:
        """Members at ``prefix`` or below it."""
        n = len(prefix)
        return FieldSet(p for p in self._paths if p[:n] == prefix)

    def has_below(self, prefix: Path) -> bool:
        """Whether some member lies strictly below ``prefix``."""
        n = len(prefix)
        return any(len(p) > n and p[:n] == prefix for p in self._paths)

    # container protocol
    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def __iter__(self) -> Iterator[Path]:
        return iter(sorted(self._paths))

    def __len__(self) -> int:
        return len(self._paths)

    def __bool__(self) -> bool:
        return bool(self._paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._paths == other._paths

    def __hash__(self) -> int:
        return hash(self._paths)

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"

    # fieldsV1
    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` form, ordered as Kubernetes writes it ("." first, then fields,
        keys, values, indexes). A fresh dict each call (callers may change it)."""
        encoded = _RENDERED.get(self._paths)
        if encoded is None:
            if len(_RENDERED) >= _CACHE_SIZE:
                _RENDERED.clear()
            encoded = _RENDERED[self._paths] = memory.exact(orjson.dumps(self._render()))
        # Every write renders every manager's set again, and most of them did not change:
        # decoding the cached JSON is ~20x cheaper than rendering the tree in Python.
        rendered: dict[str, Any] = orjson.loads(encoded)
        return rendered

    def _render(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for path in self._paths:
            node = tree
            for pe in path:
                node = node.setdefault(pe, {})
            node["."] = None  # a member; rendered only when it has members below it

        def render(node: dict[str, Any]) -> dict[str, Any]:
            children = sorted((k for k in node if k != "."), key=lambda k: (_ELEMENT_ORDER[k[:2]], k))
            out: dict[str, Any] = {".": {}} if "." in node and children else {}
            for k in children:
                out[k] = render(node[k])
            return out

        return render(tree)

    @classmethod
    def from_fields_v1(cls, fields: Any) -> FieldSet:
        """Parse ``fieldsV1``; ValueError when it is not a valid field set."""
        try:
            key = orjson.dumps(fields)
        except TypeError:  # not JSON at all: the walk below says what is wrong
            key = None
        if key is not None:
            cached = _PARSED.get(key)
            if cached is not None:  # a FieldSet is immutable: one instance serves every caller
                return cached
        fs = cls._parse(fields)
        if key is not None:
            if len(_PARSED) >= _CACHE_SIZE:
                _PARSED.clear()
            _PARSED[memory.exact(key)] = fs
        return fs

    @classmethod
    def _parse(cls, fields: Any) -> FieldSet:
        out: list[Path] = []

        def walk(node: Any, path: Path) -> None:
            if not isinstance(node, dict):
                raise ValueError(f"expected an object at {path_string(path) or 'the root'}")
            if not node and path:
                out.append(path)
            for key, child in node.items():
                if key == ".":
                    if not path or child != {}:
                        raise ValueError("misplaced '.' in fieldsV1")
                    out.append(path)
                    continue
                if not isinstance(key, str) or key[:2] not in ("f:", "k:", "v:", "i:"):
                    raise ValueError(f"unknown path element {key!r} in fieldsV1")
                if key[:2] in ("k:", "v:"):
                    try:
                        json.loads(key[2:])
                    except json.JSONDecodeError:
                        raise ValueError(f"invalid path element {key!r} in fieldsV1") from None
                walk(child, path + (key,))

        walk(fields, ())
        return cls(out)


# Every write decodes the stored managers' fieldsV1 and renders them again; objects of one
# kind written by one manager mostly share them, so both directions are memoized by content.
_CACHE_SIZE = 4096
_PARSED: dict[bytes, FieldSet] = {}
_RENDERED: dict[frozenset[Path], bytes] = {}


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it: ``.spec.containers[name="nginx"].image``."""
    return "".join(_element_string(pe) for pe in path)


# Fields no manager ever owns: identity and bookkeeping metadata (Kubernetes' stripMeta).
_STRIPPED = FieldSet([
    ("f:apiVersion",), ("f:kind",), ("f:metadata",),
    *[("f:metadata", f"f:{f}") for f in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                         "clusterName", "generation", "managedFields", "resourceVersion")],
])
_MANAGED_FIELDS: Path = ("f:metadata", "f:managedFields")


def strip_meta(fs: FieldSet) -> FieldSet:
    """``fs`` without the fields no manager owns (identity metadata, managedFields itself)."""
    return FieldSet._of(_strip_paths(fs._paths))


def _strip_paths(paths: frozenset[Path] | set[Path]) -> frozenset[Path]:
    return frozenset(p for p in paths - _STRIPPED._paths if p[:2] != _MANAGED_FIELDS)


# ---- types ---------------------------------------------------------------------------------


class Shape(enum.Enum):
    STRUCT = "struct"
    MAP = "map"
    ASSOCIATIVE = "associative list"
    SET = "set"
    ATOMIC = "atomic"
    SCALAR = "scalar"
    UNTYPED = "untyped"


# Kubernetes marks these structs +structType=atomic: they are owned, merged and replaced whole.
_ATOMIC_STRUCTS: frozenset[str] = frozenset({"LabelSelector", "ObjectReference", "LocalObjectReference",
                                             "NodeSelector"})
# Maps Kubernetes marks +mapType=atomic: replaced and owned whole, like their structs' selectors.
_ATOMIC_MAPS: frozenset[tuple[str, str]] = frozenset({("ServiceSpec", "selector"), ("PodSpec", "nodeSelector")})
# Lists whose Kubernetes list-map-keys are more than their strategic merge key (ports are
# keyed by port and protocol); the extra keys' defaults fill in when an item omits them.
_EXTRA_KEYS: dict[str, dict[str, Any]] = {"containerPort": {"protocol": "TCP"}, "port": {"protocol": "TCP"}}


@dataclasses.dataclass(frozen=True, slots=True)
class StructField:
    type: Type
    #: a Go non-pointer field (pydantic: not Optional): it exists, empty, even when unset, so
    #: filling it in does not add the field itself
    always_present: bool


class Type:
    """How server-side apply sees one value: its shape and what leads to its children."""

    __slots__ = ("shape", "keys", "key_defaults", "_model", "_elem", "_fields", "_map_field")

    def __init__(self, shape: Shape, *, model: type[BaseModel] | None = None, elem: Any = None,
                 keys: tuple[str, ...] = (), key_defaults: dict[str, Any] | None = None) -> None:
        self.shape = shape
        self.keys = keys
        self.key_defaults = key_defaults or {}
        self._model = model
        self._elem = elem  # an annotation, resolved on first use (models are recursive)
        self._fields: dict[str, StructField] | None = None
        self._map_field: StructField | None = None

    def field(self, name: str) -> StructField | None:
        """The field ``name`` of a map-like value; ``None`` when a struct does not declare it."""
        if self.shape is Shape.STRUCT:
            if self._fields is None:  # a struct always has its model
                self._fields = _struct_fields(self._model) if self._model is not None else {}
            return self._fields.get(name)
        if self.shape is Shape.MAP:
            if self._map_field is None:
                self._map_field = StructField(self.elem(), False)
            return self._map_field
        return _UNTYPED_FIELD

    def elem(self) -> Type:
        """The type of a map's values or a list's items."""
        if isinstance(self._elem, Type):
            return self._elem
        elem = _UNTYPED if self._elem is None else _type_of_annotation(self._elem)
        self._elem = elem
        return elem

    def __repr__(self) -> str:
        what = self._model.__name__ if self._model is not None else ""
        keys = f" keys={self.keys}" if self.keys else ""
        return f"Type({self.shape.value}{' ' + what if what else ''}{keys})"


_UNTYPED = Type(Shape.UNTYPED)
_SCALAR = Type(Shape.SCALAR)
_UNTYPED_FIELD = StructField(_UNTYPED, False)
_types: dict[type[BaseModel], Type] = {}


def type_of(model: type[BaseModel] | Type) -> Type:
    """The (struct) type of an API model class, built lazily and cached; a ``Type`` already
    made (a custom resource's, from its CRD's schema) is its own answer."""
    if isinstance(model, Type):
        return model
    t = _types.get(model)
    if t is None:
        shape = Shape.ATOMIC if model.__name__ in _ATOMIC_STRUCTS else Shape.STRUCT
        t = _types[model] = Type(shape, model=model)
    return t


def _struct_fields(model: type[BaseModel]) -> dict[str, StructField]:
    patch = schema_from_model(model)
    out: dict[str, StructField] = {}
    for attr, info in model.model_fields.items():
        wire = info.serialization_alias or info.alias or attr
        node = patch.field(wire)
        merge_key = getattr(node, "merge_key", None)
        strategy = getattr(node, "patch_strategy", None) or ""
        t = _type_of_annotation(info.annotation, merge_key=merge_key, strategy=strategy)
        if (model.__name__, wire) in _ATOMIC_MAPS:
            t = Type(Shape.ATOMIC)
        out[wire] = StructField(t, not _optional(info.annotation))
    return out


def _optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _optional(typing.get_args(tp)[0])
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _type_of_annotation(tp: Any, *, merge_key: str | None = None, strategy: str = "") -> Type:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type_of_annotation(typing.get_args(tp)[0], merge_key=merge_key, strategy=strategy)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _type_of_annotation(args[0], merge_key=merge_key, strategy=strategy)
        return _UNTYPED  # IntOrString and friends
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        params = typing.get_args(tp)
        elem = params[0] if params else None
        if merge_key:
            extra = _EXTRA_KEYS.get(merge_key, {})
            elem_t = _type_of_annotation(elem) if elem is not None else _UNTYPED
            if elem_t.shape is Shape.STRUCT:
                declared = elem_t.field
                extra = {k: v for k, v in extra.items() if declared(k) is not None}
            else:
                extra = {}
            return Type(Shape.ASSOCIATIVE, elem=elem, keys=(merge_key, *extra), key_defaults=extra)
        if "merge" in strategy.split(","):
            return Type(Shape.SET, elem=_SCALAR)
        return Type(Shape.ATOMIC)
    if origin is dict or tp is dict:
        params = typing.get_args(tp)
        return Type(Shape.MAP, elem=params[1] if len(params) == 2 else None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return type_of(tp)
    if tp is Any:
        return _UNTYPED
    return _SCALAR


def _item_elements(t: Type, items: list[Any]) -> list[str] | None:
    """The path element of each item of a keyed list, or ``None`` when an item has no key or
    two items share one (the list is then treated as atomic)."""
    out: list[str] = []
    for item in items:
        if t.shape is Shape.SET:
            if isinstance(item, (dict, list)):
                return None
            pe = _element("v:", item)
        else:
            if not isinstance(item, dict) or item.get(t.keys[0]) is None:
                return None
            if len(t.keys) == 1:
                pe = _element("k:", item[t.keys[0]], t.keys[0])
            else:
                keys = {}
                for k in t.keys:
                    v = item.get(k, t.key_defaults.get(k))
                    if v is not None:
                        keys[k] = v
                pe = "k:" + canonical_json(keys)
        out.append(pe)
    return out if len(set(out)) == len(out) else None


_ELEMENTS: dict[tuple[str, str, type, Any], str] = {}


def _element(kind: str, value: Any, key: str = "") -> str:
    """``v:<value>`` or ``k:{"<key>":<value>}`` in canonical JSON, memoized (json.dumps with
    sorted keys costs microseconds, and the same container names and ports recur in every
    object). The value's type is part of the memo key: True and 1 are equal in Python, not
    in JSON."""
    memo = (kind, key, type(value), value)
    hashable = True
    try:
        pe = _ELEMENTS.get(memo)
    except TypeError:  # an unhashable value
        hashable, pe = False, None
    if pe is None:
        pe = kind + canonical_json({key: value} if kind == "k:" else value)
        if hashable:
            if len(_ELEMENTS) >= _CACHE_SIZE:
                _ELEMENTS.clear()
            _ELEMENTS[memo] = pe
    return pe


def _keyed(t: Type, value: Any) -> bool:
    return t.shape in (Shape.ASSOCIATIVE, Shape.SET) and isinstance(value, list)


def _granular_map(t: Type, value: Any) -> bool:
    return t.shape in (Shape.STRUCT, Shape.MAP, Shape.UNTYPED) and isinstance(value, dict)


# ---- the fields an object sets ---------------------------------------------------------------


def fieldset_of(obj: dict[str, Any], model: type[BaseModel]) -> FieldSet:
    """The fields ``obj`` sets (structured-merge-diff's ToFieldSet), without stripped metadata.

    Leaves, list items, map entries and empty or null fields are members; a struct field with
    fields set inside it is not. Fields the model does not declare are left out.
    """
    out: set[Path] = set()
    _set_walk(obj, type_of(model), (), out)
    return strip_meta(FieldSet(out))


def _set_walk(value: Any, t: Type, path: Path, out: set[Path]) -> None:
    if _granular_map(t, value):
        for k, v in value.items():
            f = t.field(k)
            if f is None:
                continue
            child = path + ("f:" + k,)
            _set_walk(v, f.type, child, out)
            if v is None or v == {} or t.shape is not Shape.STRUCT:
                out.add(child)
        return
    if _keyed(t, value):
        pes = _item_elements(t, value)
        if pes is None:
            out.add(path)
            return
        for pe, item in zip(pes, value):
            child = path + (pe,)
            out.add(child)
            if t.shape is Shape.ASSOCIATIVE:
                _set_walk(item, t.elem(), child, out)
        return
    if isinstance(value, list) and t.shape in (Shape.ASSOCIATIVE, Shape.SET) and not value:
        return  # an empty granular list sets nothing
    if path:
        out.add(path)


# ---- comparing two objects -------------------------------------------------------------------


_MISSING: Any = object()


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    """What changed from one object to another, as field sets."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def changed(self) -> FieldSet:
        """Fields set to a new value (added or modified)."""
        return self.added | self.modified

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)


def compare(old: dict[str, Any] | None, new: dict[str, Any], model: type[BaseModel]) -> Comparison:
    """Fields added, modified and removed from ``old`` to ``new`` (``None``: an empty object).

    A field that is added or removed is recorded with everything below it; a struct or map
    present on both sides is not itself modified, only its leaves are.
    """
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    t = type_of(model)
    if old is None and new and isinstance(new, dict) and t.shape is Shape.STRUCT:
        return _compare_created(new, t)
    _cmp({} if old is None else old, new, t, (), added, modified, removed)
    return Comparison(FieldSet._of(_strip_paths(added)), FieldSet._of(_strip_paths(modified)),
                      FieldSet._of(_strip_paths(removed)))


_CREATED: dict[tuple[Type, str, bytes], tuple[frozenset[Path], frozenset[Path], frozenset[Path]]] = {}
_CREATED_OBJECTS: dict[tuple[Type, tuple[tuple[Any, ...], ...]], Comparison] = {}


def _compare_created(new: dict[str, Any], t: Type) -> Comparison:
    """``compare(None, new)``, memoized for the whole object by what each top-level field's
    walk depends on (:func:`_walk_key`): the pods of one template, or one component's Events,
    differ only in their strings (names, uids, label values, messages), and give one Comparison
    (immutable, shared), without walking, joining and stripping their field sets again per
    create."""
    parts: list[tuple[Any, ...]] = []
    memoizable = True
    for k, rv in new.items():
        if isinstance(rv, _CONTAINERS):
            try:
                parts.append((k, orjson.dumps(_walk_key(rv))))
            except TypeError:  # beyond JSON's integers: walk it, unmemoized
                memoizable = False
                break
        else:  # a scalar: its type (True is not 1), and its value unless a non-empty string
            parts.append((k, type(rv), "-" if type(rv) is str and rv else rv))
    memo = (t, tuple(parts)) if memoizable else None
    if memo is not None:
        found = _CREATED_OBJECTS.get(memo)
        if found is not None:
            return found
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    _cmp_created(new, t, added, modified, removed)
    cmp = Comparison(FieldSet._of(_strip_paths(added)), FieldSet._of(_strip_paths(modified)),
                     FieldSet._of(_strip_paths(removed)))
    if memo is not None:
        if len(_CREATED_OBJECTS) >= _CACHE_SIZE:
            _CREATED_OBJECTS.clear()
        # the key is kept: its bytes in allocations of their own size (memory.exact)
        _CREATED_OBJECTS[(t, tuple((p[0], memory.exact(p[1])) if len(p) == 2 else p for p in memo[1]))] = cmp
    return cmp


def _cmp_created(new: dict[str, Any], t: Type, added: set[Path], modified: set[Path], removed: set[Path]) -> None:
    """``_cmp({}, new, t, ...)`` of a created object, one top-level field at a time, each
    memoized by its JSON as :func:`_walk_key` keeps it: objects of a kind share most of their
    spec and status (every pod of a ReplicaSet has the template's), and walking them is most of
    a create's cost here. What the walk finds depends only on the type, the field and that JSON."""
    for k, rv in new.items():
        f = t.field(k)
        if f is None:
            continue
        lv = _zero(f.type) if f.always_present else _MISSING
        path = ("f:" + k,)
        if not isinstance(rv, _CONTAINERS):
            _cmp(lv, rv, f.type, path, added, modified, removed)
            continue
        try:
            memo = (t, k, orjson.dumps(_walk_key(rv)))
        except TypeError:  # beyond JSON's integers: walk it
            _cmp(lv, rv, f.type, path, added, modified, removed)
            continue
        found = _CREATED.get(memo)
        if found is None:
            a: set[Path] = set()
            m: set[Path] = set()
            r: set[Path] = set()
            _cmp(lv, rv, f.type, path, a, m, r)
            if len(_CREATED) >= _CACHE_SIZE:
                _CREATED.clear()
            found = _CREATED[(memo[0], memo[1], memory.exact(memo[2]))] = (frozenset(a), frozenset(m), frozenset(r))
        added.update(found[0])
        modified.update(found[1])
        removed.update(found[2])


def _walk_key(value: Any) -> Any:
    """What the walk of a created object's field depends on, for ``_compare_created``'s memos:
    the value with every non-empty string that is not inside a list replaced by one
    placeholder. Outside lists the walk makes a path of each map key and of each scalar, never
    of a scalar's text (on create it compares a value only with nothing, ``{}`` or ``[]``);
    inside a list the items' text names them (``k:{"name":"c"}``, ``v:"a"``), so lists are kept
    as they are. So the pods of one ReplicaSet, with their generated names, and objects that
    differ only in their strings (each Event's involved object, message and timestamps) share
    one memo entry. Empty strings stay empty (a field set may tell them apart), and every
    value keeps its type (True is not 1, nor "1")."""
    if not isinstance(value, dict):
        return value
    return {k: ("-" if v else v) if type(v) is str else _walk_key(v) if type(v) is dict else v
            for k, v in value.items()}


def _zero(t: Type) -> Any:
    if t.shape in (Shape.STRUCT, Shape.MAP):
        return {}
    if t.shape in (Shape.ASSOCIATIVE, Shape.SET, Shape.ATOMIC):
        return []
    return _MISSING


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True is not 1 there, as it is in Python.
    if type(a) is not type(b) and (isinstance(a, bool) or isinstance(b, bool)):
        return False
    return bool(a == b)


def _empty(v: Any) -> bool:
    return v is None or v == {} or v == []


def _identical(a: Any, b: Any) -> bool:
    """Whether two values are the same JSON, so nothing below them changed. Python's ``==``
    alone is not enough (True == 1, and 1 == 1.0 renders another list key); the JSON text
    settles it. Equal values whose maps are ordered differently are not identical here: the
    walk then decides, as before."""
    if a is b:
        return True
    if type(a) is not type(b) or a != b:
        return False
    try:
        return orjson.dumps(a) == orjson.dumps(b)
    except TypeError:  # beyond JSON's integers: leave it to the walk
        return False


def _cmp(lhs: Any, rhs: Any, t: Type, path: Path, added: set[Path], modified: set[Path],
         removed: set[Path]) -> None:
    if lhs is _MISSING:
        _all_paths(rhs, t, path, added)
        return
    if rhs is _MISSING:
        _all_paths(lhs, t, path, removed)
        return
    if isinstance(lhs, (dict, list)) and _identical(lhs, rhs):
        # A write mostly leaves whole subtrees alone (a status update: spec and metadata):
        # the walk below would only confirm that nothing in them changed.
        return
    if _granular_map(t, lhs) and _granular_map(t, rhs) and not (_empty(lhs) and _empty(rhs)):
        for k in lhs.keys() | rhs.keys():
            f = t.field(k)
            if f is None:
                continue
            lv, rv = lhs.get(k, _MISSING), rhs.get(k, _MISSING)
            if f.always_present:
                lv = _zero(f.type) if lv is _MISSING else lv
                rv = _zero(f.type) if rv is _MISSING else rv
            if lv is _MISSING and rv is _MISSING:
                continue
            if lv is _MISSING or rv is _MISSING or isinstance(lv, _CONTAINERS) or isinstance(rv, _CONTAINERS):
                _cmp(lv, rv, f.type, path + ("f:" + k,), added, modified, removed)
            elif not _same(lv, rv):  # two scalars: what the call would end in, without the call
                modified.add(path + ("f:" + k,))
        return
    if _keyed(t, lhs) and _keyed(t, rhs) and (lhs or rhs):
        lpes, rpes = _item_elements(t, lhs), _item_elements(t, rhs)
        if lpes is not None and rpes is not None:
            litems, ritems = dict(zip(lpes, lhs)), dict(zip(rpes, rhs))
            elem = t.elem()
            for pe in litems.keys() | ritems.keys():
                _cmp(litems.get(pe, _MISSING), ritems.get(pe, _MISSING), elem, path + (pe,),
                     added, modified, removed)
            return
    if path and not _same(lhs, rhs):
        modified.add(path)


_CONTAINERS = (dict, list)


def _all_paths(value: Any, t: Type, path: Path, out: set[Path]) -> None:
    if path:
        out.add(path)
    if _granular_map(t, value):
        field = t.field
        for k, v in value.items():
            f = field(k)
            if f is not None:
                if isinstance(v, _CONTAINERS):
                    _all_paths(v, f.type, path + ("f:" + k,), out)
                else:  # a scalar is its own path and nothing below
                    out.add(path + ("f:" + k,))
    elif _keyed(t, value):
        pes = _item_elements(t, value)
        if pes is not None:
            elem = t.elem()
            for pe, item in zip(pes, value):
                _all_paths(item, elem, path + (pe,), out)


# ---- merging an applied configuration, pruning what is no longer applied ---------------------


class MergeError(ValueError):
    """An applied configuration the schema cannot merge (a keyed list item without its key,
    two items with one key). ``field`` is the list's path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def merge(live: dict[str, Any], config: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``config`` merged into ``live`` (structured-merge-diff's Merge): maps merge key by key,
    associative lists item by item, sets as unions, everything else takes the config's value.
    Neither input is changed; MergeError when a keyed list of ``config`` lacks or repeats keys."""
    check_keys(config, model)
    merged: dict[str, Any] = _merge(live, config, type_of(model), ())
    return merged


def check_keys(config: dict[str, Any], model: type[BaseModel]) -> None:
    """MergeError when a keyed list of an applied configuration lacks or repeats keys."""
    _check_keys(config, type_of(model), ())


def _check_keys(value: Any, t: Type, path: Path) -> None:
    if _granular_map(t, value):
        for k, v in value.items():
            f = t.field(k)
            if f is not None:
                _check_keys(v, f.type, path + ("f:" + k,))
    elif _keyed(t, value):
        pes = _item_elements(t, value)
        field = path_string(path)[1:]
        if pes is None:
            if t.shape is Shape.SET:
                raise MergeError(field, "set has a duplicate or non-scalar entry")
            key = t.keys[0]
            if all(isinstance(i, dict) and i.get(key) is not None for i in value):
                raise MergeError(field, "associative list with keys has a duplicate entry")
            raise MergeError(field, f'associative list with keys has an element that omits key field "{key}"')
        if t.shape is Shape.ASSOCIATIVE:
            elem = t.elem()
            for pe, item in zip(pes, value):
                _check_keys(item, elem, path + (pe,))


def _merge(lhs: Any, rhs: Any, t: Type, path: Path) -> Any:
    if rhs is None or lhs is _MISSING or lhs is None:
        return copy.deepcopy(rhs)
    if _granular_map(t, lhs) and _granular_map(t, rhs):
        out = dict(lhs)
        for k, v in rhs.items():
            f = t.field(k)
            ft = f.type if f is not None else _UNTYPED
            out[k] = _merge(lhs.get(k, _MISSING), v, ft, path + ("f:" + k,))
        return out
    if _keyed(t, rhs):
        rpes = _item_elements(t, rhs)
        if rpes is None:  # refused by _check_keys already
            return copy.deepcopy(rhs)
        lpes = _item_elements(t, lhs) if isinstance(lhs, list) else None
        if lpes is None:
            return copy.deepcopy(rhs)
        litems, ritems = dict(zip(lpes, lhs)), dict(zip(rpes, rhs))
        elem = t.elem()
        merged: list[Any] = []
        for pe, lv, rv in _merged_order(lpes, rpes, litems, ritems):
            if rv is _MISSING:
                merged.append(lv)
            elif t.shape is Shape.SET:
                merged.append(rv)
            else:
                merged.append(_merge(lv, rv, elem, path + (pe,)))
        return merged
    return copy.deepcopy(rhs)


def _merged_order(lpes: list[str], rpes: list[str], litems: dict[str, Any],
                  ritems: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """Items of both lists in structured-merge-diff's order: the applied order for the items
    the config names, live-only items kept where they stood relative to them."""
    shared = [pe for pe in rpes if pe in litems]
    si = 0
    li = ri = 0
    emitted: set[str] = set()
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and lpes[li] in emitted:
            li += 1
            continue
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                emitted.add(pe)
                yield pe, litems[pe], ritems[pe]
                li, ri, si = li + 1, ri + 1, si + 1
                continue
            if pe in ritems and si < len(shared) and shared[si] != pe:
                li += 1  # a shared item that comes later in the applied order
                continue
        if li < len(lpes) and lpes[li] not in ritems:
            emitted.add(lpes[li])
            yield lpes[li], litems[lpes[li]], _MISSING
            li += 1
            continue
        if ri < len(rpes):
            pe = rpes[ri]
            emitted.add(pe)
            yield pe, litems.get(pe, _MISSING), ritems[pe]
            ri += 1
            if si < len(shared) and shared[si] == pe:
                si += 1
            continue
        li += 1  # a shared item already taken in the applied order


_DROP: Any = object()


def prune(obj: dict[str, Any], last: FieldSet, owned: FieldSet, model: type[BaseModel]) -> dict[str, Any]:
    """``obj`` without the fields in ``last`` (what a manager applied before) that nobody owns
    now (``owned``: every manager's fields, the applier's new ones included).

    A removed field goes with everything below it, unless someone owns a field there; a map
    or list emptied by the removal goes too, unless owned.
    """
    remove = last - owned
    if not remove:
        return obj
    pruned: dict[str, Any] = _prune(obj, type_of(model), (), remove, owned)
    return pruned


def _prune(value: Any, t: Type, path: Path, remove: FieldSet, owned: FieldSet) -> Any:
    if _granular_map(t, value):
        out = {}
        for k, v in value.items():
            f = t.field(k)
            res = _prune_child(v, f.type if f is not None else _UNTYPED, path + ("f:" + k,), remove, owned)
            if res is not _DROP:
                out[k] = res
        return out
    if _keyed(t, value):
        pes = _item_elements(t, value)
        if pes is None:
            return value
        elem = t.elem()
        items = []
        for pe, item in zip(pes, value):
            res = _prune_child(item, elem, path + (pe,), remove, owned)
            if res is not _DROP:
                items.append(res)
        return items
    return value


def _prune_child(value: Any, t: Type, path: Path, remove: FieldSet, owned: FieldSet) -> Any:
    if path in remove and not owned.has_below(path):
        return _DROP
    if remove.has_below(path):
        res = _prune(value, t, path, remove, owned)
        if res in ({}, []) and value not in ({}, []) and path not in owned and not owned.has_below(path):
            return _DROP
        return res
    return value


# ---- managers ----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class ManagerEntry:
    """One ``managedFields`` entry: a manager, how it wrote (Apply or Update), and its fields."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """What tells entries apart, as Kubernetes' manager identifier: an applier keeps one
        entry whatever the version it applied at."""
        return (self.manager, self.operation, self.subresource,
                "" if self.operation == "Apply" else self.api_version)

    def describe(self) -> str:
        """The manager as Kubernetes names it in a conflict."""
        out = json.dumps(self.manager)
        if self.subresource:
            out += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            out += f" using {self.api_version}"
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"manager": self.manager} if self.manager else {}  # omitempty, as Kubernetes
        d.update({"operation": self.operation, "apiVersion": self.api_version})
        if self.time:
            d["time"] = self.time
        d["fieldsType"] = FIELDS_TYPE
        d["fieldsV1"] = self.fields.to_fields_v1()
        if self.subresource:
            d["subresource"] = self.subresource
        return d

    @classmethod
    def from_dict(cls, d: Any) -> ManagerEntry:
        if not isinstance(d, dict):
            raise ValueError("a managedFields entry must be an object")
        if d.get("operation") not in ("Apply", "Update"):
            raise ValueError('managedFields operation must be "Apply" or "Update", '
                             f'not {d.get("operation")!r}')
        if d.get("fieldsType", FIELDS_TYPE) != FIELDS_TYPE:
            raise ValueError(f'managedFields fieldsType must be "{FIELDS_TYPE}"')
        return cls(manager=str(d.get("manager") or ""), operation=d["operation"],
                   api_version=str(d.get("apiVersion") or ""),
                   fields=FieldSet.from_fields_v1(d.get("fieldsV1") or {}),
                   time=d.get("time"), subresource=str(d.get("subresource") or ""))


@dataclasses.dataclass(frozen=True, slots=True)
class Conflict:
    """A field another manager owns and a write would change."""

    owner: ManagerEntry
    path: Path

    @property
    def field(self) -> str:
        return path_string(self.path)


class Managers:
    """The decoded ``managedFields`` of an object, keyed by manager identity."""

    def __init__(self, entries: Iterable[ManagerEntry] = ()) -> None:
        self.entries: dict[tuple[str, str, str, str], ManagerEntry] = {}
        for e in entries:
            prev = self.entries.get(e.identity)
            if prev is not None:  # a duplicate identity: one entry with both sets
                e = dataclasses.replace(e, fields=prev.fields | e.fields)
            self.entries[e.identity] = e

    @classmethod
    def decode(cls, managed_fields: Any) -> Managers:
        """From an object's ``metadata.managedFields``; ValueError when malformed."""
        if managed_fields is None:
            return cls()
        if not isinstance(managed_fields, list):
            raise ValueError("managedFields must be a list")
        return cls(ManagerEntry.from_dict(d) for d in managed_fields)

    def encode(self) -> list[dict[str, Any]]:
        """Entries in Kubernetes' order: Apply before Update, then by time, manager, version."""
        entries = sorted(self.entries.values(),
                         key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
        return [e.to_dict() for e in entries if e.fields]

    def get(self, identity: tuple[str, str, str, str]) -> ManagerEntry | None:
        return self.entries.get(identity)

    def owned(self, *, exclude: tuple[str, str, str, str] | None = None) -> FieldSet:
        """Every field some manager (other than ``exclude``) owns."""
        out = FieldSet()
        for ident, e in self.entries.items():
            if ident != exclude:
                out = out | e.fields
        return out

    def conflicts(self, identity: tuple[str, str, str, str], changed: FieldSet) -> list[Conflict]:
        """Fields in ``changed`` that managers other than ``identity`` own, sorted."""
        out: list[Conflict] = []
        for ident, e in sorted(self.entries.items(), key=lambda kv: kv[0]):
            if ident != identity:
                out.extend(Conflict(e, p) for p in e.fields & changed)
        return sorted(out, key=lambda c: (c.owner.manager, c.owner.identity, c.path))

    def _take(self, identity: tuple[str, str, str, str] | None, cmp: Comparison) -> None:
        """Others lose what the write changed (forced); everyone loses what it removed."""
        changed = cmp.changed
        for ident, e in list(self.entries.items()):
            fields = e.fields - cmp.removed
            if ident != identity:
                fields = fields - changed
            e.fields = fields
            if not fields:
                del self.entries[ident]

    def record_update(self, manager: str, api_version: str, cmp: Comparison, *, subresource: str = "",
                      time: str | None = None) -> None:
        """An Update: the manager now owns every field it changed."""
        self._take(None, cmp)
        changed = cmp.changed
        if not changed:
            return
        entry = ManagerEntry(manager, "Update", api_version, FieldSet(), subresource=subresource)
        entry = self.entries.setdefault(entry.identity, entry)
        entry.fields = entry.fields | changed
        entry.time = time or now_rfc3339()

    def record_apply(self, manager: str, api_version: str, applied: FieldSet, cmp: Comparison, *,
                     subresource: str = "", time: str | None = None) -> None:
        """An Apply (conflicts already settled): the manager owns exactly what it applied."""
        entry = ManagerEntry(manager, "Apply", api_version, applied, subresource=subresource)
        prev = self.entries.get(entry.identity)
        self._take(entry.identity, cmp)
        if not applied:
            self.entries.pop(entry.identity, None)
            return
        # The time says when the manager last changed the object.
        entry.time = prev.time if prev is not None and prev.time and cmp.empty() else (time or now_rfc3339())
        self.entries[entry.identity] = entry


# ---- the write path ----------------------------------------------------------------------------


def _base_managers(old_obj: dict[str, Any] | None, new_obj: dict[str, Any]) -> Managers | None:
    """The managers a write starts from: the stored ones, unless the request set its own
    (``None``: the request reset them with ``[{}]``)."""
    old_list = ((old_obj or {}).get("metadata") or {}).get("managedFields") or []
    new_list = (new_obj.get("metadata") or {}).get("managedFields") or []
    if new_list and new_list != old_list:
        if all(isinstance(e, dict) and not e for e in new_list):
            return None
        try:
            return Managers.decode(new_list)
        except ValueError:
            pass  # Kubernetes keeps the stored managers when the request's cannot be read
    try:
        return Managers.decode(old_list)
    except ValueError:
        return Managers()


def update_managed_fields(old_obj: dict[str, Any] | None, new_obj: dict[str, Any], manager: str, *,
                          model: type[BaseModel], operation: str = "Update", subresource: str | None = None,
                          time: str | None = None, applied: dict[str, Any] | None = None,
                          ignored: FieldSet | None = None) -> list[dict[str, Any]]:
    """The ``managedFields`` of ``new_obj`` after ``manager`` wrote it over ``old_obj``
    (``None`` on create).

    ``Update``: the manager takes every field it added or changed from the other managers;
    fields it removed are nobody's. ``Apply`` (``applied``: the applied configuration, whose
    conflicts the caller has settled): the manager owns exactly the fields it applied, minus
    ``ignored`` (fields the endpoint resets, e.g. status on the main resource).
    An empty list means no managedFields (a request that reset them with ``[{}]``).
    """
    managers = _base_managers(old_obj, new_obj)
    if managers is None:
        return []
    api_version = str(new_obj.get("apiVersion") or "")
    cmp = compare(old_obj, new_obj, model)
    if operation == "Update":
        managers.record_update(manager, api_version, cmp, subresource=subresource or "", time=time)
    elif operation == "Apply":
        applied_set = fieldset_of(applied or {}, model)
        if ignored:
            applied_set = applied_set.recursive_difference(ignored)
        managers.record_apply(manager, api_version, applied_set, cmp, subresource=subresource or "",
                              time=time)
    else:
        raise ValueError(f'operation must be "Update" or "Apply", not {operation!r}')
    return managers.encode()


def manager_name(field_manager: str | None, user_agent: str | None) -> str:
    """The manager of a request, as Kubernetes' ``managerOrUserAgent``: its ``fieldManager``,
    else its User-Agent up to the first ``/`` (``kubectl/v1.32.5 (linux/amd64)`` → ``kubectl``)
    without unprintable characters and cut to 128 bytes; no User-Agent gives ``""``."""
    if field_manager:
        return field_manager
    out: list[str] = []
    size = 0
    for ch in (user_agent or "").split("/", 1)[0]:
        if not ch.isprintable():
            continue
        width = len(ch.encode())
        if size + width > MAX_MANAGER_LENGTH:
            break
        out.append(ch)
        size += width
    return "".join(out)
