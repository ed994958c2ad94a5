"""``mkctl explain TYPE[.FIELD...]``: a resource's documentation from the server's
``/openapi/v3`` (the group-version document whose schema carries the kind's
``x-kubernetes-group-version-kind``), laid out as kubectl 1.32's plaintext explain."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from minik8s.cli.session import CliError, Session, Subparsers

_WIDTH = 80


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("explain", parents=[common_flags], help="Get documentation for a resource",
                       allow_abbrev=False)
    p.add_argument("path", metavar="TYPE[.FIELD...]")
    p.add_argument("--recursive", action="store_true", help="every field, without descriptions")
    p.add_argument("--api-version", default="")
    p.set_defaults(func=cmd_explain, needs_loop=False)


class _Schemas:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.schemas: dict[str, dict[str, Any]] = (doc.get("components") or {}).get("schemas") or {}

    def deref(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The schema behind a ``$ref`` (also inside ``allOf``), and the referenced name."""
        ref = schema.get("$ref")
        if not ref and len(schema.get("allOf") or []) == 1:
            ref = schema["allOf"][0].get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return self.schemas.get(name, {}), name
        return schema, None

    def type_name(self, schema: dict[str, Any]) -> str:
        target, ref = self.deref(schema)
        if ref:
            return ref.rsplit(".", 1)[-1]
        t = schema.get("type")
        if t == "array":
            return "[]" + self.type_name(schema.get("items") or {})
        if t == "object" and isinstance(schema.get("additionalProperties"), dict):
            return "map[string]" + self.type_name(schema["additionalProperties"])
        if t == "object" and not schema.get("properties"):
            return "Object"
        if schema.get("x-kubernetes-int-or-string"):
            return "IntOrString"
        return t or "Object"


def _wrap(text: str, indent: int) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        if not para.strip():
            out.append(" " * indent)
            continue
        out.extend(textwrap.wrap(para, width=_WIDTH - indent, break_long_words=False, break_on_hyphens=False)
                   or [""])
    return [(" " * indent + line) if line.strip() else line for line in out]


async def cmd_explain(session: Session, args: argparse.Namespace) -> int:
    type_part, *fields = args.path.split(".")
    res = await session.resolver.find(type_part)
    if res is None:
        raise CliError(f'the server doesn\'t have a resource type "{type_part}"', raw=True)
    rt = res.rt
    if args.api_version:
        group, _, version = args.api_version.rpartition("/")
        if group != rt.group:
            raise CliError(f"couldn't find resource for \"{args.api_version}, Kind={rt.kind}\"")
        rt = type(rt)(rt.group, version, rt.kind, rt.plural, rt.namespaced, rt.short_names, rt.categories,
                      rt.singular)
    root = (await session.client.request("GET", "/openapi/v3")).json()
    key = f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"
    entry = (root.get("paths") or {}).get(key)
    if entry is None:
        raise CliError(f"couldn't find resource for \"{rt.group_version}, Kind={rt.kind}\"")
    doc = (await session.client.request("GET", entry["serverRelativeURL"])).json()
    schemas = _Schemas(doc)
    top = None
    for schema in schemas.schemas.values():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if gvk.get("group", "") == rt.group and gvk.get("version") == rt.version and gvk.get("kind") == rt.kind:
                top = schema
    if top is None:
        raise CliError(f"couldn't find resource for \"{rt.group_version}, Kind={rt.kind}\"")
    lines: list[str] = []
    if rt.group:
        lines.append(f"GROUP:      {rt.group}")
    lines.append(f"KIND:       {rt.kind}")
    lines.append(f"VERSION:    {rt.version}")
    lines.append("")
    current, field_schema, name = top, None, ""
    for f in fields:
        target, _ = schemas.deref(current)
        while target.get("type") == "array":
            target, _ = schemas.deref(target.get("items") or {})
        props = target.get("properties") or {}
        if f not in props:
            sys.stdout.write("\n".join(lines) + "\n")  # kubectl has printed the header by then
            raise CliError(f'field "{f}" does not exist')
        field_schema, name = props[f], f
        current = field_schema
    if field_schema is not None:
        lines.append(f"FIELD: {name} <{schemas.type_name(field_schema)}>")
        lines.append("")
        lines.append("")
        target, _ = schemas.deref(field_schema)
        description = field_schema.get("description") or target.get("description") or ""
    else:
        target, _ = schemas.deref(top)
        description = top.get("description") or ""
    lines.append("DESCRIPTION:")
    lines.extend(_wrap(description, 4) if description else ["    <empty>"])
    body, _ = schemas.deref(current)
    while body.get("type") == "array":
        body, _ = schemas.deref(body.get("items") or {})
    props = body.get("properties") or {}
    if props:
        lines.append("FIELDS:")
        required = set(body.get("required") or [])
        if args.recursive:
            _recursive(schemas, body, 1, lines, set())
        else:
            for fname in sorted(props):
                prop = props[fname]
                suffix = " -required-" if fname in required else ""
                lines.append(f"  {fname}\t<{schemas.type_name(prop)}>{suffix}")
                enum = prop.get("enum")
                if enum:
                    lines.append("  enum: " + ", ".join(str(e) for e in enum))
                ptarget, _ = schemas.deref(prop)
                pdesc = prop.get("description") or ""
                lines.extend(_wrap(pdesc, 4) if pdesc else ["    <no description>"])
                lines.append("")
    lines.append("")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _recursive(schemas: _Schemas, body: dict[str, Any], level: int, lines: list[str], seen: set[str]) -> None:
    props = body.get("properties") or {}
    required = set(body.get("required") or [])
    for fname in sorted(props):
        prop = props[fname]
        suffix = " -required-" if fname in required else ""
        lines.append(f"{'  ' * level}{fname}\t<{schemas.type_name(prop)}>{suffix}")
        target, ref = schemas.deref(prop)
        while target.get("type") == "array":
            target, ref = schemas.deref(target.get("items") or {})
        if ref and ref in seen:
            continue
        if target.get("properties"):
            _recursive(schemas, target, level + 1, lines, seen | ({ref} if ref else set()))
