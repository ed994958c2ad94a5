"""Namespace API behaviour: phase Active on create, the ``kubernetes`` finalizer, and the
finalize subresource the namespace controller calls once the namespace is empty."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        fins = spec.get("finalizers") or []
        if FINALIZER not in fins:
            fins.append(FINALIZER)
        spec["finalizers"] = fins
        obj["status"] = {"phase": "Active"}
        # Kubernetes labels every namespace with its own name (a nameless one fails validation).
        if obj["metadata"].get("name"):
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers change only through /finalize
        new["spec"] = old.get("spec", {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = new["metadata"]["name"]

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return v.validate_object_meta(obj, name_rule=v.dns1123_label)

    def check_graceful_delete(self, obj: dict[str, Any], grace_period_seconds: int | None) -> int | None:
        # A namespace with spec finalizers is only marked; the namespace controller empties it.
        return 0 if (obj.get("spec") or {}).get("finalizers") else None

    def finalizers_pending(self, obj: dict[str, Any]) -> bool:
        # spec.finalizers too: the namespace controller empties the namespace, then /finalize
        return super().finalizers_pending(obj) or bool((obj.get("spec") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["status.phase"] = (obj.get("status") or {}).get("phase", "")
        return out


class NamespaceFinalizeStrategy(NamespaceStrategy):
    """``PUT namespaces/{name}/finalize``: only spec.finalizers changes."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        fins = (new.get("spec") or {}).get("finalizers") or []
        md = dict(old["metadata"])
        md["resourceVersion"] = new["metadata"].get("resourceVersion")
        new.clear()
        new.update(old)
        new["metadata"] = md
        new["spec"] = {**(old.get("spec") or {}), "finalizers": fins}
