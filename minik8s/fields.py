"""Field selectors: the ``fieldSelector`` query string (``spec.nodeName=n1,status.phase!=Failed``).

The apiserver filters lists and watches with them over a flat map of selectable fields per
resource (``metadata.name``, ``metadata.namespace``, ``spec.nodeName`` ...); clients only build
and send them. As in Kubernetes, only ``=``, ``==`` and ``!=`` exist, terms are ANDed, a field
the object lacks reads as the empty string, and ``\\``, ``,`` and ``=`` inside a value are
escaped with a backslash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="


@dataclasses.dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have != self.value if self.operator == NOT_EQUALS else have == self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSelector:
    """An AND of field requirements; no requirements selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.requirements:
            if not r.matches(fields):
                return False
        return True

    def is_empty(self) -> bool:
        return not self.requirements

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, if the selector pins it (used to pick an index)."""
        for r in self.requirements:
            if r.field == field and r.operator != NOT_EQUALS:
                return r.value
        return None

    def fields(self) -> set[str]:
        return {r.field for r in self.requirements}

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = FieldSelector(())


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape(value: str, term: str) -> str:
    out: list[str] = []
    it = iter(value)
    for c in it:
        if c == "\\":
            nxt = next(it, None)
            if nxt not in ("\\", ",", "="):
                raise ValueError(f"invalid field selector: '{term}': invalid escape sequence")
            out.append(nxt)
        else:
            out.append(c)
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped."""
    terms: list[str] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == ",":
            terms.append(text[start:i])
            start = i + 1
        i += 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """``(field, operator, raw value)``: the first unescaped operator, ``!=`` and ``==`` first."""
    i, n = 0, len(term)
    while i < n:
        c = term[i]
        if c == "\\":
            i += 2
            continue
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
        i += 1
    return None


def parse(text: str) -> FieldSelector:
    """Parse a ``fieldSelector`` string; ValueError with Kubernetes' wording when malformed."""
    reqs: list[FieldRequirement] = []
    for term in _split_terms(text or ""):
        if not term.strip():
            continue
        parts = _split_term(term)
        if parts is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = parts
        field = field.strip()
        if not field:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        reqs.append(FieldRequirement(field, op, _unescape(raw, term)))
    return FieldSelector(tuple(sorted(reqs, key=lambda r: r.field)))


def from_set(fields: Mapping[str, str]) -> FieldSelector:
    """``f1=v1,f2=v2`` for a map: e.g. ``{"spec.nodeName": node}`` for a kubelet's pod watch."""
    return FieldSelector(tuple(FieldRequirement(k, EQUALS, v) for k, v in sorted(fields.items())))
