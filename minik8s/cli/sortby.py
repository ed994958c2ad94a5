"""``mkctl get --sort-by=JSONPATH``: order the rows of a Table, or the items of a list, by one
field, as kubectl's ``SortingPrinter`` does (``k8s.io/kubectl/pkg/cmd/get/sorter.go``).

- The path is relaxed as kubectl relaxes it: ``metadata.name``, ``.metadata.name``,
  ``{metadata.name}`` and ``{.metadata.name}`` all mean ``{.metadata.name}``.
- Only the first value the path finds counts. Numbers compare as numbers (an integer and a
  float do not compare: kubectl refuses them); strings that both parse as quantities (``100m``,
  ``1Gi``, ``10``) compare as quantities, other strings byte by byte (``pod-10`` before
  ``pod-9``: kubectl 1.32 does so, whatever newer sources say about natural order); times are
  RFC 3339 strings, which that order sorts by time. An object without the field sorts first.
- A path found on no object is an error (``couldn't find any field with path ...``); a Table of
  one row is not sorted at all, as kubectl checks nothing then. In table output kubectl drops a
  table its sorter refuses without a word (``get`` ignores its printer's error), and when it
  fetched several things (names, types) it first sorts those fetched documents themselves by
  the field, which fails unless a Table has it.
- kubectl sorts with Go's ``sort.Sort``, an insertion sort up to 12 elements, which this
  follows step for step so that ties come out in kubectl's order; longer lists are sorted
  stably (Go's pdqsort may order ties differently there).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from minik8s.cli import jsonpath
from minik8s.cli.session import CliError

_RELAXED = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")
_INSERTION_LIMIT = 12


class Unsortable(CliError):
    """Raised when two values of the field cannot be compared (maps, booleans, mixed types)."""


def relaxed(path: str) -> str:
    """kubectl's ``RelaxedJSONPathExpression``."""
    if not path:
        return path
    m = _RELAXED.match(path)
    if m is None:
        raise CliError("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' "
                       "or '{.name1.name2}'")
    return "{." + (m.group(1) or m.group(2)) + "}"


def _quantity(text: str) -> Fraction | None:
    from minik8s import quantity

    try:
        return quantity.parse_quantity(text)
    except (ValueError, TypeError, ArithmeticError):
        return None


def value_less(a: Any, b: Any, field: str) -> bool:
    """kubectl's ``isLess`` for the values of an unstructured (JSON) object."""
    if a is None and b is None:
        return False
    if a is None:
        return True
    if b is None:
        return False
    if isinstance(a, bool) or isinstance(a, dict | list) or type(a) is not type(b):
        kind = {bool: "bool", dict: "map", list: "slice"}.get(type(a), type(a).__name__)
        raise Unsortable(f"Field {field} is an unsortable type: {kind}")
    if isinstance(a, str):
        qa = _quantity(a)
        qb = _quantity(b) if qa is not None else None
        if qa is not None and qb is not None:
            return qa < qb
        return bool(a < b)  # code point order is UTF-8 byte order, as Go compares strings
    return bool(a < b)  # numbers (a JSON value of another type is unsortable, above)


def _first_values(nodes: list[Any], objects: list[Any]) -> list[tuple[bool, Any]]:
    """(found, first value) per object."""
    out = []
    for obj in objects:
        found = jsonpath.find(nodes, obj, allow_missing=True) if obj is not None else []
        out.append((bool(found), found[0] if found else None))
    return out


def _go_sort(values: list[tuple[bool, Any]], less: Callable[[tuple[bool, Any], tuple[bool, Any]], bool]) -> list[int]:
    """The new order (indexes into ``values``): Go's insertion sort for short lists, a stable
    sort otherwise."""
    order = list(range(len(values)))
    if len(order) <= _INSERTION_LIMIT:
        for i in range(1, len(order)):
            j = i
            while j > 0 and less(values[order[j]], values[order[j - 1]]):
                order[j], order[j - 1] = order[j - 1], order[j]
                j -= 1
        return order

    def cmp(x: int, y: int) -> int:
        return -1 if less(values[x], values[y]) else (1 if less(values[y], values[x]) else 0)

    return sorted(order, key=functools.cmp_to_key(cmp))


def _less(field: str) -> Callable[[tuple[bool, Any], tuple[bool, Any]], bool]:
    def less(i: tuple[bool, Any], j: tuple[bool, Any]) -> bool:
        if not i[0]:
            return True  # a missing field sorts first (even before another missing one, as kubectl)
        if not j[0]:
            return False
        return value_less(i[1], j[1], field)

    return less


def _parse(field: str) -> list[Any]:
    try:
        return jsonpath.parse(field)
    except jsonpath.JsonPathError as e:
        raise CliError(f"sorting error: {e}") from None


def sort_table(table: dict[str, Any], sort_by: str) -> None:
    """Sort ``table``'s rows in place by the field of each row's object (the Table must have been
    asked for with ``includeObject=Object``)."""
    rows = table.get("rows") or []
    if len(rows) <= 1:
        return
    try:
        field = relaxed(sort_by)
    except CliError:
        field = sort_by
    values = _first_values(_parse(field), [r.get("object") for r in rows])
    if not any(found for found, _ in values):
        raise CliError(f'couldn\'t find any field with path "{field}" in the list of objects')
    table["rows"] = [rows[i] for i in _go_sort(values, _less(field))]


def sort_table_quietly(table: dict[str, Any], sort_by: str) -> bool:
    """:func:`sort_table`, False instead of an error. kubectl's table printer fails on a bad
    field but ``get`` ignores what its printer returns: the table is left out (and, when nothing
    else was printed, ``No resources found``)."""
    try:
        sort_table(table, sort_by)
    except CliError:
        return False
    return True


def sort_objects(objects: list[dict[str, Any]], sort_by: str) -> list[dict[str, Any]]:
    """The objects of a list, sorted (``-o yaml|json|name|jsonpath``)."""
    field = relaxed(sort_by)
    nodes = _parse(field)
    if not objects:
        return objects
    values = _first_values(nodes, objects)
    if not any(found for found, _ in values):
        raise CliError(f'couldn\'t find any field with path "{field}" in the list of objects')
    return [objects[i] for i in _go_sort(values, _less(field))]
