"""Label selectors: the ``labelSelector`` query string and the LabelSelector JSON of specs.

Used on both sides of the wire: the apiserver filters lists and watches with them, controllers
match pods to their owners. Grammar (as Kubernetes' ``labels.Parse``)::

    selector    := requirement ( "," requirement )*        comma is AND
    requirement := "!" key                                  label absent
                 | key                                      label present
                 | key ("=" | "==" | "!=") value
                 | key ("in" | "notin") "(" value ("," value)* ")"
                 | key (">" | "<") integer

A missing label never equals anything, so it matches ``!=`` and ``notin``. An empty selector
matches everything; :data:`NOTHING` (a null LabelSelector) matches nothing. Keys and values are
validated as Kubernetes validates them, and errors are :class:`ValueError` with its wording.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT = "in", "notin", "exists", "!", "gt", "lt"

_NAME_FMT = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE = re.compile(rf"^{_NAME_FMT}$")
_DNS1123_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_RE = re.compile(rf"^{_DNS1123_FMT}$")
_VALUE_FMT = rf"({_NAME_FMT})?"
_VALUE_RE = re.compile(rf"^{_VALUE_FMT}$")

_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             f"validation is '{_NAME_FMT}')")
_DNS1123_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                f"validation is '{_DNS1123_FMT}')")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
              f"'12345', regex used for validation is '{_VALUE_FMT}')")


def qualified_name_errors(key: str) -> list[str]:
    """Kubernetes' IsQualifiedName: ``[prefix/]name``, the shape of label and annotation keys."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            errs.append("prefix part must be no more than 253 characters")
        elif not _DNS1123_RE.match(prefix):
            errs.append(f"prefix part {_DNS1123_MSG}")
    else:
        return [f"a qualified name {_NAME_MSG} with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _NAME_RE.match(name):
        errs.append(f"name part {_NAME_MSG}")
    return errs


def label_value_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _VALUE_RE.match(value):
        errs.append(_VALUE_MSG)
    return errs


def _invalid(path: str, value: str, errs: list[str]) -> ValueError:
    return ValueError(f'{path}: Invalid value: "{value}": {"; ".join(errs)}')


@dataclasses.dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a selector: ``key`` related to ``values`` by ``operator``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    @classmethod
    def new(cls, key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
        """A validated requirement (Kubernetes' NewRequirement); ValueError when malformed."""
        vals = tuple(values)
        errs = qualified_name_errors(key)
        if errs:
            raise _invalid("key", key, errs)
        if operator in (IN, NOT_IN):
            if not vals:
                raise ValueError("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty")
        elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
            if len(vals) != 1:
                raise ValueError(f"values: Invalid value: {list(vals)}: exact-match compatibility requires one single value")
        elif operator in (EXISTS, DOES_NOT_EXIST):
            if vals:
                raise ValueError(f"values: Invalid value: {list(vals)}: values set must be empty for exists and does not exist")
        elif operator in (GT, LT):
            if len(vals) != 1:
                raise ValueError(f"values: Invalid value: {list(vals)}: for 'Gt', 'Lt' operators, exactly one value is required")
            try:
                int(vals[0])
            except ValueError:
                raise ValueError(f"values[0]: Invalid value: \"{vals[0]}\": for 'Gt', 'Lt' operators, "
                                 "the value must be an integer") from None
        else:
            raise ValueError(f"operator: Unsupported value: \"{operator}\": supported values: "
                             '"in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"')
        for i, v in enumerate(vals):
            if operator not in (GT, LT):
                verrs = label_value_errors(v)
                if verrs:
                    raise _invalid(f"values[{i}]", v, verrs)
        # Sorted so that the string form (and equality) does not depend on the order written.
        return cls(key, operator, tuple(sorted(set(vals))) if operator in (IN, NOT_IN) else vals)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        # gt / lt: the label must be present and an integer
        if self.key not in labels:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if op == GT else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        if op in (GT, LT):
            return f"{self.key}{'>' if op == GT else '<'}{self.values[0]}"
        return f"{self.key}{op}{self.values[0]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Selector:
    """An AND of requirements. ``Selector(())`` matches everything."""

    requirements: tuple[Requirement, ...] = ()
    _nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        labels = labels or {}
        for r in self.requirements:
            if not r.matches(labels):
                return False
        return True

    def is_empty(self) -> bool:
        """True when it selects everything (no requirements); the null selector is not empty."""
        return not self.requirements and not self._nothing

    def add(self, *reqs: Requirement) -> Selector:
        return Selector(tuple(sorted(self.requirements + reqs, key=lambda r: r.key)), self._nothing)

    def requires_exact_match(self, key: str) -> str | None:
        """The value ``key`` must have, when some requirement pins it to exactly one."""
        for r in self.requirements:
            if r.key == key and r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                return r.values[0]
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector(())
NOTHING = Selector((), _nothing=True)


# -- the string form ----------------------------------------------------------------------

_SPECIAL = "=!(),<>"
_KEYWORDS = {"in": IN, "notin": NOT_IN}


def _tokens(text: str) -> list[str]:
    """Split into identifiers and operator symbols; whitespace only separates."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _SPECIAL:
            two = text[i:i + 2]
            if two in ("==", "!="):
                out.append(two)
                i += 2
            else:
                out.append(c)
                i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _is_ident(tok: str | None) -> TypeGuard[str]:
    return tok is not None and tok[0] not in _SPECIAL


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def error(self, tok: str | None, expected: str) -> ValueError:
        found = "end of string" if tok is None else tok
        return ValueError(f"unable to parse requirement: found '{found}', expected: {expected}")

    def selector(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            if self.peek() is None:
                if reqs:  # a trailing comma: "a=b,"
                    raise self.error(None, "identifier")
                return reqs
            reqs.append(self.requirement())
            tok = self.next()
            if tok is None:
                return reqs
            if tok != ",":
                raise self.error(tok, "',' or 'end of string'")

    def requirement(self) -> Requirement:
        tok = self.next()
        if tok == "!":
            key = self.next()
            if not _is_ident(key) or key in _KEYWORDS:
                raise self.error(key, "identifier after '!'")
            if self.peek() not in (None, ","):
                raise self.error(self.peek(), "',' or 'end of string'")
            return Requirement.new(key, DOES_NOT_EXIST)
        if not _is_ident(tok):
            raise self.error(tok, "identifier")
        key = tok
        op_tok = self.peek()
        if op_tok in (None, ","):
            return Requirement.new(key, EXISTS)
        self.next()
        if op_tok in ("=", "==", "!="):
            val = self.peek()
            if _is_ident(val):
                self.next()
                return Requirement.new(key, op_tok, [val])
            if val in (None, ","):  # "a=" means the empty value
                return Requirement.new(key, op_tok, [""])
            raise self.error(val, "identifier")
        if op_tok in (">", "<"):
            val = self.next()
            if not _is_ident(val):
                raise self.error(val, "identifier")
            return Requirement.new(key, GT if op_tok == ">" else LT, [val])
        if op_tok in _KEYWORDS:
            if self.next() != "(":
                raise self.error(self.toks[self.pos - 1] if self.pos <= len(self.toks) else None, "'('")
            return Requirement.new(key, _KEYWORDS[op_tok], self.value_list())
        raise self.error(op_tok, "'=', '!=', '==', 'in', 'notin', '>', '<'")

    def value_list(self) -> list[str]:
        vals: list[str] = []
        expect_value = True
        while True:
            tok = self.next()
            if tok == ")":
                if vals and expect_value:  # "(a,)" carries an empty value, as Kubernetes reads it
                    vals.append("")
                return vals
            if tok == ",":
                if expect_value:
                    vals.append("")
                expect_value = True
            elif _is_ident(tok) and expect_value:
                vals.append(tok)
                expect_value = False
            else:
                raise self.error(tok, "',', ')' or identifier")


def parse(text: str) -> Selector:
    """Parse a ``labelSelector`` string; ValueError with Kubernetes' wording when malformed."""
    if not text or text.isspace():
        return EVERYTHING
    reqs = _Parser(text).selector()
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


def from_set(labels: Mapping[str, str] | None) -> Selector:
    """``k1=v1,k2=v2`` for a map (e.g. a Service's spec.selector); an empty map selects all."""
    if not labels:
        return EVERYTHING
    return Selector(tuple(Requirement.new(k, EQUALS, [v]) for k, v in sorted(labels.items())))


_EXPR_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(d: Mapping[str, Any] | None) -> Selector:
    """A meta/v1 LabelSelector dict (matchLabels + matchExpressions) as a Selector.
    Null selects nothing; ``{}`` selects everything, as Kubernetes has it."""
    if d is None:
        return NOTHING
    reqs: list[Requirement] = []
    for k, v in (d.get("matchLabels") or {}).items():
        reqs.append(Requirement.new(k, EQUALS, [v]))
    for expr in d.get("matchExpressions") or []:
        op = expr.get("operator")
        if op not in _EXPR_OPS:
            raise ValueError(f'"{op}" is not a valid label selector operator')
        reqs.append(Requirement.new(expr.get("key", ""), _EXPR_OPS[op], expr.get("values") or []))
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


# -- printing (apimachinery's labels.FormatLabels and metav1.FormatLabelSelector) ----------


def format_labels(labels: Mapping[str, str] | None) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted by key; ``<none>`` when there are none."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def label_selector_string(selector: Mapping[str, Any] | None) -> str | None:
    """``metav1.LabelSelectorAsSelector(s).String()``: the requirements sorted by key
    (``app in (api,web),tier=fe``), ``""`` for a null or empty selector; None when the selector
    cannot be converted (an unknown operator, an invalid key or value). Also the form of the
    ``labelSelector`` query parameter that finds what a LabelSelector selects."""
    if not selector:
        return ""
    try:
        return str(from_label_selector(selector))
    except ValueError:
        return None


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: as :func:`label_selector_string`, but ``<none>`` when
    empty and ``<error>`` when it cannot be converted."""
    text = label_selector_string(selector)
    if text is None:
        return "<error>"
    return text or "<none>"
