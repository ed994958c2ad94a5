"""``x-kubernetes-validations``: a CRD schema's CEL rules, compiled when the CRD is written and
evaluated on every write of its objects, as Kubernetes' apiextensions CEL validator does.

Each rule is evaluated with ``self`` bound to the value at its schema node (absent values are
not checked); a *transition rule* (one naming ``oldSelf``) only on an update whose old object
has a value at the same place (object fields and map entries correlate by key, items of a
``x-kubernetes-list-type: map`` list by their keys). A false rule is an error at the node's
field path (or its ``fieldPath``) with the rule's ``reason`` (FieldValueInvalid by default) and
``message``, ``messageExpression`` or ``failed rule: <rule>``, as Kubernetes writes them.

CEL comes from the ``cel-python`` package (``celpy``): the standard language and its functions
(``size``, ``has``, ``all``, ``exists``, ``matches``, ``startsWith``, ...). Kubernetes' own CEL
libraries (quantity, url, ip/cidr, format, lists' ``isSorted``...) are not there: a rule using
one fails to evaluate and is reported as such. There is no cost budget.
"""

from __future__ import annotations

import functools
from typing import Any

from apiserver import validation as v
from apiserver.crdschema.values import type_name
from apiserver.validation import FieldError

__all__ = ["compile_errors", "validate", "has_rules"]

RULES = "x-kubernetes-validations"
_REASONS = {"FieldValueInvalid": v.INVALID, "FieldValueForbidden": v.FORBIDDEN,
            "FieldValueRequired": v.REQUIRED, "FieldValueDuplicate": v.DUPLICATE}
@functools.cache
def _cel() -> tuple[Any, Any, dict[str, Any]]:
    """celpy, its environment and the extra functions, made on first use: importing celpy and
    building its parser costs most of a second, which an apiserver whose CRDs have no rules
    (or has no CRDs) should not pay at start."""
    import celpy
    from celpy import celtypes as t

    def join(items: Any, sep: Any = "") -> Any:
        return t.StringType(str(sep).join(str(x) for x in items))

    def split(text: Any, sep: Any, limit: Any = -1) -> Any:
        n = int(limit)
        parts = str(text).split(str(sep)) if n < 0 else str(text).split(str(sep), max(n - 1, 0))
        return t.ListType([t.StringType(p) for p in parts])

    def is_sorted(items: Any) -> Any:
        xs = list(items)
        return t.BoolType(all(a <= b for a, b in zip(xs, xs[1:])))

    def total(items: Any) -> Any:
        xs = list(items)
        return sum(xs, t.IntType(0)) if all(isinstance(x, t.IntType) for x in xs) else sum(xs, t.DoubleType(0))

    # A few functions of Kubernetes' CEL libraries (strings, lists) that rules use most.
    functions = {
        "join": join, "split": split, "isSorted": is_sorted, "sum": total,
        "lowerAscii": lambda s: t.StringType(str(s).lower()),
        "upperAscii": lambda s: t.StringType(str(s).upper()),
        "trim": lambda s: t.StringType(str(s).strip()),
        "replace": lambda s, a, b: t.StringType(str(s).replace(str(a), str(b))),
        "indexOf": lambda s, sub: t.IntType(str(s).find(str(sub))),
    }
    return celpy, celpy.Environment(), functions


class CompileError(ValueError):
    """A rule that does not parse."""


@functools.lru_cache(maxsize=4096)
def _program(expr: str) -> Any:
    celpy, env, functions = _cel()
    try:
        return env.program(env.compile(expr), functions=functions)
    except celpy.CELParseError as e:
        raise CompileError(" ".join(str(e).split())) from None


def _to_cel(value: Any) -> Any:
    return _cel()[0].json_to_cel(value)


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, _cel()[0].celtypes.BoolType))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---- the CRD side: every rule must compile -------------------------------------------------


