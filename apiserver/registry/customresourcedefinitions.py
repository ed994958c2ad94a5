"""CustomResourceDefinition: its strategy (Kubernetes' ``apiextensions-apiserver/pkg/registry/
customresourcedefinition``) and its printed columns.

* create: status starts empty but for ``storedVersions`` (the storage version); generation 1;
* update: status kept; generation counts spec changes; a new storage version is added to
  ``storedVersions``; group and plural never change, scope and kind not once established;
* delete: the first delete adds the ``customresourcecleanup.apiextensions.k8s.io`` finalizer and
  the ``Terminating`` condition; the CRD controller (``apiserver/apiextensions/controller.py``)
  deletes every object of the resource, then removes the finalizer, and the CRD goes.
"""

from __future__ import annotations

from typing import Any

from apiserver import printers
from apiserver.crdschema import crd_validation, structural
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s.api.wellknown import apiextensions as api
from minik8s.timestamps import now_rfc3339


def storage_version(crd: dict[str, Any]) -> str | None:
    for ver in (crd.get("spec") or {}).get("versions") or []:
        if ver.get("storage"):
            name: str | None = ver.get("name")
            return name
    return None


def set_condition(crd: dict[str, Any], cond: dict[str, Any]) -> bool:
    """Set a condition (its transition time kept when the status did not change); whether
    anything changed."""
    status = crd.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if all(c.get(k) == cond.get(k) for k in ("status", "reason", "message")):
                return False
            new = dict(cond)
            new["lastTransitionTime"] = c.get("lastTransitionTime") if c.get("status") == cond["status"] \
                else now_rfc3339()
            conds[i] = new
            return True
    conds.append({**cond, "lastTransitionTime": now_rfc3339()})
    return True


def _strip_schema_nulls(crd: dict[str, Any]) -> None:
    for ver in (crd.get("spec") or {}).get("versions") or []:
        schema = (ver.get("schema") or {}).get("openAPIV3Schema") if isinstance(ver, dict) else None
        if schema is not None:
            ver["schema"]["openAPIV3Schema"] = structural.strip_nulls(schema)


class CustomResourceDefinitionStrategy(Strategy):
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        _strip_schema_nulls(obj)
        super().prepare_for_create(obj)
        sv = storage_version(obj)
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [sv] if sv else []}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        _strip_schema_nulls(new)
        super().prepare_for_update(new, old)
        sv = storage_version(new)
        if sv:
            status = new.setdefault("status", {})
            stored = status.setdefault("storedVersions", [])
            if sv not in stored:
                stored.append(sv)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return crd_validation.validate(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return crd_validation.validate_update(new, old, established=api.is_true(old, api.ESTABLISHED))

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return crd_validation.validate_status(new)

    def delete_finalizers(self, obj: dict[str, Any]) -> tuple[str, ...]:
        return (api.CLEANUP_FINALIZER,)

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        if api.condition(obj, api.TERMINATING) is None:
            set_condition(obj, {"type": api.TERMINATING, "status": "True", "reason": "InstanceDeletionPending",
                                "message": "CustomResourceDefinition marked for deletion; CustomResource deletion "
                                           "will begin soon"})


def _crd_row(obj: dict[str, Any], now: float) -> list[Any]:
    return [obj["metadata"].get("name", ""), obj["metadata"].get("creationTimestamp")]


#: what the default table convertor prints for a kind without columns of its own: kubectl get crd
CUSTOM_RESOURCE_DEFINITION = printers.Printer(
    (printers.Column("Name", "string", "name", "Name must be unique within a namespace."),
     printers.Column("Created At", "date", "", "CreationTimestamp is a timestamp representing the server time "
                                               "when this object was created.")),
    _crd_row)
