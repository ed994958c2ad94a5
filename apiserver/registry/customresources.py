"""Custom resources: the API behaviour of the objects of a served CustomResourceDefinition
version (Kubernetes' ``apiextensions-apiserver/pkg/registry/customresource``).

One :class:`CustomVersion` per served version holds what the CRD says about it: its schema
(structural, checked when the CRD was written), whether ``status`` and ``scale`` are
subresources, its printer columns and its storage version. From it come:

* :meth:`CustomVersion.decode` — the body as the REST layer admits it: metadata typed as every
  object's, then fields the schema does not specify pruned (reported as unknown fields for
  ``fieldValidation=Strict|Warn``), then defaults applied;
* :class:`CustomResourceStrategy` — validation against the schema with Kubernetes' field paths,
  the spec/status split when ``status`` is a subresource (generation counts every change but
  metadata and status), stored in the storage version (conversion ``None``: only ``apiVersion``
  differs between versions, rewritten on the way out by :meth:`CustomVersion.convert_out`);
* the autoscaling/v1 Scale view at the CRD's ``specReplicasPath``/``statusReplicasPath``/
  ``labelSelectorPath``;
* the printer: NAME, then the ``additionalPrinterColumns`` (``jsonPath``, ``type``, ``format``,
  ``priority``), or AGE when there are none.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import orjson
import pydantic

from apiserver import bodies, errors, printers
from apiserver import validation as v
from apiserver.crdschema import cel, fieldtypes, pruning, values
from apiserver.registry.strategy import StatusStrategy, Strategy
from apiserver.validation import FieldError
from minik8s.api.meta import ObjectMeta
from minik8s.api.schema import unknown_fields
from minik8s.cli import jsonpath
from minik8s.duration import human_duration
from minik8s.timestamps import to_unix

__all__ = ["CustomVersion", "CustomResourceStrategy", "printer_for"]


@dataclasses.dataclass(frozen=True)
class CustomVersion:
    """What the CRD says about one served version of its resource."""

    crd_name: str
    group: str
    version: str
    kind: str
    list_kind: str
    plural: str
    namespaced: bool
    schema: dict[str, Any]
    storage_version: str
    status_enabled: bool
    scale: dict[str, Any] | None
    selectable_fields: tuple[str, ...] = ()
    #: the CRD is being deleted: its objects go, no new one may come
    terminating: bool = False
    #: the Warning every request to a deprecated version gets (None: not deprecated)
    warning: str | None = None

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}"

    @functools.cached_property
    def has_rules(self) -> bool:
        """Whether the schema has CEL rules (x-kubernetes-validations) to evaluate."""
        return cel.has_rules(self.schema)

    @functools.cached_property
    def model(self) -> Any:
        """How managed fields and server-side apply see the objects: the schema's types."""
        return fieldtypes.root_type(self.schema)

    # ---- decoding --------------------------------------------------------------------------

    def decode(self, body: Any, *, field_validation: str, warnings: list[str]) -> dict[str, Any]:
        """The admitted object: typed metadata, pruned to the schema, defaulted."""
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was in an unknown format")
        bodies.require_meta(body, self.kind, self.group_version)
        try:
            obj: dict[str, Any] = orjson.loads(orjson.dumps(body))  # ours to prune and default
        except TypeError as e:  # an integer past 64 bits: JSON cannot hold it
            raise errors.BadRequest(f"the object cannot be stored: {e}") from None
        md_in = obj.get("metadata") or {}
        unknown = [f"metadata.{u}" for u in unknown_fields(ObjectMeta, md_in)]
        try:
            obj["metadata"] = ObjectMeta.model_validate(md_in).model_dump(by_alias=True, exclude_none=True,
                                                                          mode="json")
        except pydantic.ValidationError as e:
            errs = [FieldError("metadata." + ".".join(str(p) for p in err["loc"]), v.INVALID,
                               f"Invalid value: {str(err['msg'])}") for err in e.errors()]
            raise errors.Invalid.of(self.kind, self.group, md_in.get("name") or "", errs) from None
        unknown += pruning.prune(obj, self.schema)
        if unknown and field_validation in ("Strict", "Warn"):
            if field_validation == "Strict":
                msg = ", ".join(f'unknown field "{u}"' for u in unknown)
                raise errors.BadRequest(f'{self.kind} in version "{self.version}" cannot be handled as a '
                                        f"{self.kind}: strict decoding error: {msg}")
            warnings.extend(f'unknown field "{u}"' for u in unknown)
        pruning.default(obj, self.schema)
        return obj

    @functools.cached_property
    def has_defaults(self) -> bool:
        return pruning.has_defaults(self.schema)

    def convert_out(self, body: dict[str, Any]) -> dict[str, Any]:
        """An answer as this version speaks it (conversion ``None``: the apiVersion), with the
        schema's defaults, which Kubernetes also applies to what it reads from storage."""
        gv = self.group_version
        kind = body.get("kind")
        if kind == self.kind:
            if self.has_defaults:
                body = pruning.defaulted(body, self.schema)
            return body if body.get("apiVersion") == gv else {**body, "apiVersion": gv}
        if kind == self.list_kind or kind == f"{self.kind}List":
            return {**body, "apiVersion": gv, "items": [self.convert_out(o) for o in body.get("items") or []]}
        return body

    # ---- scale -----------------------------------------------------------------------------

    def to_scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        assert self.scale is not None
        md = obj["metadata"]
        spec = _get_path(obj, self.scale.get("specReplicasPath") or "")
        status = _get_path(obj, self.scale.get("statusReplicasPath") or "")
        out: dict[str, Any] = {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in md},
            # Scale's replicas are int32
            "spec": {"replicas": int(spec) if _is_int(spec, 2 ** 31) else 0},
            "status": {"replicas": int(status) if _is_int(status, 2 ** 31) else 0},
        }
        sel_path = self.scale.get("labelSelectorPath")
        if sel_path:
            sel = _get_path(obj, sel_path)
            if isinstance(sel, str) and sel:
                out["status"]["selector"] = sel
        return out

    def from_scale(self, current: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
        assert self.scale is not None
        new: dict[str, Any] = orjson.loads(orjson.dumps(current))
        _set_path(new, self.scale.get("specReplicasPath") or "", (scale.get("spec") or {}).get("replicas") or 0)
        return new


def _is_int(x: Any, bound: int = 2 ** 63) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool) or isinstance(x, float) and x.is_integer()) \
        and -bound <= x < bound