def compile_errors(schema: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    _compile_walk(schema, path, errs)
    return errs


def _compile_walk(s: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(s, dict):
        return
    for i, rule in enumerate(s.get(RULES) or []):
        rp = f"{path}.{RULES}[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("rule"), str) or not rule["rule"]:
            errs.append(v.required(f"{rp}.rule"))
            continue
        for key in ("rule", "messageExpression"):
            expr = rule.get(key)
            if isinstance(expr, str) and expr:
                try:
                    _program(expr)
                except CompileError as e:
                    errs.append(v.invalid(f"{rp}.{key}", expr, f"compilation failed: {e}"))
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            errs.append(v.not_supported(f"{rp}.reason", reason, sorted(_REASONS)))
    for k, sub in (s.get("properties") or {}).items():
        _compile_walk(sub, f"{path}.properties[{k}]", errs)
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            _compile_walk(s[key], f"{path}.{key}", errs)


# ---- the object side: evaluate ---------------------------------------------------------------


def validate(obj: dict[str, Any], schema: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
    """The errors of every rule of ``schema`` on ``obj`` (``old``: the stored object of an update)."""
    errs: list[FieldError] = []
    _walk(obj, old, schema, "", errs)
    return errs


def has_rules(s: Any) -> bool:
    """Whether any node of the schema has CEL rules (most have none: nothing to walk then)."""
    return _has_rules(s)


def _has_rules(s: Any) -> bool:
    if not isinstance(s, dict):
        return False
    if s.get(RULES):
        return True
    return any(_has_rules(sub) for sub in (s.get("properties") or {}).values()) or \
        _has_rules(s.get("items")) or _has_rules(s.get("additionalProperties"))


def _walk(value: Any, old: Any, s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    if value is None:
        return
    for rule in s.get(RULES) or []:
        err = _check(rule, value, old, path)
        if err is not None:
            errs.append(err)
    if isinstance(value, dict):
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for k, item in value.items():
            sub = props.get(k)
            if sub is None and isinstance(addl, dict):
                sub = addl
            if isinstance(sub, dict):
                _walk(item, old_map.get(k), sub, _child(path, k), errs)
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        items = s["items"]
        olds = _correlate(value, old, s)
        for i, item in enumerate(value):
            _walk(item, olds[i], items, f"{path}[{i}]", errs)


def _correlate(value: list[Any], old: Any, s: dict[str, Any]) -> list[Any]:
    """The old item of each new item: by key for list-type map, by value for sets, else none."""
    if not isinstance(old, list):
        return [None] * len(value)
    lt = s.get("x-kubernetes-list-type")
    if lt == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        by_key = {tuple(o.get(k) for k in keys): o for o in old if isinstance(o, dict)}
        return [by_key.get(tuple(x.get(k) for k in keys)) if isinstance(x, dict) else None for x in value]
    if lt == "set":
        return [x if x in old else None for x in value]
    return [None] * len(value)


def _check(rule: dict[str, Any], value: Any, old: Any, path: str) -> FieldError | None:
    expr = rule.get("rule") or ""
    transition = "oldSelf" in expr
    if transition and old is None:
        return None
    field = path
    if rule.get("fieldPath"):
        field = path + rule["fieldPath"] if rule["fieldPath"].startswith("[") else \
            _child(path, rule["fieldPath"].lstrip("."))
    reason = _REASONS.get(rule.get("reason") or "FieldValueInvalid", v.INVALID)
    activation = {"self": _to_cel(value)}
    if transition:
        activation["oldSelf"] = _to_cel(old)
    try:
        result = _program(expr).evaluate(activation)
    except CompileError:
        return None  # refused when the CRD was written
    except Exception as e:  # CELEvalError: a missing field, a function CEL here lacks, a type mismatch
        result = e
    if _is_bool(result) and result:
        return None
    if isinstance(result, Exception):
        return FieldError(field, v.INVALID, f'Invalid value: "{type_name(value)}": {_eval_error(result)} '
                                            f"evaluating rule: {expr}")
    if not _is_bool(result):
        return FieldError(field, v.INVALID, f'Invalid value: "{type_name(value)}": rule did not evaluate to a '
                                            f"bool: {expr}")
    # a fresh activation: celpy's evaluation leaves its comprehension variables in the one it had
    fresh = {"self": _to_cel(value)}
    if transition:
        fresh["oldSelf"] = _to_cel(old)
    message = _message(rule, fresh) or f"failed rule: {expr}"
    shown = type_name(value)
    if reason == v.REQUIRED:
        return FieldError(field, reason, f"Required value: {message}")
    if reason == v.FORBIDDEN:
        return FieldError(field, reason, f"Forbidden: {message}")
    if reason == v.DUPLICATE:
        return FieldError(field, reason, f'Duplicate value: "{shown}"')
    return FieldError(field, v.INVALID, f'Invalid value: "{shown}": {message}')


def _message(rule: dict[str, Any], activation: dict[str, Any]) -> str | None:
    expr = rule.get("messageExpression")
    if expr:
        try:
            out = _program(expr).evaluate(activation)
        except Exception:  # a message that cannot be built falls back to the static one
            out = None
        if isinstance(out, str) and out.strip():
            return str(out)
    msg = rule.get("message")
    return msg if isinstance(msg, str) and msg else None


def _eval_error(err: Any) -> str:
    args = getattr(err, "args", ())
    text = str(args[0]) if args else type(err).__name__
    text = text.split(" (in activation")[0]  # celpy appends the whole activation
    return "evaluation failed: " + (text if len(text) <= 200 else text[:200] + "...")
