"""``mkctl taint``: add, change and remove node taints, as ``kubectl taint`` does.

``mkctl taint nodes NAME... KEY[=VALUE]:EFFECT ... KEY[:EFFECT]-`` (or ``-l SEL`` / ``--all``
instead of names). Arguments with ``=``, ``:`` or a trailing ``-`` are taint changes and come
after the resources. Parsing, the order of the new list (added taints first, then the old ones
not replaced), the outcome word (``tainted``, ``untainted``, ``modified``) and every message
are kubectl's (``k8s.io/kubectl/pkg/cmd/taint``). The new list goes as a strategic merge patch
of ``spec.taints`` with ``fieldManager=kubectl-taint``; a node that would not change is an
error before anything is sent (the taint exists and ``--overwrite`` is false, or a taint to
remove is not there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors
from minik8s.cli import common
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, Session, Subparsers, format_error

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
              "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
              "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


@dataclasses.dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = ""

    def text(self) -> str:
        """Kubernetes' ``Taint.ToString``: ``key=value:effect``, parts left out when empty."""
        out = self.key if not self.value else f"{self.key}={self.value}"
        return f"{out}:{self.effect}" if self.effect else out

    def as_dict(self) -> dict[str, str]:
        d = {"effect": self.effect, "key": self.key}
        if self.value:
            d["value"] = self.value
        return d


