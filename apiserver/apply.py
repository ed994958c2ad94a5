"""Server-side apply: ``PATCH`` with ``Content-Type: application/apply-patch+yaml``
(``kubectl apply --server-side``).

The applied configuration says which fields its manager wants, and with which values. Against
the live object (``apiserver.managedfields`` does the field work):

1. absent object → it is created from the configuration, the manager owning what it applied;
2. the configuration is merged into the live object (maps key by key, associative lists item
   by item, sets as unions, everything else replaced);
3. fields the manager applied last time, no longer applies and nobody else owns are removed;
4. fields the merge changes that another manager owns are conflicts: 409 unless ``force``,
   which moves their ownership to the applier. ``kubectl`` upgrading from client-side apply
   may change, without conflict, fields whose live value its last-applied annotation set;
5. the manager's Apply entry becomes exactly the applied fields, and the result is written
   through the generic update path (defaulting, strategy hooks, validation, optimistic
   concurrency: ``apiserver.rest.RestStorage``), retried on a concurrent write.

On ``/status`` only status is applied; on the main resource status is not.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from pydantic import BaseModel

from apiserver import errors, managedfields
from apiserver.managedfields import Conflict, FieldSet, ManagerEntry, Managers, MergeError
from apiserver.registry.table import Entry
from apiserver.rest import RestStorage, Result
from apiserver.stored import CONFLICT_MSG
from apiserver.validation import FieldError

__all__ = ["server_side_apply", "plan_apply", "ApplyPlan", "LAST_APPLIED", "CLIENT_SIDE_MANAGER"]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CLIENT_SIDE_MANAGER = "kubectl-client-side-apply"
# Kubernetes upgrades client-side apply's annotation only for kubectl's own server-side
# manager name: other managers opt out by using another name.
_KUBECTL_MANAGER = "kubectl"
_RETRIES = 5
# Metadata an applied configuration cannot set: the server's.
_SYSTEM_METADATA = ("uid", "creationTimestamp", "generation", "selfLink", "deletionTimestamp",
                    "deletionGracePeriodSeconds")


@dataclasses.dataclass(slots=True)
class ApplyPlan:
    """What an apply writes: the merged object (not yet defaulted) and its managedFields."""

    obj: dict[str, Any]
    managed_fields: list[dict[str, Any]]


async def server_side_apply(rest: RestStorage, entry: Entry, namespace: str | None, name: str, body: Any, *,
                            field_manager: str, force: bool, subresource: str | None, field_validation: str,
                            dry_run: bool) -> Result:
    """Apply ``body`` (the parsed configuration) to the object ``name`` as ``field_manager``."""
    _check_field_manager(field_manager)
    if subresource not in (None, "status"):
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    config = _applied_config(rest, entry, namespace, name, body, subresource)
    try:
        managedfields.check_keys(config, entry.model)
    except MergeError as e:
        raise _merge_invalid(entry, name, e) from None
    want_rv = config["metadata"].pop("resourceVersion", None)
    for attempt in range(_RETRIES):
        last = attempt == _RETRIES - 1
        try:
            current = await rest.get(entry, namespace, name)
        except errors.NotFound:
            if subresource is not None:
                raise
            try:
                return await _create(rest, entry, namespace, name, config, field_manager=field_manager,
                                     field_validation=field_validation, dry_run=dry_run)
            except errors.AlreadyExists:
                if last:
                    raise
                continue  # created meanwhile: apply to it
        if want_rv and want_rv != current["metadata"]["resourceVersion"]:
            raise errors.Conflict.of(entry.type, name, CONFLICT_MSG)
        try:
            plan = plan_apply(current, config, manager=field_manager, force=force, model=entry.model,
                              subresource=subresource)
        except MergeError as e:
            raise _merge_invalid(entry, name, e) from None
        warnings: list[str] = []
        obj = rest.admit_body(entry, plan.obj, field_validation=field_validation, warnings=warnings)
        rest.check_identity(entry, obj, namespace, name)
        try:
            res = await rest.write_update(entry, namespace, name, current, obj, subresource=subresource,
                                           dry_run=dry_run, managed_fields=plan.managed_fields)
        except errors.Conflict:
            if want_rv or last:
                raise
            continue  # written meanwhile: apply again to the new object
        res.warnings.extend(warnings)
        return res
    raise AssertionError("unreachable")


def plan_apply(live: dict[str, Any], config: dict[str, Any], *, manager: str, force: bool,
               model: type[BaseModel], subresource: str | None = None) -> ApplyPlan:
    """Merge ``config`` into ``live`` as ``manager`` (steps 2–5 of the module docstring, but
    the write); raises ``errors.Conflict`` on conflicts, ``MergeError`` on an unmergeable
    config. ``config`` is already limited to what the endpoint applies (see _applied_config)."""
    try:
        managers = Managers.decode((live.get("metadata") or {}).get("managedFields"))
    except ValueError:
        managers = Managers()
    me = ManagerEntry(manager, "Apply", "", FieldSet(), subresource=subresource or "").identity
    applied = managedfields.fieldset_of(config, model)
    previous = managers.get(me)
    merged = managedfields.merge(live, config, model)
    if previous is not None:
        merged = managedfields.prune(merged, previous.fields, managers.owned(exclude=me) | applied, model)
    cmp = managedfields.compare(live, merged, model)
    conflicts = managers.conflicts(me, cmp.changed)
    if conflicts and not force and manager == _KUBECTL_MANAGER:
        allowed = _last_applied_fields(live, model)
        if allowed is not None:
            conflicts = [c for c in conflicts if c.path not in allowed]
    if conflicts and not force:
        raise _conflict_error(conflicts)
    managed = managedfields.update_managed_fields(live, merged, manager, model=model, operation="Apply",
                                                  subresource=subresource, applied=config)
    if manager == _KUBECTL_MANAGER and _annotations(live).get(LAST_APPLIED):
        # Keep client-side apply's record in step, so going back to it computes right patches.
        md = merged["metadata"] = dict(merged["metadata"])
        md["annotations"] = {**md.get("annotations", {}), LAST_APPLIED: _last_applied_value(config)}
    return ApplyPlan(merged, managed)


async def _create(rest: RestStorage, entry: Entry, namespace: str | None, name: str,
                  config: dict[str, Any], *, field_manager: str, field_validation: str,
                  dry_run: bool) -> Result:
    obj = copy.deepcopy(config)
    managed = managedfields.update_managed_fields(None, obj, field_manager, model=entry.model,
                                                  operation="Apply", applied=config)
    return await rest.create(entry, namespace, obj, field_validation=field_validation, dry_run=dry_run,
                             managed_fields=managed)


# ---- the request -----------------------------------------------------------------------------


def _check_field_manager(field_manager: str) -> None:
    err = None
    if not field_manager:
        err = FieldError("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")
    elif len(field_manager) > managedfields.MAX_MANAGER_LENGTH:
        err = FieldError("fieldManager", "FieldValueTooLong",
                         f"Too long: may not be more than {managedfields.MAX_MANAGER_LENGTH} bytes")
    elif not field_manager.isprintable():
        err = FieldError("fieldManager", "FieldValueInvalid",
                         f"Invalid value: {json.dumps(field_manager)}: "
                         "must only contain printable characters")
    if err is not None:
        raise errors.Invalid.of("PatchOptions", "meta.k8s.io", "", [err])


def _applied_config(rest: RestStorage, entry: Entry, namespace: str | None, name: str, body: Any,
                    subresource: str | None) -> dict[str, Any]:
    """The configuration as it is applied: checked against the URL, limited to what the
    endpoint lets it set (status on ``/status``, everything but status otherwise)."""
    if not isinstance(body, dict):
        raise errors.BadRequest("the body of the request was in an unknown format")
    config = copy.deepcopy(body)
    for f in ("apiVersion", "kind"):
        if not config.get(f):
            raise errors.BadRequest(f"Object '{'Kind' if f == 'kind' else f}' is missing in "
                                    f"'{managedfields.canonical_json(body)}'")
    md = config.get("metadata")
    if md is None:
        md = config["metadata"] = {}
    if not isinstance(md, dict):
        raise errors.BadRequest("metadata must be an object in an applied configuration")
    if md.get("managedFields"):
        raise errors.BadRequest("metadata.managedFields must be nil")
    rest.check_identity(entry, config, namespace, name)
    md = config["metadata"]
    md["name"] = name
    for f in (*_SYSTEM_METADATA, "managedFields"):
        md.pop(f, None)
    status_field = entry.strategy.status_field
    if subresource == "status":
        keep_md = {k: md[k] for k in ("name", "namespace", "resourceVersion") if k in md}
        config = {"apiVersion": config["apiVersion"], "kind": config["kind"], "metadata": keep_md,
                  **({status_field: config[status_field]} if status_field and status_field in config else {})}
    elif status_field:
        config.pop(status_field, None)
    return config


# ---- conflicts and client-side apply -----------------------------------------------------------


def _conflict_error(conflicts: list[Conflict]) -> errors.Conflict:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {c.owner.describe()}",
               "field": c.field} for c in conflicts]
    if len(conflicts) == 1:
        text = f"conflict with {conflicts[0].owner.describe()}: {conflicts[0].field}"
    else:
        by_owner: dict[str, list[str]] = {}
        for c in conflicts:
            by_owner.setdefault(c.owner.describe(), []).append(c.field)
        lines = []
        for owner in sorted(by_owner):
            lines.append(f"conflicts with {owner}:")
            lines.extend(f"- {f}" for f in by_owner[owner])
        text = "\n".join(lines)
    n = len(conflicts)
    return errors.Conflict(f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {text}",
                           details={"causes": causes})


def _merge_invalid(entry: Entry, name: str, e: MergeError) -> errors.Invalid:
    return errors.Invalid.of(entry.type.kind, entry.type.group, name,
                             [FieldError(e.field, "FieldValueInvalid", f"Invalid value: {e.message}")])


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _last_applied_fields(live: dict[str, Any], model: type[BaseModel]) -> FieldSet | None:
    """The fields client-side apply's annotation set and the live object still holds with the
    same value: kubectl's server-side apply may take them over without conflict."""
    text = _annotations(live).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
        return None
    cmp = managedfields.compare(last, live, model)
    return managedfields.fieldset_of(last, model) - cmp.modified - cmp.added - cmp.removed


def _last_applied_value(config: dict[str, Any]) -> str:
    """The annotation's value as Kubernetes encodes it: the configuration without the
    annotation, as JSON with a newline."""
    obj = copy.deepcopy(config)
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
        if not annotations:
            del obj["metadata"]["annotations"]
    return managedfields.canonical_json(obj) + "\n"
