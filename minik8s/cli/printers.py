"""How mkctl prints objects: the server's Tables, and yaml, json, name, jsonpath and
custom-columns made on the client, each byte for byte as kubectl 1.32 prints it.

Tables are the server's ``meta.k8s.io/v1`` Table (the one kubectl gets), laid out by
:func:`tabwriter` exactly as Go's ``text/tabwriter`` with kubectl's settings (minimum cell width
6, padding 3). YAML follows ``sigs.k8s.io/yaml`` (sorted keys, block style, strings that would
read as another type in double quotes, multi-line strings literal); JSON follows Go's
``MarshalIndent`` (four spaces, sorted keys, ``<>&`` escaped).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from typing import Any

from minik8s.cli.session import CliError

_MIN_WIDTH = 6
_PADDING = 3

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


# --- tabwriter ------------------------------------------------------------------------------


def tabwriter(lines: Iterable[str], *, min_width: int = _MIN_WIDTH, padding: int = _PADDING) -> str:
    """Go's ``text/tabwriter`` over tab-separated lines, with kubectl's settings for tables by
    default (``NewWriter(out, 6, 4, 3, ' ', 0)``; describe's are ``min_width=0, padding=2``):
    a cell ended by a tab is padded to its column's width; the text after the last tab is left
    as is. Columns are aligned per block of consecutive lines that have a cell in the column."""
    rows = [line.split("\t") for line in lines]
    out_rows: list[list[str]] = [[] for _ in rows]

    def fmt(column: int, start: int, end: int) -> None:
        i = start
        while i < end:
            if column >= len(rows[i]) - 1:
                # this line has no more tab-terminated cells: its rest is plain text
                if column < len(rows[i]):
                    out_rows[i].append(rows[i][column])
                i += 1
                continue
            j = i
            width = min_width
            while j < end and column < len(rows[j]) - 1:
                width = max(width, _width(rows[j][column]) + padding)
                j += 1
            for k in range(i, j):
                cell = rows[k][column]
                out_rows[k].append(cell + " " * (width - _width(cell)))
            fmt(column + 1, i, j)
            i = j

    fmt(0, 0, len(rows))
    return "".join("".join(cells) + "\n" for cells in out_rows)


def _width(text: str) -> int:
    return len(text)


# --- Tables ---------------------------------------------------------------------------------


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        for i, ch in enumerate(cell):
            if ch in "\f\n\r":
                return cell[:i] + "..."
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return _go_float(cell)
    if isinstance(cell, (dict, list)):
        return go_value(cell)
    return str(cell)


def age(timestamp: str | None, *, now: float | None = None) -> str:
    """kubectl's ``HumanDuration`` of the time since ``timestamp`` (``5s``, ``3m2s``, ``2d3h``)."""
    import time

    from minik8s.duration import since  # local: `mkctl version` imports this module

    return since(timestamp, time.time() if now is None else now)


def table_lines(table: dict[str, Any], *, wide: bool = False, with_namespace: bool = False, show_labels: bool = False,
                kind_prefix: str | None = None, headers: bool = True,
                label_columns: list[str] | None = None) -> list[str]:
    """The tab-separated lines of a server Table as kubectl's table printer makes them."""
    columns = table.get("columnDefinitions") or []
    shown = [i for i, c in enumerate(columns) if wide or not c.get("priority")]
    lines: list[str] = []
    if headers:
        head = [columns[i]["name"].upper() for i in shown]
        if with_namespace:
            head.insert(0, "NAMESPACE")
        head.extend(lc.split("/")[-1].upper() for lc in label_columns or [])
        if show_labels:
            head.append("LABELS")
        lines.append("\t".join(head))
    if show_labels:
        from minik8s.labels import format_labels  # local: only --show-labels needs it
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        meta = ((row.get("object") or {}).get("metadata")) or {}
        out = []
        for i in shown:
            text = _cell_text(cells[i]) if i < len(cells) else ""
            if kind_prefix and columns[i].get("format") == "name":
                text = f"{kind_prefix}/{text}"
            out.append(text)
        if with_namespace:
            out.insert(0, meta.get("namespace") or "")
        labels = meta.get("labels") or {}
        for lc in label_columns or []:
            out.append(labels.get(lc, ""))
        if show_labels:
            out.append(format_labels(labels))
        lines.append("\t".join(out))
    return lines


def list_as_table(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A plain list (a server without Tables) as the NAME/AGE table kubectl falls back to."""
    return {
        "columnDefinitions": [{"name": "Name", "format": "name", "priority": 0},
                              {"name": "Age", "format": "", "priority": 0}],
        "rows": [{"cells": [(o.get("metadata") or {}).get("name", ""),
                            age((o.get("metadata") or {}).get("creationTimestamp"))],
                  "object": {"metadata": o.get("metadata") or {}}} for o in items],
    }


# --- yaml / json ----------------------------------------------------------------------------


# go-yaml v2 also reads these as booleans (and "" as null), so it quotes them; PyYAML does not.
_GO_YAML_BOOLS_TOO = frozenset({"", "y", "Y", "n", "N"})


@functools.cache
def _yaml_dumper() -> Any:
    """PyYAML's SafeDumper made to write what go-yaml v2 writes for the same data (its default
    block style already puts a map's list items at the key's indent, as go-yaml does). Built
    on first use: yaml is imported only by the commands that print YAML."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    plain_resolver = yaml.resolver.Resolver()

    def represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        tag = plain_resolver.resolve(yaml.ScalarNode, data, (True, False))  # type: ignore[no-untyped-call]  # unannotated in types-PyYAML
        if tag != "tag:yaml.org,2002:str" or data in _GO_YAML_BOOLS_TOO:
            # A string that would read back as a number, bool, null or time: go-yaml double-quotes it.
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    def represent_float(dumper: yaml.SafeDumper, data: float) -> yaml.ScalarNode:
        text = _go_float(data)
        # go-yaml writes float64 2.0 as "2": give it the tag that resolves implicitly
        tag = "tag:yaml.org,2002:int" if text.lstrip("-").isdigit() else "tag:yaml.org,2002:float"
        return dumper.represent_scalar(tag, text)

    Dumper.add_representer(str, represent_str)
    Dumper.add_representer(float, represent_float)
    return Dumper


def to_yaml(obj: Any) -> str:
    import yaml

    return yaml.dump(obj, Dumper=_yaml_dumper(), default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=math.inf)


def to_json(obj: Any, *, indent: int | None = 4, sort_keys: bool = True) -> str:
    """Go's ``json.MarshalIndent(obj, "", "    ")`` (or ``Marshal`` without indent); maps are
    sorted as Go sorts them, ``sort_keys=False`` keeps a typed struct's field order."""
    if indent is None:
        text = json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(obj, sort_keys=sort_keys, indent=indent, ensure_ascii=False)
    return go_html_escape(text)


def go_html_escape(text: str) -> str:
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _go_float(v: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` as Go's fmt and json print float64s."""
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mant, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        text = f"{mant}e{sign}{digits.zfill(2)}"
    return text


def go_value(v: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value (maps as ``map[k:v]``, lists as ``[a b]``)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    return str(v)


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``List`` kubectl prints for several objects in yaml/json/jsonpath."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# --- -o choices -----------------------------------------------------------------------------


class OutputFormat:
    """A parsed ``-o`` value: ``kind`` is one of table, wide, yaml, json, name, jsonpath,
    custom-columns; ``arg`` the template or column spec."""

    KNOWN = ("json", "yaml", "name", "wide", "jsonpath", "jsonpath-as-json", "custom-columns",
             "jsonpath-file", "custom-columns-file", "go-template", "go-template-file", "template", "templatefile")

    def __init__(self, value: str | None, *, allowed: tuple[str, ...] | None = None) -> None:
        self.kind, self.arg = "table", ""
        if not value:
            return
        kind, sep, arg = value.partition("=")
        choices = allowed or ("json", "yaml", "name", "wide", "jsonpath", "jsonpath-as-json", "jsonpath-file",
                              "custom-columns", "custom-columns-file")
        if kind not in choices:
            raise CliError(f'unable to match a printer suitable for the output format "{value}", allowed formats '
                           f'are: {",".join(sorted(choices))}')
        if kind in ("jsonpath-file", "custom-columns-file"):
            try:
                with open(arg) as f:
                    arg = f.read()
            except OSError as e:
                raise CliError(f"error reading template {arg}, {e}") from None
            kind = kind.removesuffix("-file")
        if kind in ("jsonpath", "jsonpath-as-json", "custom-columns") and not arg:
            raise CliError(f"{kind} template format specified but no {kind} template given")
        self.kind, self.arg = kind, arg

    @property
    def is_table(self) -> bool:
        return self.kind in ("table", "wide")

    def render(self, objects: list[dict[str, Any]], *, single: bool, show_managed_fields: bool = False) -> str:
        """Everything but tables: ``single`` prints one object bare, else a List. kubectl hides
        ``metadata.managedFields`` unless asked to show them."""
        if not show_managed_fields:
            objects = [strip_managed_fields(o) for o in objects]
        if self.kind == "name":
            return "".join(f"{name_of(o)}\n" for o in objects)
        data: Any = objects[0] if single and len(objects) == 1 else as_list(objects)
        if self.kind == "yaml":
            return to_yaml(data)
        if self.kind == "json":
            return to_json(data) + "\n"
        if self.kind in ("jsonpath", "jsonpath-as-json"):
            return render_jsonpath(self.arg, data, as_json=self.kind == "jsonpath-as-json")
        if self.kind == "custom-columns":
            return custom_columns(self.arg, objects)
        raise CliError(f"output format {self.kind} is not supported here")


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


def name_of(obj: dict[str, Any]) -> str:
    """``pod/web``, ``deployment.apps/web``: kubectl's ``-o name``."""
    api_version = obj.get("apiVersion") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    kind = (obj.get("kind") or "").lower()
    name = (obj.get("metadata") or {}).get("name", "")
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"


def render_jsonpath(template: str, data: Any, *, as_json: bool = False) -> str:
    from minik8s.cli import jsonpath  # local: only -o jsonpath and custom-columns need it

    try:
        parsed = jsonpath.parse(template)
    except jsonpath.JsonPathError as e:
        raise CliError(f"error parsing jsonpath {template}, {e}") from None
    try:
        return jsonpath.execute(parsed, data, allow_missing=True, as_json=as_json)
    except jsonpath.JsonPathError as e:
        raise CliError(f'error executing jsonpath "{template}": Error executing template: {e}. '
                       "Printing more information for debugging the template:\n"
                       f"\ttemplate was:\n\t\t{template}\n\tobject given to jsonpath engine was:\n\t\t"
                       f"{to_json(data, indent=None)}\n\n") from None


def custom_columns(spec: str, objects: list[dict[str, Any]], *, headers: bool = True) -> str:
    from minik8s.cli import jsonpath

    columns: list[tuple[str, list[Any]]] = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise CliError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
        expr = relaxed_jsonpath(path)
        try:
            columns.append((header, jsonpath.parse(expr)))
        except jsonpath.JsonPathError as e:
            raise CliError(f"error parsing jsonpath {expr}, {e}") from None
    lines = []
    if headers:
        lines.append("\t".join(h for h, _ in columns))
    for obj in objects:
        cells = []
        for _, parsed in columns:
            values = jsonpath.find(parsed, obj)
            cells.append(",".join(go_value(v) for v in values) if values else "<none>")
        lines.append("\t".join(cells))
    return tabwriter(lines)


def relaxed_jsonpath(path: str) -> str:
    """kubectl's ``RelaxedJSONPathExpression``: ``.a.b``, ``a.b`` and ``{.a.b}`` alike."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        return path
    if not path.startswith("."):
        path = "." + path
    return "{" + path + "}"
