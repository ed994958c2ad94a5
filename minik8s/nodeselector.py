"""Node selector terms as predicates: Kubernetes' rules for matching a NodeSelectorTerm
(``matchExpressions`` on labels, ``matchFields`` on the name) against a node.

Used wherever a node selector is evaluated: the scheduler's NodeAffinity and VolumeBinding
plugins (against its NodeInfos) and the volume binder (a PersistentVolume's node affinity
against the node a claim's pod was given). A node is anything with ``labels`` (a mapping)
and ``name``; :class:`NodeView` makes one of a Node object.

* ``nodeSelectorTerms`` are ORed; inside a term every ``matchExpressions`` and ``matchFields``
  requirement must hold; an empty term matches no node.
* label operators: ``In`` / ``NotIn`` (at least one value; NotIn also matches a node without the
  label), ``Exists`` / ``DoesNotExist`` (no values), ``Gt`` / ``Lt`` (exactly one integer value,
  compared with the label parsed as an integer; a non-integer label does not match).
* ``matchFields`` supports only ``metadata.name`` with ``In`` / ``NotIn`` and one value.
* a malformed requirement makes its term match nothing, as Kubernetes ignores terms that fail
  to parse.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["Matcher", "NodeView", "SelectableNode", "compile_term", "selector_matcher"]


class SelectableNode(Protocol):
    """What a node selector reads of a node: a NodeView, or the scheduler's NodeInfo."""

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class NodeView:
    """The two things a node selector looks at, taken from a Node object."""

    name: str
    labels: Mapping[str, str]

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> NodeView:
        md = node.get("metadata") or {}
        return cls(md.get("name") or "", md.get("labels") or {})


Matcher = Callable[[Any], bool]

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")


class _Invalid(ValueError):
    pass


def _as_int(s: str | None) -> int | None:
    if s is None or not _INTEGER.match(s):
        return None
    return int(s)


def _label_requirement(expr: Mapping[str, Any]) -> Matcher:
    key = expr.get("key") or ""
    op = expr.get("operator")
    values = list(expr.get("values") or ())
    if op in ("In", "NotIn"):
        if not values:
            raise _Invalid(f"{op} needs values")
        vs = frozenset(values)
        if op == "In":
            return lambda node: node.labels.get(key) in vs
        return lambda node: node.labels.get(key) not in vs
    if op in ("Exists", "DoesNotExist"):
        if values:
            raise _Invalid(f"{op} takes no values")
        if op == "Exists":
            return lambda node: key in node.labels
        return lambda node: key not in node.labels
    if op in ("Gt", "Lt"):
        bound = _as_int(values[0]) if len(values) == 1 else None
        if bound is None:
            raise _Invalid(f"{op} needs one integer value")

        def compare(node: Any) -> bool:
            have = _as_int(node.labels.get(key))
            if have is None:
                return False
            return have > bound if op == "Gt" else have < bound

        return compare
    raise _Invalid(f"unknown operator {op!r}")


def _field_requirement(expr: Mapping[str, Any]) -> Matcher:
    values = list(expr.get("values") or ())
    op = expr.get("operator")
    if expr.get("key") != "metadata.name" or op not in ("In", "NotIn") or len(values) != 1:
        raise _Invalid("matchFields supports metadata.name In/NotIn with one value")
    name = values[0]
    if op == "In":
        return lambda node: node.name == name
    return lambda node: node.name != name


def _never(node: Any) -> bool:
    return False


def compile_term(term: Mapping[str, Any] | None) -> Matcher:
    """One NodeSelectorTerm as a predicate on a node."""
    term = term or {}
    try:
        reqs = [_label_requirement(e) for e in term.get("matchExpressions") or ()]
        reqs += [_field_requirement(e) for e in term.get("matchFields") or ()]
    except _Invalid:
        return _never
    if not reqs:
        return _never
    if len(reqs) == 1:
        return reqs[0]
    return lambda node: all(r(node) for r in reqs)


def selector_matcher(selector: Mapping[str, Any] | None) -> Matcher:
    """A NodeSelector (``nodeSelectorTerms``, ORed) as one predicate."""
    terms = [compile_term(t) for t in (selector or {}).get("nodeSelectorTerms") or ()]
    return lambda node: any(t(node) for t in terms)