class UsageError(CliError):
    """Raised for a bad taint spec: kubectl's message plus its help hint."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}\nSee 'mkctl taint -h' for help and examples")


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("taint", parents=[common_flags], allow_abbrev=False, help="Update the taints on one or more nodes")
    p.add_argument("args", nargs="*", metavar="NODE NAME KEY_1=VAL_1:TAINT_EFFECT_1 ... KEY_N-")
    p.add_argument("--overwrite", action="store_true", help="allow replacing a taint with the same key and effect")
    p.add_argument("--all", action="store_true", help="every node")
    common.add_selector_flag(p)
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-taint")
    p.set_defaults(func=cmd_taint)


def qualified_name_errors(key: str) -> list[str]:
    """``validation.IsQualifiedName``: an optional DNS-subdomain prefix, a name of 63 at most."""
    prefix, slash, name = key.rpartition("/")
    errs: list[str] = []
    if slash:
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not _SUBDOMAIN.match(prefix):
            errs.append(f"prefix part {_SUBDOMAIN_MSG}")
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _NAME.match(name):
        errs.append(_NAME_MSG)
    return errs


def parse_taint(spec: str) -> Taint:
    parts = spec.split(":")
    effect = ""
    if len(parts) == 2:
        effect = parts[1]
        if effect not in _EFFECTS:
            raise UsageError(f"invalid taint effect: {effect}, unsupported taint effect")
    elif len(parts) != 1:
        raise UsageError(f"invalid taint spec: {spec}")
    key, value = parts[0], ""
    if len(parts) == 2:
        kv = key.split("=")
        if len(kv) > 2:
            raise UsageError(f"invalid taint spec: {spec}")
        key = kv[0]
        if len(kv) == 2:
            value = kv[1]
            value_errs = (["must be no more than 63 characters"] if len(value) > 63 else []) + \
                ([] if _VALUE.match(value) else [_VALUE_MSG])
            if value_errs:
                raise UsageError(f"invalid taint spec: {spec}, {'; '.join(value_errs)}")
    errs = qualified_name_errors(key)
    if errs:
        raise UsageError(f"invalid taint spec: {spec}, {'; '.join(errs)}")
    return Taint(key, value, effect)


def parse_taints(specs: list[str]) -> tuple[list[Taint], list[Taint]]:
    """(taints to add, taints to remove), as kubectl's ``ParseTaints``."""
    add: list[Taint] = []
    remove: list[Taint] = []
    for spec in specs:
        if spec.endswith("-"):
            t = parse_taint(spec[:-1])
            remove.append(Taint(t.key, "", t.effect))
            continue
        t = parse_taint(spec)
        if not t.effect:
            raise UsageError(f"invalid taint spec: {spec}")
        if any(a.key == t.key and a.effect == t.effect for a in add):
            raise UsageError(f"duplicated taints with the same key and effect: {{{t.key} {t.value} {t.effect} <nil>}}")
        add.append(t)
    return add, remove


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(resource words, taint words): a taint word has ``=``, ``:`` or a trailing ``-``, and every
    resource comes before the first taint."""
    resources: list[str] = []
    taints: list[str] = []
    for a in args:
        if "=" in a or ":" in a or a.endswith("-"):
            taints.append(a)
        elif taints:
            raise CliError(f"all resources must be specified before taint changes: {a}")
        else:
            resources.append(a)
    return resources, taints


def reorganize(old: list[Taint], add: list[Taint], remove: list[Taint], overwrite: bool) -> tuple[str, list[Taint], list[str]]:
    """kubectl's ``reorganizeTaints``: (outcome word, the new list, errors). The added taints
    come first, then each old one no added taint replaces (same key and effect), minus those
    removed (by key and effect, or every effect when none is given)."""
    new = list(add)
    for t in old:
        if not any(n.key == t.key and n.effect == t.effect for n in new):
            new.append(t)
    added = len(old) != len(new)
    problems: list[str] = []
    deleted = False
    for r in remove:
        kept = [t for t in new if not (t.key == r.key and (not r.effect or t.effect == r.effect))]
        deleted = len(kept) != len(new)
        new = kept
        if not deleted:
            problems.append(f'taint "{r.text()}" not found')
    if (added and deleted) or overwrite:
        return "modified", new, problems
    if added:
        return "tainted", new, problems
    return "untainted", new, problems


async def cmd_taint(session: Session, args: argparse.Namespace) -> int:
    resources, taint_args = split_args(args.args)
    if not resources:
        raise CliError("one or more resources must be specified as <resource> <name>")
    if not taint_args:
        raise CliError("at least one taint update is required")
    add, remove = parse_taints(taint_args)
    if resources[0].lower() not in ("node", "nodes"):
        if "/" in resources[0]:
            raise CliError(f'the server doesn\'t have a resource type "{resources[0]}"', raw=True)
        raise CliError(f"invalid resource type {resources[0]}, only node types are supported")
    if len(resources) < 2 and not args.selector and not args.all:
        raise CliError("at least one resource name must be specified since 'all' parameter is not set")
    conflicts = [f"{r.key}={r.effect}" for a in add for r in remove
                 if a.key == r.key and (not r.effect or a.effect == r.effect)]
    if conflicts:
        raise CliError("can not both modify and remove the following taint(s) in the same command: "
                       + ", ".join(conflicts))
    res = await session.resolver.resolve("nodes")
    if args.selector or args.all:
        doc = await session.client.list_all(res.rt, label_selector=args.selector)
        nodes: list[typed.Node] = list(doc.get("items") or [])
    else:
        nodes = []
        for name in resources[1:]:
            # kubectl's builder takes TYPE/NAME among the names too (``taint node a node/b``)
            kind, slash, rest = name.partition("/")
            if slash and kind.lower() in ("node", "nodes", "no"):
                name = rest
            nodes.append(cast("typed.Node", await session.client.get(res.rt, name)))
    failures = 0
    for node in nodes:
        try:
            await _taint_node(session, args, res, node, add, remove)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _taint_node(session: Session, args: argparse.Namespace, res: Resource, node: typed.Node, add: list[Taint],
                      remove: list[Taint]) -> None:
    name = node["metadata"]["name"]
    old = [Taint(t.get("key", ""), t.get("value") or "", t.get("effect", "")) for t in
           (node.get("spec") or {}).get("taints") or []]
    if not args.overwrite:
        exists = [a.key for a in add for t in old if a.key == t.key and a.effect == t.effect]
        if exists:
            raise CliError(f"node {name} already has {','.join(exists)} taint(s) with same effect(s) and "
                           "--overwrite is false")
    outcome, new, problems = reorganize(old, add, remove, args.overwrite)
    if problems:
        raise CliError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    # the old entries keep every field they had (timeAdded of NoExecute taints)
    by_identity = {(t.get("key"), t.get("effect")): t for t in (node.get("spec") or {}).get("taints") or []}
    taints = [by_identity.get((t.key, t.effect)) if t in old else t.as_dict() for t in new]
    node_obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", **node}
    if args.dry_run == "client":
        node_obj.setdefault("spec", {})["taints"] = taints or None
        common.print_done(res, node_obj, outcome, output=args.output)
        return
    patch = {"spec": {"taints": taints or None}}
    params = {"fieldManager": args.field_manager, "dryRun": "All" if args.dry_run == "server" else None}
    resp = await session.client.request("PATCH", res.rt.path(None, name), params=params,
                                        content=json.dumps(patch, separators=(",", ":")),
                                        headers={"Content-Type": "application/strategic-merge-patch+json"})
    common.print_done(res, {"apiVersion": "v1", "kind": "Node", **resp.json()}, outcome, output=args.output)
