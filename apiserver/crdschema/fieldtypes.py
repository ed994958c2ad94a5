"""How server-side apply and managedFields see a custom object: a ``managedfields.Type`` built
from its CRD's structural schema, as structured-merge-diff builds one from a CRD's OpenAPI.

* an object with ``properties`` is a struct of those fields (``apiVersion``, ``kind`` and
  ``metadata`` added at the root and in embedded resources); with ``additionalProperties`` a
  map of its values; ``x-kubernetes-map-type: atomic`` is owned whole;
* an array is atomic unless ``x-kubernetes-list-type`` says ``set`` (of scalars) or ``map``
  (items keyed by ``x-kubernetes-list-map-keys``);
* a field with ``x-kubernetes-preserve-unknown-fields`` and no properties is untyped (maps
  granular, lists atomic), anything else a scalar.
"""

from __future__ import annotations

from typing import Any

from apiserver import managedfields as mf
from minik8s.api.meta import ObjectMeta

__all__ = ["root_type"]


def root_type(schema: dict[str, Any]) -> mf.Type:
    return _type(schema, root=True)


def _struct(fields: dict[str, mf.StructField]) -> mf.Type:
    t = mf.Type(mf.Shape.STRUCT)
    t._fields = fields  # a struct known by its fields, not by a model
    return t


def _type(s: dict[str, Any], *, root: bool = False) -> mf.Type:
    typ = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        return mf.Type(mf.Shape.SCALAR)
    embedded = root or bool(s.get("x-kubernetes-embedded-resource"))
    props = s.get("properties") or {}
    if typ == "object" or embedded or props:
        if s.get("x-kubernetes-map-type") == "atomic":
            return mf.Type(mf.Shape.ATOMIC)
        addl = s.get("additionalProperties")
        if isinstance(addl, dict) and not props:
            return mf.Type(mf.Shape.MAP, elem=_type(addl))
        if not props and (s.get("x-kubernetes-preserve-unknown-fields") or addl is True):
            return mf.Type(mf.Shape.UNTYPED)
        fields = {k: mf.StructField(_type(sub), False) for k, sub in props.items() if isinstance(sub, dict)}
        if embedded:
            fields["apiVersion"] = mf.StructField(mf.Type(mf.Shape.SCALAR), False)
            fields["kind"] = mf.StructField(mf.Type(mf.Shape.SCALAR), False)
            fields["metadata"] = mf.StructField(mf.type_of(ObjectMeta), False)
        return _struct(fields)
    if typ == "array":
        items: dict[str, Any] = s["items"] if isinstance(s.get("items"), dict) else {}
        lt = s.get("x-kubernetes-list-type")
        if lt == "set":
            return mf.Type(mf.Shape.SET, elem=mf.Type(mf.Shape.SCALAR))
        if lt == "map" and s.get("x-kubernetes-list-map-keys"):
            return mf.Type(mf.Shape.ASSOCIATIVE, elem=_type(items), keys=tuple(s["x-kubernetes-list-map-keys"]))
        return mf.Type(mf.Shape.ATOMIC)
    if not typ and s.get("x-kubernetes-preserve-unknown-fields"):
        return mf.Type(mf.Shape.UNTYPED)
    return mf.Type(mf.Shape.SCALAR)