def _parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def _get_path(obj: Any, path: str) -> Any:
    for p in _parts(path):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = _parts(path)
    for p in parts[:-1]:
        nxt = obj.get(p)
        if not isinstance(nxt, dict):
            nxt = obj[p] = {}
        obj = nxt
    obj[parts[-1]] = value


class CustomResourceStrategy(Strategy):
    """Create, update and validation of one version's objects (``customresource/strategy.go``)."""

    uses_generation = True

    def __init__(self, cv: CustomVersion) -> None:
        self.cv = cv
        # Without a status subresource, status is the user's like any other field.
        self.status_field = "status" if cv.status_enabled else None

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        if self.cv.terminating:
            raise errors.MethodNotAllowed("create not allowed while custom resource definition is terminating")
        super().prepare_for_create(obj)

    def spec_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        skip = {"metadata", "apiVersion", "kind"} | ({"status"} if self.cv.status_enabled else set())
        return any(new.get(k) != old.get(k) for k in (new.keys() | old.keys()) - skip)

    def _schema_errors(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
        errs = values.validate(obj, self.cv.schema)
        if not errs and self.cv.has_rules:  # CEL rules run on a value the schema accepts
            errs = cel.validate(obj, self.cv.schema, old)
        return errs

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return v.validate_object_meta(obj) + self._schema_errors(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return (v.validate_object_meta(new) + self._schema_errors(new, old)
                + v.validate_object_meta_update(new, old))

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self._schema_errors(new, old) + v.validate_object_meta_update(new, old)

    def canonicalize(self, obj: dict[str, Any]) -> None:
        # stored in the storage version, whichever version it was written through
        obj["apiVersion"] = f"{self.cv.group}/{self.cv.storage_version}"

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        for path in self.cv.selectable_fields:
            val = _get_path(obj, path)
            out[path.lstrip(".")] = "" if val is None else (str(val).lower() if isinstance(val, bool) else str(val))
        return out

    # the scale subresource (apiserver/subresources.py)
    def scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.cv.to_scale(obj)

    def unscale(self, current: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]:
        return self.cv.from_scale(current, scale)


class CustomResourceStatusStrategy(StatusStrategy):
    """``/status`` of a custom resource: status from the request, the rest from storage."""

    def canonicalize(self, obj: dict[str, Any]) -> None:
        self.parent.canonicalize(obj)


# ---- the printer -------------------------------------------------------------------------------

_NAME = printers.Column("Name", "string", "name", "Name must be unique within a namespace. Is required when "
                        "creating resources, although some resources may allow a client to request the "
                        "generation of an appropriate name automatically.")
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
        "description": "CreationTimestamp is a timestamp representing the server time when this object was "
                       "created."}


def printer_for(columns: list[dict[str, Any]]) -> printers.Printer:
    """NAME and the version's ``additionalPrinterColumns`` (AGE when it has none)."""
    cols = columns or [_AGE]
    parsed = [jsonpath.parse("{" + c["jsonPath"] + "}") for c in cols]
    defs = (_NAME,) + tuple(printers.Column(c["name"], c["type"], c.get("format") or "", c.get("description") or "",
                                            c.get("priority") or 0) for c in cols)
    types = [c["type"] for c in cols]

    def row(obj: dict[str, Any], now: float) -> list[Any]:
        cells: list[Any] = [obj["metadata"].get("name", "")]
        for nodes, typ in zip(parsed, types):
            try:
                found = jsonpath.find(nodes, obj)
            except (jsonpath.JsonPathError, TypeError, KeyError, IndexError):
                found = []
            cells.append(_cell(typ, found[0], now) if found else None)
        return cells

    return printers.Printer(defs, row)


def _cell(typ: str, value: Any, now: float) -> Any:
    if typ == "string":
        if isinstance(value, (dict, list)):
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return "" if value is None else str(value)
    if typ == "integer":
        return int(value) if _is_int(value) else None
    if typ == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if typ == "boolean":
        return value if isinstance(value, bool) else None
    if typ == "date":
        t = to_unix(value) if isinstance(value, str) else None
        return None if t is None else human_duration(now - t)
    return None
