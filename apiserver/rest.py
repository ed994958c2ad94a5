"""Generic REST storage: create, get, list, update, patch, delete and watch for any resource of
the registry table, with Kubernetes' object semantics.

It holds no per-resource logic: that is the strategy's (``apiserver/registry/``). It knows the
storage (writes, consistent reads) and the watch cache (lists and watches), and answers with
Kubernetes JSON dicts or raises ``apiserver.errors`` (rendered as Status by the app).

Object semantics implemented here: uid, creationTimestamp, generateName, resourceVersion from the
store's revision, optimistic concurrency, no-op updates that do not write, finalizers and
deletionTimestamp (the object stays until its finalizers are empty), graceful deletion as the
strategy decides, propagationPolicy recorded as the ``orphan`` / ``foregroundDeletion``
finalizers for the garbage collector, and namespace lifecycle admission.
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import logging
import posixpath
import re
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import pydantic

from apiserver import bodies, errors, managedfields
from apiserver import validation as v
from apiserver.admission.interface import CREATE, UPDATE, Attributes, Chain
from apiserver.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    schema_from_model,
)
from apiserver.registry.table import Entry
from apiserver.storage.interface import Compacted, KeyExists, KeyNotFound, RevisionMismatch, Storage
from apiserver.stored import CONFLICT_MSG, encode_stored, storage_key
from apiserver.uids import name_suffix, new_uid
from apiserver.validation import FieldError
from apiserver.watchcache import WatchCache, decode
from minik8s import fields as fieldsel
from minik8s import labels
from minik8s.api.core import Pod, PodStatus
from minik8s.api.meta import ObjectMeta
from minik8s.api.resources import ResourceType
from minik8s.api.schema import unknown_fields
from minik8s.timestamps import in_seconds, now_rfc3339

log = logging.getLogger(__name__)

# generateName suffixes use Kubernetes' alphabet (no vowels, no look-alikes)
_PATCH_RETRIES = 5

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


@dataclasses.dataclass(slots=True)
class Result:
    """What a handler answers: a body, its HTTP code, and Warning headers."""

    body: dict[str, Any]
    code: int = 200
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class ListOptions:
    label_selector: str | None = None
    field_selector: str | None = None
    limit: int = 0
    continue_: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None  # "Exact" | "NotOlderThan" | None (apiserver/params.py)


# pydantic's error types as Kubernetes' field error types (k8s.io/apimachinery/.../field).
_TYPE_INVALID = "FieldValueTypeInvalid"
_BRANCHES = frozenset(("int", "str", "bool", "float", "list", "dict"))
# Pod templates whose decoded pods are remembered (the oldest forgotten first).
_ADMITTED_PODS = 256


def _rest_of_pod(body: dict[str, Any]) -> bytes | None:
    """The key of a pod body's decoding apart from its metadata: the rest's JSON, or None when
    it has none (a value JSON cannot carry, an integer beyond 64 bits)."""
    try:
        return orjson.dumps({k: v for k, v in body.items() if k != "metadata"})
    except (TypeError, orjson.JSONEncodeError):
        return None


_POD_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def _keeps_stored_spec(body: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a pod update's body has the stored pod's spec and nothing a decoding would drop
    or refuse outside its metadata and status: a status write, a label or annotation change. The
    stored spec was admitted and defaulted when it was written, so decoding it again gives it
    back (a pod's defaults are its spec's only, ``Pod._defaults``)."""
    spec = body.get("spec")
    return (isinstance(spec, dict) and body.get("apiVersion") == "v1" and body.get("kind") == "Pod"
            and _POD_FIELDS.issuperset(body) and spec == stored.get("spec"))


def _decode_field(body: dict[str, Any], field: str, model: type[pydantic.BaseModel],
                  errs: list[FieldError]) -> dict[str, Any]:
    """``body[field]`` decoded alone by its model (absent or null: the model's empty value), as the
    whole body's decoding has it; its errors, with their paths under ``field``, go to ``errs``."""
    value = body.get(field)
    try:
        decoded: dict[str, Any] = model.model_validate({} if value is None else value).model_dump(
            by_alias=True, exclude_none=True, mode="json")
    except pydantic.ValidationError as e:
        errs.extend(pydantic_errors(e, prefix=field))
        return {}
    return decoded


def _body_name(body: dict[str, Any]) -> str:
    meta = body.get("metadata")
    return (meta.get("name") if isinstance(meta, dict) else None) or ""


