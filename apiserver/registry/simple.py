"""API behaviour of the kinds with no spec/status split: ConfigMap, Secret, Endpoints, Event,
Lease."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_MAX_CONFIG_BYTES = 1024 * 1024


class _NoStatus(Strategy):
    status_field = None
    uses_generation = False


def _validate_keys(data: dict[str, Any] | None, field: str) -> list[FieldError]:
    errs = []
    for k in data or {}:
        if not _CONFIG_KEY.match(k) or len(k) > 253:
            errs.append(v.invalid(f"{field}[{k}]", k, "a valid config key must consist of alphanumeric "
                                  "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                  "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    return errs


def _immutable(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    errs = []
    for f in ("data", "binaryData"):
        if new.get(f) != old.get(f):
            errs.append(v.forbidden(f, "field is immutable when `immutable` is set"))
    if not new.get("immutable"):
        errs.append(v.forbidden("immutable", "field is immutable when `immutable` is set"))
    return errs


def _b64decode(value: Any) -> bytes | None:
    """``value`` as Go's base64.StdEncoding reads a ``[]byte`` field: line breaks are skipped
    (PEM-style wrapped data is valid), anything else must be strict base64; None if it is not."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def _validate_bytes(data: dict[str, Any] | None, field: str, shown: str | None = None) -> tuple[list[FieldError], int]:
    """Errors for values of a ``map[string][]byte`` that are not base64, and the decoded size."""
    errs, size = [], 0
    for k, val in (data or {}).items():
        raw = _b64decode(val)
        if raw is None:
            errs.append(v.invalid(f"{field}[{k}]", shown or val, "illegal base64 data"))
        else:
            size += len(raw)
    return errs, size


def _canonical_bytes(data: dict[str, Any] | None) -> None:
    """Store ``[]byte`` values re-encoded without line breaks, as Kubernetes does."""
    for k, val in (data or {}).items():
        raw = _b64decode(val)
        if raw is not None:
            data[k] = base64.b64encode(raw).decode()  # type: ignore[index]


def _too_long(field: str) -> FieldError:
    return FieldError(field, v.TOO_LONG, f"Too long: may not be more than {_MAX_CONFIG_BYTES} bytes")


class ConfigMapStrategy(_NoStatus):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        errs += _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("binaryData"), "binaryData")
        dup = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
        for k in dup:
            errs.append(v.invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        bin_errs, bin_size = _validate_bytes(obj.get("binaryData"), "binaryData")
        errs += bin_errs
        # data and binaryData share the 1 MiB limit (Kubernetes' MaxSecretSize); "[]" is the
        # whole object, as Kubernetes names it.
        size = sum(len(x.encode()) for x in (obj.get("data") or {}).values() if isinstance(x, str)) + bin_size
        if size > _MAX_CONFIG_BYTES:
            errs.append(_too_long("[]"))
        return errs

    def canonicalize(self, obj: dict[str, Any]) -> None:
        _canonical_bytes(obj.get("binaryData"))

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return super().validate_update(new, old) + _immutable(new, old)


class SecretStrategy(_NoStatus):
    def canonicalize(self, obj: dict[str, Any]) -> None:
        # stringData is write-only: merged into data (base64) and never stored.
        _canonical_bytes(obj.get("data"))
        sd = obj.pop("stringData", None)
        if sd:
            data = obj.setdefault("data", {})
            for k, val in sd.items():
                data[k] = base64.b64encode(str(val).encode()).decode()

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        errs += _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("stringData"), "stringData")
        data_errs, size = _validate_bytes(obj.get("data"), "data", "<secret contents redacted>")
        errs += data_errs
        size += sum(len(str(x).encode()) for x in (obj.get("stringData") or {}).values())
        if size > _MAX_CONFIG_BYTES:
            errs.append(_too_long("data"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old) + _immutable(new, old)
        if new.get("type") != old.get("type"):
            errs.append(v.invalid("type", new.get("type"), "field is immutable"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["type"] = obj.get("type", "")
        return out


class EndpointsStrategy(_NoStatus):
    pass


class EventStrategy(_NoStatus):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        if not obj.get("involvedObject"):
            errs.append(v.required("involvedObject"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        io = obj.get("involvedObject") or {}
        for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            out[f"involvedObject.{f}"] = str(io.get(f, ""))
        out["reason"] = obj.get("reason", "")
        out["type"] = obj.get("type", "")
        out["source"] = (obj.get("source") or {}).get("component", "")
        out["reportingComponent"] = obj.get("reportingComponent", "")
        return out


class LeaseStrategy(_NoStatus):
    pass


class EndpointSliceStrategy(_NoStatus):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        at = obj.get("addressType")
        if at not in ("IPv4", "IPv6", "FQDN"):
            errs.append(v.not_supported("addressType", at, ["FQDN", "IPv4", "IPv6"]))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("addressType") != old.get("addressType"):
            errs.append(v.invalid("addressType", new.get("addressType"), "field is immutable"))
        return errs
