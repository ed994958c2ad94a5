"""The query parameters of the Kubernetes REST API, read once per request the way Kubernetes'
parameter codec reads them into ListOptions, DeleteOptions, CreateOptions and the rest.

Two kinds of failure, as Kubernetes answers them:

* a value that does not parse (``limit=abc``, ``timeoutSeconds=inf``, ``watch=maybe``) is a
  400 BadRequest whose message names the parameter and carries Go's own parse error
  (``strconv.ParseInt: parsing "abc": invalid syntax``), with the parameter as the cause's
  ``field``;
* a value that parses but breaks an option rule (``dryRun=Bogus``, ``resourceVersionMatch``
  without ``resourceVersion``) is a 422 Invalid on the options kind, e.g.
  ``ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: ...``.

Numbers follow ``strconv.ParseInt(s, 10, 64)`` (an optional sign and decimal digits, within
int64: no ``1.5``, ``1e3``, ``inf`` or ``nan``), booleans ``strconv.ParseBool``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from apiserver import errors
from apiserver.rest import ListOptions
from apiserver.validation import FieldError, forbidden

_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_TRUE = frozenset(("1", "t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("0", "f", "F", "false", "False", "FALSE"))
META_GROUP = "meta.k8s.io"
EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"
FIELD_VALIDATIONS = ("Ignore", "Warn", "Strict")


def _bad(name: str, detail: str) -> errors.BadRequest:
    return errors.BadRequest(f'invalid value for query parameter "{name}": {detail}',
                             details={"causes": [{"reason": "FieldValueInvalid", "message": detail,
                                                  "field": name}]})


def _options_invalid(kind: str, errs: list[FieldError]) -> errors.Invalid:
    return errors.Invalid.of(kind, META_GROUP, "", errs)


def go_int(q: Mapping[str, str], name: str) -> int | None:
    """``name`` as ``strconv.ParseInt(v, 10, 64)`` reads it; None when absent or empty."""
    v = q.get(name)
    if v is None or v == "":
        return None
    if not _INT.fullmatch(v):
        raise _bad(name, f'strconv.ParseInt: parsing "{v}": invalid syntax')
    n = int(v)
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise _bad(name, f'strconv.ParseInt: parsing "{v}": value out of range')
    return n


def go_bool(q: Mapping[str, str], name: str) -> bool | None:
    """``name`` as ``strconv.ParseBool`` reads it; None when absent or empty."""
    v = q.get(name)
    if v is None or v == "":
        return None
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _bad(name, f'strconv.ParseBool: parsing "{v}": invalid syntax')


def flag(q: Mapping[str, str], name: str) -> bool:
    return go_bool(q, name) or False


def dry_run(q: Mapping[str, str], options_kind: str) -> bool:
    """``dryRun``: every value must be ``All`` (Kubernetes' ValidateDryRun)."""
    values = [v for v in (q.getlist("dryRun") if hasattr(q, "getlist") else [q.get("dryRun")]) if v]
    if not values:
        return False
    if any(v != "All" for v in values):
        shown = "[]string{" + ", ".join(f'"{v}"' for v in values) + "}"
        raise _options_invalid(options_kind, [FieldError("dryRun", "FieldValueNotSupported",
                                                         f'Unsupported value: {shown}: supported values: "All"')])
    return True


def field_validation(q: Mapping[str, str]) -> str:
    v = q.get("fieldValidation") or "Warn"
    if v not in FIELD_VALIDATIONS:
        raise errors.BadRequest(f'fieldValidation parameter unsupported: "{v}". '
                                f'Expected one of: Ignore, Warn, Strict')
    return v


@dataclasses.dataclass(slots=True)
class ListQuery:
    """A list or watch request's parameters (``opts`` is what the REST storage reads)."""

    opts: ListOptions
    watch: bool
    timeout_seconds: int | None
    allow_bookmarks: bool
    send_initial_events: bool | None


def list_query(q: Mapping[str, str], *, watch_path: bool = False) -> ListQuery:
    """Parse and validate a list/watch request as Kubernetes' ValidateListOptions does."""
    watch = watch_path or flag(q, "watch")
    limit = go_int(q, "limit") or 0
    timeout = go_int(q, "timeoutSeconds")
    bookmarks = flag(q, "allowWatchBookmarks")
    send_initial = go_bool(q, "sendInitialEvents")
    rv = q.get("resourceVersion") or None
    match = q.get("resourceVersionMatch") or None
    cont = q.get("continue") or None
    errs: list[FieldError] = []
    if watch:
        if send_initial is not None and match not in (None, NOT_OLDER_THAN):
            errs.append(forbidden("resourceVersionMatch",
                                  f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match is not None:
            if send_initial is None:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            if match != NOT_OLDER_THAN:
                errs.append(FieldError("resourceVersionMatch", "FieldValueNotSupported",
                                       f'Unsupported value: "{match}": supported values: "{NOT_OLDER_THAN}"'))
            if cont:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
    else:
        if match is not None:
            if rv is None:
                errs.append(forbidden("resourceVersionMatch",
                                      "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if cont:
                errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
            if match not in (EXACT, NOT_OLDER_THAN):
                errs.append(FieldError("resourceVersionMatch", "FieldValueNotSupported",
                                       f'Unsupported value: "{match}": supported values: "{EXACT}", '
                                       f'"{NOT_OLDER_THAN}", ""'))
            if match == EXACT and rv == "0":
                errs.append(forbidden("resourceVersionMatch",
                                      'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if send_initial is not None:
            errs.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if errs:
        raise _options_invalid("ListOptions", errs)
    # A negative limit asks for no limit, as in Kubernetes (only a positive one pages).
    opts = ListOptions(q.get("labelSelector"), q.get("fieldSelector"), max(limit, 0), cont, rv, match)
    return ListQuery(opts, watch, timeout if timeout and timeout > 0 else None, bookmarks, send_initial)


def delete_options(q: Mapping[str, str], body: dict[str, object]) -> dict[str, object]:
    """The DeleteOptions of a DELETE: its body's, overridden by query parameters."""
    options = dict(body)
    grace = go_int(q, "gracePeriodSeconds")
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    if q.get("propagationPolicy"):
        options["propagationPolicy"] = q["propagationPolicy"]
    orphan = go_bool(q, "orphanDependents")
    if orphan is not None:
        options["orphanDependents"] = orphan
    return options
