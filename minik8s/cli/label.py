"""``mkctl label`` and ``mkctl annotate``: ``key=value`` sets, ``key-`` removes,
``--overwrite`` allows changing a value; the change goes as a JSON merge patch of
``metadata.labels``/``metadata.annotations`` with ``fieldManager=kubectl-label`` (or
``kubectl-annotate``), as kubectl sends it. Messages are kubectl's: ``labeled``,
``unlabeled``, ``not labeled``, ``annotated``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from minik8s import errors
from minik8s.cli import common
from minik8s.cli.resources import Resource
from minik8s.cli.scale import scale_targets
from minik8s.cli.session import CliError, Session, Subparsers, format_error

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    for verb, what in (("label", "labels"), ("annotate", "annotations")):
        p = sub.add_parser(verb, parents=[common_flags], allow_abbrev=False, help=f"Update the {what} on a resource")
        p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME) KEY=VAL... KEY-...")
        p.add_argument("--overwrite", action="store_true", help="allow changing an existing value")
        p.add_argument("--list", action="store_true", help=f"print the {what} instead of changing them")
        p.add_argument("--resource-version", default="", help="only change the object at this resourceVersion")
        p.add_argument("--all", action="store_true")
        common.add_filename_flags(p)
        common.add_selector_flag(p)
        common.add_output_flag(p)
        common.add_dry_run(p)
        common.add_field_manager(p, f"kubectl-{verb}")
        p.set_defaults(func=cmd_label, field=what, verb_name=verb, needs_loop=False)


def split_changes(args: list[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(resource args, key=value sets, keys to remove): kubectl takes every argument with ``=``
    or ending in ``-`` as a change."""
    resources, sets, removes = [], {}, []
    for a in args:
        if "=" in a:
            k, _, v = a.partition("=")
            sets[k] = v
        elif a.endswith("-") and len(a) > 1:
            removes.append(a[:-1])
        else:
            resources.append(a)
    return resources, sets, removes


def validate_label(key: str, value: str | None, spec: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if not _NAME.match(name) or len(name) > 63 or (slash and (not _DNS_SUBDOMAIN.match(prefix) or len(prefix) > 253)):
        raise CliError(f'invalid label spec: {spec}')
    if value is not None and (not _VALUE.match(value) or len(value) > 63):
        raise CliError(f'invalid label value: "{spec}": a valid label must be an empty string or consist of '
                       "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                       "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                       "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def map_merge_patch(before: dict[str, str], after: dict[str, str]) -> dict[str, str | None]:
    """The merge patch of one string map: changed and new keys, removed ones as null."""
    patch: dict[str, str | None] = {k: v for k, v in after.items() if before.get(k) != v}
    patch.update({k: None for k in before if k not in after})
    return patch


async def cmd_label(session: Session, args: argparse.Namespace) -> int:
    is_label = args.verb_name == "label"
    resource_args, sets, removes = split_changes(args.args)
    if not sets and not removes and not args.list:
        raise CliError(f"at least one {'label' if is_label else 'annotation'} update is required")
    if is_label:
        for k, v in sets.items():
            validate_label(k, v, f"{k}={v}")
        for k in removes:
            validate_label(k, None, f"{k}-")
    args.args = resource_args
    failures = 0
    for res, ns, name in await scale_targets(session, args):
        try:
            await _one(session, args, res, ns, name, sets, removes, is_label)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str,
               sets: dict[str, str], removes: list[str], is_label: bool) -> None:
    obj = await session.client.get(res.rt, name, namespace=ns)
    meta = obj.get("metadata") or {}
    before = dict(meta.get(args.field) or {})
    if args.list:
        for k in sorted(before):
            print(f"{k}={before[k]}")
        return
    after = dict(before)
    if not args.overwrite:
        for k, v in sets.items():
            if k in before and before[k] != v:
                raise CliError(f"'{k}' already has a value ({before[k]}), and --overwrite is false")
    for k in removes:
        if k in after:
            del after[k]
        elif is_label:
            print(f'label "{k}" not found.')
    after.update(sets)
    patch: dict[str, Any] = {"metadata": {args.field: map_merge_patch(before, after)}}
    if args.resource_version:
        patch["metadata"]["resourceVersion"] = args.resource_version
    if is_label:
        if before == after:
            verb = "not labeled"
        elif not sets and removes:
            verb = "unlabeled"
        else:
            verb = "labeled"
    else:
        verb = "annotated"
    if before == after and not args.resource_version:
        common.print_done(res, obj, verb, output=args.output, dry_run=args.dry_run)
        return
    if args.dry_run == "client":
        meta[args.field] = after
        common.print_done(res, obj, verb, output=args.output, dry_run="client")
        return
    params = {"fieldManager": args.field_manager, "dryRun": "All" if args.dry_run == "server" else None}
    resp = await session.client.request("PATCH", res.rt.path(ns, name), params=params,
                                        content=json.dumps(patch, separators=(",", ":")),
                                        headers={"Content-Type": "application/merge-patch+json"})
    common.print_done(res, resp.json(), verb, output=args.output, dry_run=args.dry_run)
