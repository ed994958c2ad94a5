"""Per-resource API behaviour: one stateless strategy object per resource, with a hook per
lifecycle step (as Kubernetes' ``pkg/registry/*/strategy.go``).

The generic REST handlers (``apiserver/rest.py``) call these hooks in this order:

* create: ``prepare_for_create`` → ``validate`` → ``canonicalize`` → store
* update: ``prepare_for_update(new, old)`` → ``validate_update(new, old)`` → ``canonicalize``
* delete: ``check_graceful_delete(obj, options)`` decides between setting deletionTimestamp and
  removing the object at once.

Objects are Kubernetes JSON dicts that have already been validated and defaulted by the
resource's pydantic model. The status variant (``StatusStrategy``) overrides only the update
hooks, so ``/status`` writes cannot touch spec and spec writes cannot touch status.
"""

from __future__ import annotations

from typing import Any, Protocol

from apiserver import validation
from apiserver.validation import FieldError


class Strategy:
    """Default behaviour: spec/status split, generation bumped on spec change."""

    #: the fields a plain update (not /status) may never change
    status_field: str | None = "status"
    #: whether metadata.generation counts spec changes (apps kinds do; pods, services don't)
    uses_generation = True
    allow_create_on_update = False
    allow_unconditional_update = True
    #: DELETE answers with the deleted object instead of a Status (Kubernetes' pod store does)
    return_deleted_object = False

    #: the status a new object starts with (None: none until its controller writes one)
    initial_status: dict[str, Any] | None = None

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        if self.status_field:
            obj.pop(self.status_field, None)
            if self.initial_status is not None:
                obj[self.status_field] = dict(self.initial_status)
        if self.uses_generation:
            obj["metadata"]["generation"] = 1

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        if self.status_field:
            if self.status_field in old:
                new[self.status_field] = old[self.status_field]
            else:
                new.pop(self.status_field, None)
        if not self.uses_generation:
            new["metadata"].pop("generation", None)
            return
        gen = old["metadata"].get("generation") or 1
        if self.spec_changed(new, old):
            gen += 1
        new["metadata"]["generation"] = gen

    def spec_changed(self, new: dict[str, Any], old: dict[str, Any]) -> bool:
        """Anything but metadata and status changed (Kubernetes bumps generation then)."""
        for k in new.keys() | old.keys():
            if k in ("metadata", "status", "apiVersion", "kind"):
                continue
            if new.get(k) != old.get(k):
                return True
        return False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validation.validate_object_meta(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(new) + validation.validate_object_meta_update(new, old)

    def canonicalize(self, obj: dict[str, Any]) -> None:
        pass

    def check_graceful_delete(self, obj: dict[str, Any], grace_period_seconds: int | None) -> int | None:
        """Seconds of grace to give before the object goes (None: remove at once)."""
        return None

    def delete_finalizers(self, obj: dict[str, Any]) -> tuple[str, ...]:
        """Finalizers the first delete adds (a CRD's: its objects must go first)."""
        return ()

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        """Changes made when an object is marked for deletion (a namespace turns Terminating)."""

    def finalizers_pending(self, obj: dict[str, Any]) -> bool:
        """Whether something must still happen before a deleted object can go: its finalizers."""
        return bool(obj["metadata"].get("finalizers"))

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return []

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Changes the server makes to a ``/status`` write (a volume's phase transition time)."""

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        """What fieldSelector can match on for this resource."""
        md = obj["metadata"]
        out = {"metadata.name": md.get("name", "")}
        if "namespace" in md:
            out["metadata.namespace"] = md["namespace"]
        return out


class StatusStrategy(Strategy):
    """Writes through ``/status``: status from the request, everything else from storage."""

    def __init__(self, parent: Strategy) -> None:
        self.parent = parent
        self.status_field = parent.status_field

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        status = new.get(self.status_field) if self.status_field else None
        md_new = new["metadata"]
        for k in list(new.keys()):
            if k not in ("metadata", "apiVersion", "kind"):
                del new[k]
        for k, v in old.items():
            if k not in ("metadata", self.status_field):
                new[k] = v
        if status is not None and self.status_field:
            new[self.status_field] = status
        # Kubernetes lets /status change only labels/annotations... keep the stored metadata
        # but for those two, which controllers may set together with status.
        md = dict(old["metadata"])
        for k in ("labels", "annotations"):
            if k in md_new:
                md[k] = md_new[k]
            else:
                md.pop(k, None)
        md["resourceVersion"] = md_new.get("resourceVersion")
        new["metadata"] = md
        self.parent.prepare_for_status_update(new, old)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.parent.validate_status_update(new, old)

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        return self.parent.field_values(obj)


class ScaleStrategy(Protocol):
    """What the ``scale`` subresource asks of a kind's strategy (workloads, custom resources)."""

    def scale(self, obj: dict[str, Any]) -> dict[str, Any]: ...


class CustomScaleStrategy(ScaleStrategy, Protocol):
    """A custom resource's strategy also writes a Scale back where its CRD names the replicas."""

    def unscale(self, current: dict[str, Any], scale: dict[str, Any]) -> dict[str, Any]: ...


class BindStrategy(Protocol):
    """What ``pods/binding`` asks of its subresource strategy (``apiserver/registry/podbinding.py``)."""

    def bind(self, pod: dict[str, Any], binding: dict[str, Any]) -> dict[str, Any]: ...