def pydantic_errors(exc: pydantic.ValidationError, *, prefix: str = "") -> list[FieldError]:
    """One Kubernetes field error per invalid field: ``Required value`` for a missing one,
    ``Unsupported value`` for a value outside an enumeration, ``Too long``, and ``Invalid
    value`` (type errors as FieldValueTypeInvalid) for the rest. Union branches pydantic tries
    one by one (IntOrString) are reported once. ``prefix``: where the validated part sits in the
    object (``metadata``), when it was validated alone."""
    out: list[FieldError] = []
    seen: set[str] = set()
    for e in exc.errors():
        path = prefix
        for part in e["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part in _BRANCHES or "[" in str(part) or "function-" in str(part):
                continue  # union branch names pydantic adds to the location
            else:
                path += ("." if path else "") + str(part)
        if path in seen:
            continue
        seen.add(path)
        out.append(_field_error(path, e))
    return out


def _field_error(path: str, e: Any) -> FieldError:
    kind, ctx, value = e["type"], e.get("ctx") or {}, e.get("input")
    if kind == "missing":
        return FieldError(path, v.REQUIRED, "Required value")
    shown = _shown(value)
    if kind in ("literal_error", "enum"):
        allowed = ", ".join(f'"{a}"' for a in re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return FieldError(path, v.NOT_SUPPORTED, f"Unsupported value: {shown}: supported values: {allowed}")
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        return FieldError(path, v.TOO_LONG, f"Too long: may not be more than {limit} bytes"
                          if kind == "string_too_long" else f"Too long: must have at most {limit} items")
    msg = str(e["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind in ("int_from_float", "model_attributes_type"):
        return FieldError(path, _TYPE_INVALID, f"Invalid value: {shown}: {msg}")
    return FieldError(path, v.INVALID, f"Invalid value: {shown}: {msg}")


def _shown(value: Any) -> str:
    """A value in an error message, as Kubernetes quotes it (strings quoted, objects as JSON,
    cut short: the input may be a whole nested object)."""
    if isinstance(value, str):
        text = f'"{value}"'
    else:
        try:
            text = orjson.dumps(value).decode()
        except TypeError:
            text = str(value)
    return text if len(text) <= 256 else text[:256] + "..."


class WriteHooks(Protocol):
    """Per-resource work around writes that needs more than a stateless strategy, such as
    allocating a service's ClusterIP (``apiserver/allocators.py``), as Kubernetes' REST storage
    decorators do. ``before_write`` runs after validation and may fill fields; ``after_write``
    learns whether the write landed (``new`` None: the object was removed)."""

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]: ...

    def after_write(self, new: dict[str, Any] | None, old: dict[str, Any] | None, *, ok: bool) -> None: ...


class Admission(Protocol):
    """A mutating admission plugin run on creates before the strategy's hooks (Kubernetes runs
    mutating admission before validation); it may change ``obj`` or raise a StatusError
    (``apiserver/serviceaccount_admission.py``). It may wait on I/O, unlike ``WriteHooks``."""

    async def admit_create(self, obj: dict[str, Any], namespace: str) -> None: ...


class RestStorage:
    """The generic handlers, shared by every resource of the table."""

    def __init__(self, storage: Storage, cache: WatchCache, *,
                 hooks: dict[ResourceType, WriteHooks] | None = None,
                 admission: dict[ResourceType, list[Admission]] | None = None) -> None:
        self.storage = storage
        self.cache = cache
        self.hooks = hooks or {}
        self.admission = admission if admission is not None else {}
        #: the policy admission chain (LimitRanger, Priority, ResourceQuota): mutating hooks on
        #: creates after the plugins above, validating hooks after validation (set by the app)
        self.admission_chain: Chain | None = None
        self._schemas: dict[type, Any] = {}
        # Pods of one template (a ReplicaSet's, a Job's, a DaemonSet's) differ in their metadata
        # only: the decoded, defaulted rest of a pod body, by the bytes of that rest.
        self._admitted_pods: dict[bytes, bytes] = {}

    # ---- decoding and defaulting -------------------------------------------------------

    def _schema(self, model: type) -> Any:
        schema = self._schemas.get(model)
        if schema is None:
            schema = self._schemas[model] = schema_from_model(model)
        return schema

    def admit_body(self, entry: Entry, body: Any, *, field_validation: str, warnings: list[str],
                   model: type[pydantic.BaseModel] | None = None,
                   stored: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate types, apply defaults and report unknown fields: the defaulted object.
        ``stored``: the object as stored, whose fields ``body`` keeps are not searched for
        unknown ones again (:func:`minik8s.api.schema.unknown_fields`'s ``known``)."""
        if model is None and entry.custom is not None:  # a custom resource: its CRD's schema decides
            decoded: dict[str, Any] = entry.custom.decode(body, field_validation=field_validation, warnings=warnings)
            return decoded
        if not isinstance(body, dict):
            raise errors.BadRequest("the body of the request was in an unknown format")
        model = model or entry.model
        kind = entry.type.kind if model is entry.model else model.__name__
        bodies.require_meta(body, kind, entry.type.group_version)
        if field_validation in ("Strict", "Warn"):
            unknown = unknown_fields(model, body, known=stored if model is entry.model else None)
            if unknown:
                if field_validation == "Strict":
                    gv = entry.type.group_version
                    msg = ", ".join(f'unknown field "{u}"' for u in unknown)
                    raise errors.BadRequest(f'{kind} in version "{gv}" cannot be handled as a {kind}: '
                                            f"strict decoding error: {msg}")
                warnings.extend(f'unknown field "{u}"' for u in unknown)
        if model is Pod and stored is not None and _keeps_stored_spec(body, stored):
            return self._pod_around_spec(kind, entry, body)
        # A pod without status (a create) like one decoded before: only its metadata is new.
        key = _rest_of_pod(body) if model is Pod and not body.get("status") else None
        if key is not None and (admitted := self._admitted_pods.get(key)) is not None:
            return self._with_metadata(kind, entry, body, orjson.loads(admitted))
        try:
            obj = model.model_validate(body).model_dump(by_alias=True, exclude_none=True, mode="json")
        except pydantic.ValidationError as e:
            name = ((body.get("metadata") or {}).get("name")) or ""
            raise errors.Invalid.of(kind, entry.type.group, name, pydantic_errors(e)) from None
        if key is not None:
            if len(self._admitted_pods) >= _ADMITTED_PODS:
                del self._admitted_pods[next(iter(self._admitted_pods))]  # the oldest template
            self._admitted_pods[key] = orjson.dumps(obj)
        return obj

    @staticmethod
    def _with_metadata(kind: str, entry: Entry, body: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` (an admitted body like ``body`` but for its metadata) with ``body``'s metadata
        decoded in place of its own, as the whole body's decoding would have it."""
        errs: builtins.list[FieldError] = []
        obj["metadata"] = _decode_field(body, "metadata", ObjectMeta, errs)
        if errs:
            raise errors.Invalid.of(kind, entry.type.group, _body_name(body), errs)
        return obj

    @staticmethod
    def _pod_around_spec(kind: str, entry: Entry, body: dict[str, Any]) -> dict[str, Any]:
        """A pod body whose spec is the stored pod's (:func:`_keeps_stored_spec`) decoded as the
        whole body's decoding would have it: its metadata and status decoded alone, its spec
        (admitted and defaulted when it was written) copied as it is."""
        errs: builtins.list[FieldError] = []
        out: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                               "metadata": _decode_field(body, "metadata", ObjectMeta, errs),
                               "spec": orjson.loads(orjson.dumps(body["spec"])),  # the caller's to change
                               "status": _decode_field(body, "status", PodStatus, errs)}
        if errs:
            raise errors.Invalid.of(kind, entry.type.group, _body_name(body), errs)
        return out

    def check_identity(self, entry: Entry, obj: dict[str, Any], namespace: str | None,
                       name: str | None) -> None:
        """Refuse (400) a body whose apiVersion, kind, namespace or name disagree with the
        request, and fill in what the request says (every write path calls it, apply included)."""
        t = entry.type
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if kind and kind != t.kind or api_version and api_version != t.group_version:
            raise errors.BadRequest(f"the API version in the data ({api_version}) does not match the "
                                    f"expected API version ({t.group_version})"
                                    if api_version != t.group_version else
                                    f"the kind in the data ({kind}) does not match the expected kind ({t.kind})")
        obj["apiVersion"], obj["kind"] = t.group_version, t.kind
        md = obj.get("metadata")
        if md is None:  # "metadata": null is no metadata, as Go decodes it
            md = obj["metadata"] = {}
        if t.namespaced:
            body_ns = md.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.BadRequest("the namespace of the provided object does not match the namespace "
                                        "sent on the request")
            if namespace:
                md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if name is not None and md.get("name") and md["name"] != name:
            raise errors.BadRequest(f"the name of the object ({md['name']}) does not match the name on the URL ({name})")

    def _invalid(self, entry: Entry, obj: dict[str, Any], errs: list[FieldError]) -> errors.Invalid:
        return errors.Invalid.of(entry.type.kind, entry.type.group, obj["metadata"].get("name") or "", errs)

    def _admit_namespace(self, entry: Entry, namespace: str | None) -> None:
        if not entry.type.namespaced:
            return
        if not namespace:
            raise errors.BadRequest("the namespace of the object is required")
        ns = self.cache.namespace_exists(namespace)
        if ns is None:
            raise errors.NotFound(f'namespaces "{namespace}" not found',
                                  details={"name": namespace, "kind": "namespaces"})
        if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.Forbidden(f'{entry.type.group_resource} is forbidden: unable to create new content in '
                                   f'namespace {namespace} because it is being terminated',
                                   details={"name": namespace, "kind": entry.type.plural,
                                            "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                                        "message": f"namespace {namespace} is being terminated"}]})

    async def _refresh_namespace_cache(self, entry: Entry, namespace: str | None) -> None:
        """A namespace created a moment ago may not be in the cache yet: catch up first."""
        if entry.type.namespaced and namespace and self.cache.namespace_exists(namespace) is None:
            await self.cache.wait_current()

    # ---- reads --------------------------------------------------------------------------

    async def get(self, entry: Entry, namespace: str | None, name: str) -> dict[str, Any]:
        """The current object (a fresh dict the caller may change); NotFound when there is none.

        Read from the watch cache once it has caught up with every acknowledged write (the
        same answer a storage read gives); from the storage when the cache cannot catch up.
        Every write that follows still names the revision it read (``expected_revision``), so
        optimistic concurrency is decided by the storage, as before."""
        key = storage_key(entry, namespace, name)
        try:
            obj = await self.cache.read(key)
        except TimeoutError:
            kv = await self.storage.get(key)
            obj = None if kv is None else decode(kv.value, kv.mod_revision)
        if obj is None:
            raise errors.NotFound.of(entry.type, name)
        return obj

    def matcher(self, entry: Entry, namespace: str | None, opts: ListOptions) -> Callable[[dict[str, Any]], bool]:
        try:
            lsel = labels.parse(opts.label_selector) if opts.label_selector else None
        except ValueError as e:
            raise errors.BadRequest(f"unable to parse requirement: {e}") from None
        try:
            fsel = fieldsel.parse(opts.field_selector) if opts.field_selector else None
        except ValueError as e:
            raise errors.BadRequest(str(e)) from None
        strategy = entry.strategy
        if fsel is not None:
            supported = strategy.field_values(_FIELD_SAMPLE).keys() | {"metadata.namespace"}
            for req in fsel.requirements:
                if req.field not in supported:
                    raise errors.BadRequest(f'field label not supported: {req.field}')
        ns = namespace if entry.type.namespaced else None

        def matches(obj: dict[str, Any]) -> bool:
            md = obj["metadata"]
            if ns and md.get("namespace") != ns:
                return False
            if lsel is not None and not lsel.matches(md.get("labels")):
                return False
            if fsel is not None and not fsel.matches(strategy.field_values(obj)):
                return False
            return True

        return matches

    async def list(self, entry: Entry, namespace: str | None, opts: ListOptions) -> dict[str, Any]:
        matches = self.matcher(entry, namespace, opts)
        prefix = storage_key(entry, namespace)
        t = entry.type
        if opts.continue_:
            rev, start = _decode_continue(opts.continue_, prefix, self.cache.revision)
            try:
                page = await self.storage.list(prefix, revision=rev, start_after=start)
            except Compacted:
                raise errors.Gone("The provided continue parameter is too old to display a consistent list "
                                  "result. You can start a new list without the continue parameter.") from None
            items = [o for o in (decode(kv.value, kv.mod_revision) for kv in page.items) if matches(o)]
        elif opts.resource_version_match == "Exact":
            rev = parse_resource_version(opts.resource_version)
            if rev > self.cache.revision:
                raise errors.Timeout(f"Too large resource version: {rev}, current: {self.cache.revision}",
                                     details={"retryAfterSeconds": 1})
            try:
                page = await self.storage.list(prefix, revision=rev)
            except Compacted:
                raise errors.Gone("The resourceVersion for the provided list is too old.") from None
            items = [o for o in (decode(kv.value, kv.mod_revision) for kv in page.items) if matches(o)]
        else:
            rv = opts.resource_version
            if rv and rv != "0":
                try:
                    await self.cache.wait_fresh(parse_resource_version(rv))
                except TimeoutError:
                    raise errors.Timeout(f"Too large resource version: {rv}, current: {self.cache.revision}",
                                         details={"retryAfterSeconds": 1}) from None
            elif rv != "0":
                await self.cache.wait_current()
            objs, rev = self.cache.snapshot(entry.resource, prefix)
            items = [o for o in objs if matches(o)]
        md: dict[str, Any] = {"resourceVersion": str(rev)}
        if opts.limit and len(items) > opts.limit:
            items = items[: opts.limit]
            last = items[-1]["metadata"]
            md["continue"] = _encode_continue(rev, storage_key(entry, last.get("namespace"), last["name"]))
        return {"kind": f"{t.kind}List", "apiVersion": t.group_version, "metadata": md, "items": items}

    # ---- writes -------------------------------------------------------------------------

    async def create(self, entry: Entry, namespace: str | None, body: Any, *, field_validation: str = "Warn",
                     dry_run: bool = False, field_manager: str | None = None,
                     managed_fields: builtins.list[dict[str, Any]] | None = None) -> Result:
        """``managed_fields``: the new object's managedFields as the caller (server-side apply)
        computed them; otherwise ``field_manager`` owns every field it set."""
        warnings: builtins.list[str] = []
        bodies.require_meta(body, entry.type.kind, entry.type.group_version)
        if isinstance(body, dict):
            self.check_identity(entry, body, namespace, None)
        obj = self.admit_body(entry, body, field_validation=field_validation, warnings=warnings)
        self.check_identity(entry, obj, namespace, None)
        md = obj["metadata"]
        # As Kubernetes' storage: only a non-zero number is refused ("0" and what does not
        # parse as a revision are dropped, as the new object gets its own).
        rv = str(md.pop("resourceVersion", "") or "")
        if rv.isdigit() and int(rv) != 0:
            raise errors.BadRequest("resourceVersion should not be set on objects to be created")
        ns = md.get("namespace") if entry.type.namespaced else None
        if entry.type.namespaced and not ns:
            ns = md["namespace"] = "default"
        await self._refresh_namespace_cache(entry, ns)
        self._admit_namespace(entry, ns)
        mutating = self.admission.get(entry.type, ())
        chain = self.admission_chain
        admission = chain if chain is not None and chain.handles(entry.type) else None
        # the object as the request made it, before mutating admission (see _requested_managed_fields)
        requested = orjson.dumps(obj) if managed_fields is None and (mutating or admission is not None) else None
        for plugin in mutating:
            await plugin.admit_create(obj, ns or "")
        if admission is not None:
            await admission.admit(Attributes(CREATE, entry.type, ns, obj, dry_run=dry_run))
        generated = not md.get("name") and bool(md.get("generateName"))
        for attempt in range(8):
            if generated:
                # as Kubernetes: the prefix is cut to 58 characters so the name stays a valid label
                md["name"] = md["generateName"][:58] + name_suffix()
            new = self._prepare_create(entry, obj)
            if admission is not None and attempt == 0:  # once: a quota charge is not repeated
                await admission.validate(Attributes(CREATE, entry.type, ns, new, dry_run=dry_run, warnings=warnings))
            fields = managed_fields
            if requested is not None:
                fields = self._requested_managed_fields(entry, requested, new, field_manager)
            self._set_managed_fields(entry, None, new, field_manager, None, fields)
            hooks = self.hooks.get(entry.type)
            if hooks is not None:
                errs = hooks.before_write(new, None)
                if errs:
                    raise self._invalid(entry, new, errs)
            ok = False
            try:
                data = encode_stored(new)
                if dry_run:
                    return Result(new, 201, warnings)
                try:
                    kv = await self.storage.create(storage_key(entry, ns, md["name"]), data)
                except KeyExists:
                    if generated and attempt < 7:
                        continue
                    raise errors.AlreadyExists.of(entry.type, md["name"]) from None
                ok = True
            finally:
                if hooks is not None:
                    hooks.after_write(new, None, ok=ok)
            new["metadata"]["resourceVersion"] = str(kv.mod_revision)
            return Result(new, 201, warnings)
        raise AssertionError("unreachable")

    def _prepare_create(self, entry: Entry, obj: dict[str, Any]) -> dict[str, Any]:
        new = {**obj, "metadata": dict(obj["metadata"])}
        md = new["metadata"]
        md["uid"] = new_uid()
        md["creationTimestamp"] = now_rfc3339()
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            md.pop(f, None)
        entry.strategy.prepare_for_create(new)
        errs = entry.strategy.validate(new)
        if errs:
            raise self._invalid(entry, new, errs)
        entry.strategy.canonicalize(new)
        return new

    async def update(self, entry: Entry, namespace: str | None, name: str, body: Any, *,
                     subresource: str | None = None, field_validation: str = "Warn",
                     dry_run: bool = False, field_manager: str | None = None) -> Result:
        warnings: builtins.list[str] = []
        bodies.require_meta(body, entry.type.kind, entry.type.group_version)
        if isinstance(body, dict):
            self.check_identity(entry, body, namespace, name)
        obj = self.admit_body(entry, body, field_validation=field_validation, warnings=warnings)
        self.check_identity(entry, obj, namespace, name)
        obj["metadata"]["name"] = name
        rv = obj["metadata"].get("resourceVersion")
        current = await self.get(entry, namespace, name)
        if not rv and not entry.strategy.allow_unconditional_update:
            raise errors.Invalid.of(entry.type.kind, entry.type.group, name,
                                    [FieldError("metadata.resourceVersion", "FieldValueInvalid",
                                                "Invalid value: 0x0: must be specified for an update")])
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise errors.Conflict.of(entry.type, name, CONFLICT_MSG)
        uid = obj["metadata"].get("uid")
        if uid and uid != current["metadata"].get("uid"):
            # The body's uid is a precondition, as Kubernetes' update handler makes it: an update
            # meant for an object never lands on a new one that took its name.
            raise errors.Conflict.of(entry.type, name, f"Precondition failed: UID in precondition: {uid}, UID in "
                                     f"object meta: {current['metadata'].get('uid')}")
        res = await self.write_update(entry, namespace, name, current, obj, subresource=subresource,
                                       dry_run=dry_run, field_manager=field_manager)
        res.warnings.extend(warnings)
        return res

    async def guaranteed_update(self, entry: Entry, namespace: str | None, name: str,
                                update: Callable[[dict[str, Any]], dict[str, Any]], *, subresource: str,
                                uid: str | None = None, dry_run: bool = False) -> Result:
        """Kubernetes' GuaranteedUpdate, for a subresource whose request is no object to write
        (``pods/binding``): read the object, ``update`` it (a new object; raising refuses), then
        write it through the subresource's strategy hooks, reading again and retrying when
        another write got there first. ``uid``, when given, must be the stored object's. As
        Kubernetes' storage-level update, it attributes no fields: managedFields stay as they are."""
        for attempt in range(_PATCH_RETRIES):
            current = await self.get(entry, namespace, name)
            if uid and uid != current["metadata"].get("uid"):
                raise errors.Conflict.of(entry.type, name, "Precondition failed: UID in precondition does not match")
            new = update(current)
            try:
                return await self.write_update(entry, namespace, name, current, new, subresource=subresource,
                                                dry_run=dry_run,
                                                managed_fields=current["metadata"].get("managedFields") or [])
            except errors.Conflict:
                if attempt == _PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _strategy_for(self, entry: Entry, subresource: str | None) -> Any:
        if subresource == "status":
            return entry.status_strategy
        sub = entry.subresource(subresource) if subresource else None
        return sub.strategy if sub is not None and sub.strategy is not None else entry.strategy

    async def write_update(self, entry: Entry, namespace: str | None, name: str, current: dict[str, Any],
                           new: dict[str, Any], *, subresource: str | None, dry_run: bool,
                           field_manager: str | None = None,
                           managed_fields: builtins.list[dict[str, Any]] | None = None,
                           fields_subresource: str | None = None) -> Result:
        """Run the update hooks on ``new`` against ``current`` and store it if it changed.

        ``managed_fields`` as in :meth:`create`. ``fields_subresource`` names the subresource
        the write came through in its managedFields entry (``scale``) when the object is
        written as a whole (``subresource`` None)."""
        strategy = self._strategy_for(entry, subresource)
        cur_md = current["metadata"]
        md = new["metadata"]
        # System-owned metadata always comes from storage. A uid is immutable: another one is
        # refused (Kubernetes' ValidateObjectMetaUpdate), never replaced, so a patch that names
        # an object's uid (the kubelet's status patches) never lands on a new one of its name.
        if md.get("uid") and md["uid"] != cur_md.get("uid"):
            raise self._invalid(entry, new, [v.invalid("metadata.uid", md["uid"], "field is immutable")])
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in cur_md:
                md[f] = cur_md[f]
            else:
                md.pop(f, None)
        if entry.type.namespaced:
            md["namespace"] = cur_md.get("namespace")
        md["resourceVersion"] = cur_md["resourceVersion"]
        strategy.prepare_for_update(new, current)
        md = new["metadata"]  # a status/finalize strategy replaces the metadata dict
        errs = strategy.validate_update(new, current)
        if errs:
            raise self._invalid(entry, new, errs)
        warnings: builtins.list[str] = []  # the admission chain's, for the Result
        if subresource is None and self.admission_chain is not None and self.admission_chain.handles(entry.type):
            await self.admission_chain.validate(Attributes(UPDATE, entry.type, namespace, new, old=current,
                                                     dry_run=dry_run, warnings=warnings))
        strategy.canonicalize(new)
        hooks = self.hooks.get(entry.type) if subresource is None else None
        if hooks is not None:
            errs = hooks.before_write(new, current)
            if errs:
                raise self._invalid(entry, new, errs)
        self._set_managed_fields(entry, current, new, field_manager, subresource or fields_subresource,
                                 managed_fields)
        ok = False
        try:
            # A no-op update writes nothing and keeps the resourceVersion, unless the stored form
            # is stale (encrypted with an older key): re-writing is how keys rotate.
            if new == current and not await self.storage.stale(storage_key(entry, namespace, name)):
                return Result(current, warnings=warnings)
            stored = {**new, "metadata": {k: v for k, v in md.items() if k != "resourceVersion"}}
            data = encode_stored(stored)
            if dry_run:
                return Result(new, warnings=warnings)
            key = storage_key(entry, namespace, name)
            if md.get("deletionTimestamp") and self._removable(entry, new):
                await self._delete_now(entry, key, int(cur_md["resourceVersion"]), name, current)
                return Result(new, warnings=warnings)
            try:
                kv = await self.storage.update(key, data, expected_revision=int(cur_md["resourceVersion"]))
            except RevisionMismatch:
                raise errors.Conflict.of(entry.type, name, CONFLICT_MSG) from None
            except KeyNotFound:
                raise errors.NotFound.of(entry.type, name) from None
            ok = True
        finally:
            if hooks is not None:
                hooks.after_write(new, current, ok=ok)
        md["resourceVersion"] = str(kv.mod_revision)
        return Result(new, warnings=warnings)

    def _requested_managed_fields(self, entry: Entry, requested: bytes, new: dict[str, Any],
                                  field_manager: str | None) -> builtins.list[dict[str, Any]]:
        """The managedFields of a created object, as Kubernetes' create handler records them:
        taken from the object as the request made it (``requested``: its JSON before mutating
        admission), prepared and canonicalized by the strategy as ``new`` was, so what mutating admission added
        is nobody's (ServiceAccount admission's ``kube-api-access-<random>`` volume and mounts,
        DefaultTolerationSeconds' tolerations, a LimitRange's defaults).

        Also what keeps a create cheap: objects made from one template (a ReplicaSet's pods, a
        client's manifests) are equal field by field before admission, so managedFields' memo
        answers; after ServiceAccount admission every pod's spec differed in its random volume
        name and the whole spec was walked and rendered again per create."""
        obj = orjson.loads(requested)
        md, new_md = obj["metadata"], new["metadata"]
        md["name"] = new_md.get("name")  # a generated name
        md["uid"], md["creationTimestamp"] = new_md["uid"], new_md["creationTimestamp"]
        entry.strategy.prepare_for_create(obj)
        entry.strategy.canonicalize(obj)  # e.g. a Secret's stringData folded into data
        return managedfields.update_managed_fields(
            None, obj, managedfields.DEFAULT_MANAGER if field_manager is None else field_manager,
            model=entry.model)

    def _set_managed_fields(self, entry: Entry, current: dict[str, Any] | None, new: dict[str, Any],
                            field_manager: str | None, subresource: str | None,
                            managed_fields: builtins.list[dict[str, Any]] | None) -> None:
        """Record who wrote what in ``metadata.managedFields`` (after the strategy's hooks, so
        fields it resets are not attributed; before the no-op check, so an unchanged object
        keeps its managedFields and is not written)."""
        if managed_fields is None:
            managed_fields = managedfields.update_managed_fields(
                current, new, managedfields.DEFAULT_MANAGER if field_manager is None else field_manager,
                model=entry.model,
                subresource=subresource)
        if managed_fields:
            new["metadata"]["managedFields"] = managed_fields
        else:
            new["metadata"].pop("managedFields", None)

    def _removable(self, entry: Entry, obj: dict[str, Any]) -> bool:
        """A deleted object whose finalizers are all gone (and grace spent) is removed."""
        if entry.strategy.finalizers_pending(obj):
            return False
        return not obj["metadata"].get("deletionGracePeriodSeconds")

    async def _delete_now(self, entry: Entry, key: str, revision: int, name: str, obj: dict[str, Any]) -> None:
        try:
            await self.storage.delete(key, expected_revision=revision)
        except RevisionMismatch:
            raise errors.Conflict.of(entry.type, name, CONFLICT_MSG) from None
        except KeyNotFound:
            raise errors.NotFound.of(entry.type, name) from None
        hooks = self.hooks.get(entry.type)
        if hooks is not None:
            hooks.after_write(None, obj, ok=True)

    async def patch(self, entry: Entry, namespace: str | None, name: str, patch: Any, content_type: str, *,
                    subresource: str | None = None, field_validation: str = "Warn", dry_run: bool = False,
                    view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                    unview: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
                    view_model: type | None = None, field_manager: str | None = None,
                    fields_subresource: str | None = None) -> Result:
        """Apply a patch to the current object (or its ``view``, e.g. Scale) and update it,
        retrying on conflicts as Kubernetes does when the patch carries no resourceVersion."""
        kind = view_model.__name__ if view_model is not None else entry.type.kind
        bodies.require_meta(patch, kind, entry.type.group_version)
        for attempt in range(_PATCH_RETRIES):
            current = await self.get(entry, namespace, name)
            target = view(current) if view else current
            patched = self._apply_patch(entry, target, patch, content_type, view_model)
            warnings: builtins.list[str] = []
            if isinstance(patched, dict):
                bodies.require_meta(patched, kind, entry.type.group_version)
                pmd = patched.get("metadata") or {}
                if pmd.get("name") not in (None, name):
                    raise errors.BadRequest(f"the name of the object ({pmd.get('name')}) does not match the "
                                            f"name on the URL ({name})")
            checked = self.admit_body(entry, patched, field_validation=field_validation, warnings=warnings,
                                      model=view_model, stored=None if view else current)
            if unview:
                checked = unview(current, checked)
            else:
                self.check_identity(entry, checked, namespace, name)
            want_rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if want_rv and want_rv != current["metadata"]["resourceVersion"]:
                raise errors.Conflict.of(entry.type, name, CONFLICT_MSG)
            try:
                res = await self.write_update(entry, namespace, name, current, checked,
                                               subresource=subresource, dry_run=dry_run,
                                               field_manager=field_manager, fields_subresource=fields_subresource)
            except errors.Conflict:
                if want_rv or attempt == _PATCH_RETRIES - 1:
                    raise
                continue
            res.warnings.extend(warnings)
            return res
        raise AssertionError("unreachable")

    def _apply_patch(self, entry: Entry, target: dict[str, Any], patch: Any, content_type: str,
                     view_model: type | None) -> Any:
        try:
            if content_type == "application/json-patch+json":
                if not isinstance(patch, list):
                    raise errors.BadRequest("json patch must be a list of operations")
                return apply_json_patch(target, patch)
            if not isinstance(patch, dict):
                raise errors.BadRequest("the body of the patch was in an unknown format")
            if content_type == "application/merge-patch+json":
                return apply_merge_patch(target, patch)
            if content_type == "application/strategic-merge-patch+json" and (entry.custom is None
                                                                           or view_model is not None):
                return apply_strategic_merge_patch(target, patch, self._schema(view_model or entry.model))
        except PatchError as e:
            raise errors.Invalid(str(e), details={"name": target["metadata"].get("name"), "kind": entry.type.kind,
                                                  "causes": [{"reason": "FieldValueInvalid", "message": str(e)}]}) from None
        raise errors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media "
                                          "types include: application/json-patch+json, "
                                          "application/merge-patch+json, application/apply-patch+yaml"
                                          + ("" if entry.custom is not None and view_model is None else
                                             ", application/strategic-merge-patch+json"))

    async def delete(self, entry: Entry, namespace: str | None, name: str, options: dict[str, Any], *,
                     dry_run: bool = False) -> Result:
        for attempt in range(_PATCH_RETRIES):
            try:
                return await self._delete_once(entry, namespace, name, options, dry_run=dry_run)
            except errors.Conflict:
                if (options.get("preconditions") or {}).get("resourceVersion") or attempt == _PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _delete_once(self, entry: Entry, namespace: str | None, name: str, options: dict[str, Any], *,
                           dry_run: bool) -> Result:
        current = await self.get(entry, namespace, name)
        md = current["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != md.get("uid"):
            raise errors.Conflict.of(entry.type, name,
                                     f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                                     f"{md.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != md["resourceVersion"]:
            raise errors.Conflict.of(entry.type, name,
                                     f"Precondition failed: ResourceVersion in precondition: "
                                     f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                     f"{md['resourceVersion']}")
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Orphan", "Foreground", "Background"):
            raise errors.Invalid.of("DeleteOptions", "", "", [
                FieldError("propagationPolicy", "FieldValueNotSupported",
                           f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"')])
        grace = entry.strategy.check_graceful_delete(current, options.get("gracePeriodSeconds"))
        finalizers = list(md.get("finalizers") or [])
        if not md.get("deletionTimestamp"):
            finalizers += [f for f in entry.strategy.delete_finalizers(current) if f not in finalizers]
        if policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
            finalizers.append(ORPHAN_FINALIZER)
        elif policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
            finalizers.append(FOREGROUND_FINALIZER)
        if policy in ("Foreground", "Background") and ORPHAN_FINALIZER in finalizers and not md.get("deletionTimestamp"):
            finalizers.remove(ORPHAN_FINALIZER)
        pending = bool(finalizers) or grace is not None
        key = storage_key(entry, namespace, name)
        if not pending:
            if not dry_run:
                await self._delete_now(entry, key, int(md["resourceVersion"]), name, current)
            if entry.strategy.return_deleted_object:
                return Result(current)
            details = {"name": name, "kind": entry.type.plural, "uid": md.get("uid")}
            if entry.type.group:
                details["group"] = entry.type.group
            return Result({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                           "details": details})
        new = {**current, "metadata": dict(md)}
        nmd = new["metadata"]
        if finalizers:
            nmd["finalizers"] = finalizers
        seconds = grace or 0
        if not md.get("deletionTimestamp"):
            nmd["deletionTimestamp"] = in_seconds(seconds)
            nmd["deletionGracePeriodSeconds"] = seconds
        elif grace is not None and seconds < (md.get("deletionGracePeriodSeconds") or 0):
            nmd["deletionTimestamp"] = in_seconds(seconds)
            nmd["deletionGracePeriodSeconds"] = seconds
        entry.strategy.prepare_for_delete(new)
        if new == current:
            return Result(current)
        if dry_run:
            return Result(new)
        if self._removable(entry, new) and grace is None:
            await self._delete_now(entry, key, int(md["resourceVersion"]), name, current)
            return Result(new)
        stored = {**new, "metadata": {k: v for k, v in nmd.items() if k != "resourceVersion"}}
        try:
            kv = await self.storage.update(key, encode_stored(stored), expected_revision=int(md["resourceVersion"]))
        except RevisionMismatch:
            raise errors.Conflict.of(entry.type, name, CONFLICT_MSG) from None
        nmd["resourceVersion"] = str(kv.mod_revision)
        return Result(new)

    async def delete_collection(self, entry: Entry, namespace: str | None, opts: ListOptions,
                                options: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        listed = await self.list(entry, namespace, ListOptions(opts.label_selector, opts.field_selector))
        deleted = []
        for obj in listed["items"]:
            md = obj["metadata"]
            try:
                res = await self.delete(entry, md.get("namespace"), md["name"], options, dry_run=dry_run)
            except errors.NotFound:
                continue
            deleted.append(res.body if res.body.get("kind") != "Status" else obj)
        listed["items"] = deleted
        return listed


# An object with every field empty: what field_values() returns for it names the selectable fields.
_FIELD_SAMPLE: dict[str, Any] = {"metadata": {"name": "", "namespace": ""}, "spec": {}, "status": {}}


def _encode_continue(revision: int, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": key})).decode()


_INVALID_START_RV = "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"


def _decode_continue(token: str, prefix: str, current: int) -> tuple[int, str]:
    """The revision and start key of a continue token this server issued for ``prefix``.

    A token is client input: its revision must be one this store has had (positive, not past
    ``current``) and its key must lie under the listed prefix (no ``..`` escapes), else 400."""
    try:
        d = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = d["rv"], d["start"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.BadRequest("continue key is not valid") from None
    if d.get("v") != "meta.k8s.io/v1":
        raise errors.BadRequest("continue key is not valid: server does not recognize this encoded version")
    if type(rv) is not int or not 0 < rv <= current:
        raise errors.BadRequest(_INVALID_START_RV)
    if not isinstance(start, str) or not start:
        raise errors.BadRequest("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    if not start.startswith(prefix) or posixpath.normpath(start) != start.rstrip("/"):
        raise errors.BadRequest(f"continue key is not valid: {start}")
    return rv, start


def parse_resource_version(rv: str | None) -> int:
    """A resourceVersion parameter: a revision this store can name (a positive int64)."""
    try:
        n = int(rv or "")
    except ValueError:
        n = -1
    if not 0 < n < 2 ** 63 or not (rv or "").isdigit():
        raise errors.BadRequest(f"invalid resource version: {rv}")
    return n
