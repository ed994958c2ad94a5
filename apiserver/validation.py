"""Validation shared by every resource: names, labels, annotations, object metadata, and the
field-path error type. Per-kind rules live with their strategy (``apiserver/registry/``).

Every function returns a list of :class:`FieldError` (empty when valid) rather than raising,
so all problems of an object are reported together as Kubernetes does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from minik8s import labels

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
NOT_FOUND = "FieldValueNotFound"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: ``field`` in Kubernetes path notation (``spec.containers[0].image``),
    ``reason`` one of Kubernetes' field error types (above)."""

    field: str
    reason: str
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}"


def required(field: str) -> FieldError:
    return FieldError(field, REQUIRED, "Required value")


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(field, INVALID, f"Invalid value: {_quote(value)}: {detail}")


def not_supported(field: str, value: Any, allowed: list[str]) -> FieldError:
    vals = ", ".join(f'"{a}"' for a in allowed)
    return FieldError(field, NOT_SUPPORTED, f"Unsupported value: {_quote(value)}: supported values: {vals}")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, DUPLICATE, f"Duplicate value: {_quote(value)}")


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(field, FORBIDDEN, f"Forbidden: {detail}")


def _quote(v: Any) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return str(v)


DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                     "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                         "regex used for validation is "
                         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                     "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
                     "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def dns1123_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not DNS1123_LABEL_RE.match(value):
        out.append(DNS1123_LABEL_MSG)
    return out


def dns1123_subdomain(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        out.append(DNS1123_SUBDOMAIN_MSG)
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not _DNS1035_LABEL.match(value):
        out.append(DNS1035_LABEL_MSG)
    return out


def qualified_name(value: str) -> list[str]:
    """A label key, annotation key or finalizer: optional DNS subdomain prefix + '/' + name."""
    return labels.qualified_name_errors(value)


def label_value(value: str) -> list[str]:
    return labels.label_value_errors(value)


def env_var_name(value: str) -> list[str]:
    if _ENV_VAR_NAME.match(value):
        return []
    return ["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or "
            "'.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', "
            "regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"]


def validate_labels(labels: dict[str, str] | None, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k, v in (labels or {}).items():
        for m in qualified_name(k):
            errs.append(invalid(field, k, m))
        for m in label_value(v if isinstance(v, str) else str(v)):
            errs.append(invalid(f"{field}[{k}]", v, m))
    return errs


_TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_annotations(annotations: dict[str, str] | None, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for k, v in (annotations or {}).items():
        for m in qualified_name(k.lower()):
            errs.append(invalid(field, k, m))
        total += len(k) + len(v)
    if total > _TOTAL_ANNOTATION_SIZE:
        errs.append(FieldError(field, TOO_LONG, f"Too long: must have at most {_TOTAL_ANNOTATION_SIZE} bytes"))
    return errs


def validate_object_meta(obj: dict[str, Any], *, name_rule: Callable[[str], list[str]] = dns1123_subdomain) -> list[FieldError]:
    md = obj.get("metadata") or {}
    errs: list[FieldError] = []
    name = md.get("name")
    if not name:
        errs.append(FieldError("metadata.name", REQUIRED, "Required value: name or generateName is required"))
    else:
        for m in name_rule(name):
            errs.append(invalid("metadata.name", name, m))
    errs += validate_labels(md.get("labels"), "metadata.labels")
    errs += validate_annotations(md.get("annotations"), "metadata.annotations")
    for i, ref in enumerate(md.get("ownerReferences") or []):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                errs.append(required(f"metadata.ownerReferences[{i}].{f}"))
    controllers = [r for r in md.get("ownerReferences") or [] if r.get("controller")]
    if len(controllers) > 1:
        errs.append(invalid("metadata.ownerReferences", controllers,
                            "Only one reference can have Controller set to true"))
    for i, f in enumerate(md.get("finalizers") or []):
        for m in qualified_name(f):
            errs.append(invalid(f"metadata.finalizers[{i}]", f, m))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    n, o = new["metadata"], old["metadata"]
    for f in ("name", "namespace", "uid", "creationTimestamp"):
        if n.get(f) != o.get(f):
            errs.append(invalid(f"metadata.{f}", n.get(f), "field is immutable"))
    return errs
