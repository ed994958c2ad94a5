"""NodeAffinity: ``nodeSelector`` and required node-affinity terms filter; preferred terms score.

Matching follows Kubernetes' node selector rules:

* ``nodeSelectorTerms`` are ORed; inside a term every ``matchExpressions`` and ``matchFields``
  requirement must hold; an empty term matches no node.
* label operators: ``In`` / ``NotIn`` (at least one value; NotIn also matches a node without the
  label), ``Exists`` / ``DoesNotExist`` (no values), ``Gt`` / ``Lt`` (exactly one integer value,
  compared with the label parsed as an integer; a non-integer label does not match).
* ``matchFields`` supports only ``metadata.name`` with ``In`` / ``NotIn`` and one value.
* a malformed requirement makes its term match nothing, as Kubernetes ignores terms that fail
  to parse.

The score adds the weights of the preferred terms a node matches, then scales so the best node
gets 100.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scheduler.framework import CycleState, NodeCheck, NodeInfo, PodInfo, Rejection, default_normalize

__all__ = ["NAME", "REJECTION", "NodeAffinity", "compile_term", "required_matcher"]

NAME = "NodeAffinity"
REJECTION = Rejection(("node(s) didn't match Pod's node affinity/selector",), plugin=NAME)

Matcher = Callable[[NodeInfo], bool]

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

        def compare(node: NodeInfo) -> bool:
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


def _never(node: NodeInfo) -> bool:
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


def required_matcher(pod: PodInfo) -> Matcher | None:
    """nodeSelector AND required terms as one predicate; None when the pod has neither."""
    checks: list[Matcher] = []
    if len(pod.node_selector) == 1:
        ((key, value),) = pod.node_selector.items()
        checks.append(lambda node: node.labels.get(key) == value)
    elif pod.node_selector:
        wanted = tuple(pod.node_selector.items())
        checks.append(lambda node: all(node.labels.get(k) == v for k, v in wanted))
    required = (pod.node_affinity or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = [compile_term(t) for t in required.get("nodeSelectorTerms") or ()]
        checks.append(lambda node: any(t(node) for t in terms))
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda node: all(c(node) for c in checks)


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        matches = required_matcher(pod)
        if matches is None:
            return None

        def check(node: NodeInfo) -> Rejection | None:
            return None if matches(node) else REJECTION

        return check

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        preferred = (pod.node_affinity or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        terms = [(int(p.get("weight") or 0), compile_term(p.get("preference"))) for p in preferred]
        terms = [(w, m) for w, m in terms if w]
        if not terms:
            return None
        raw = [sum(w for w, m in terms if m(node)) for node in nodes]
        return default_normalize(raw)
