"""The base every API type is built on: pydantic v2 models speaking Kubernetes' camelCase JSON.

Conventions (every model in ``minik8s/api`` follows them):

* Python attribute names are snake_case; the JSON names are camelCase aliases
  (``alias_generator``). Both are accepted on input; output is always by alias.
* A field that Kubernetes' defaulting fills in has that default here (``restartPolicy:
  "Always"``), so a validated object is the defaulted object. Every other optional field
  defaults to ``None`` and is left out of the JSON (``omitempty``): dump with :func:`to_dict`.
* Unknown fields are ignored by validation; ``minik8s.api.schema.unknown_fields`` finds them
  for ``fieldValidation=Strict|Warn``.
* Lists that strategic merge patch merges by a key declare it with :func:`merge_key`
  (``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy`` in OpenAPI).
* Timestamps are RFC 3339 strings (``2026-11-23T15:38:36Z``, made and read by
  :mod:`minik8s.timestamps`), quantities are strings (``minik8s.quantity`` parses them),
  IntOrString is ``int | str``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = ["K8sModel", "merge_key", "set_strategy", "to_dict", "IntOrString", "Int32"]

IntOrString = int | str
# A Go int32 field (``replicas``): a value outside its range is refused, as Go's decoder does.
Int32 = Annotated[int, Field(ge=-(2 ** 31), le=2 ** 31 - 1, json_schema_extra={"format": "int32"})]


class K8sModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        validate_assignment=False,
        ser_json_timedelta="iso8601",
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        # Kubernetes reads an explicit JSON null as "not set", so defaults still apply.
        if isinstance(data, dict) and None in data.values():
            return {k: v for k, v in data.items() if v is not None}
        return data


def merge_key(key: str, *, strategy: str = "merge", **kw: Any) -> Any:
    """A list field merged by ``key`` in strategic merge patch (``containers`` by name)."""
    extra = {"x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": strategy}
    return _field(extra, kw)


def set_strategy(strategy: str, **kw: Any) -> Any:
    """A field with a patch strategy but no merge key (``finalizers``: merge; ``$retainKeys``)."""
    return _field({"x-kubernetes-patch-strategy": strategy}, kw)


def _field(extra: dict[str, Any], kw: dict[str, Any]) -> Any:
    if "default_factory" not in kw:
        kw.setdefault("default", None)
    return Field(json_schema_extra=extra, **kw)


def to_dict(model: BaseModel) -> dict[str, Any]:
    """The Kubernetes JSON form of a model: camelCase, empty optionals left out."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


