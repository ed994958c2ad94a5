"""``mkctl patch``: change fields of live objects with a strategic merge, JSON merge or JSON
patch, as ``kubectl patch`` does.

The patch comes from ``-p`` or ``--patch-file``, in JSON or YAML (converted to JSON before it
is sent, as kubectl's ``yaml.ToJSON``); ``--type`` picks the Content-Type (strategic by
default); ``--subresource`` patches ``status`` or ``scale`` instead of the object. kubectl
reads the object first and compares it with what the PATCH answers, so an unchanged object is
reported ``patched (no change)``; the name printed is the answer's kind (``scale.autoscaling/web``
for the scale subresource).

``--dry-run=client``: kubectl applies the patch locally to the object it read. mkctl has the
patch algorithms only in the apiserver, so it asks the server to apply it without keeping it
(``dryRun=All``) — the same result, and still nothing is written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from minik8s.cli import common, printers
from minik8s.cli.scale import scale_targets
from minik8s.cli.session import CliError, Session, Subparsers

_CONTENT_TYPES = {"json": "application/json-patch+json", "merge": "application/merge-patch+json",
                  "strategic": "application/strategic-merge-patch+json"}

NO_RESOURCES = ("You must provide one or more resources by argument or filename.\n"
                "Example resource specifications include:\n"
                "   '-f rsrc.yaml'\n"
                "   '--filename=rsrc.json'\n"
                "   '<resource> <name>'\n"
                "   '<resource>'")


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("patch", parents=[common_flags], allow_abbrev=False,
                       help="Update fields of a resource")
    p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME)")
    p.add_argument("-p", "--patch", default=None, help="the patch, in JSON or YAML")
    p.add_argument("--patch-file", default=None, help="a file holding the patch")
    p.add_argument("--type", default="strategic", help="json, merge or strategic (the default)")
    p.add_argument("--subresource", default=None, help="patch this subresource (status, scale)")
    common.add_filename_flags(p)
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-patch")
    p.set_defaults(func=cmd_patch, selector=None, all=False)


def patch_body(text: str) -> str:
    """The patch as JSON text: YAML (a superset of JSON) becomes JSON; text that is not even
    YAML is sent as it is, for the server to refuse with its own message (as kubectl does)."""
    try:
        return json.dumps(json.loads(text), separators=(",", ":"))
    except ValueError:
        pass
    import yaml

    try:
        return json.dumps(yaml.safe_load(text), separators=(",", ":"))
    except (yaml.YAMLError, TypeError, ValueError):
        return text


def object_ref(obj: dict[str, Any]) -> str:
    """``deployment.apps/web`` from an object's own apiVersion and kind."""
    group = obj.get("apiVersion", "").rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    name = (obj.get("metadata") or {}).get("name", "")
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"


def print_result(obj: dict[str, Any], operation: str, output: str | None) -> None:
    """kubectl's name printer with ``operation`` (no dry-run suffix: patch prints none), or ``-o``."""
    if output:
        fmt = printers.OutputFormat(output)
        if fmt.kind == "name":
            print(object_ref(obj))
            return
        if not fmt.is_table:
            common.write_output(fmt.render([obj], single=True))
            return
    print(f"{object_ref(obj)} {operation}")


async def cmd_patch(session: Session, args: argparse.Namespace) -> int:
    if not args.patch and not args.patch_file:
        raise CliError("must specify --patch or --patch-file containing the contents of the patch")
    if args.patch and args.patch_file:
        raise CliError("cannot specify --patch and --patch-file together")
    if args.type not in _CONTENT_TYPES:
        raise CliError(f'--type must be one of [json merge strategic], not "{args.type}"')
    text = args.patch
    if args.patch_file:
        try:
            text = await asyncio.to_thread(_read, args.patch_file)
        except OSError as e:
            raise CliError(f"unable to read patch file: {e}") from None
    if not args.filename and not args.args:
        raise CliError(NO_RESOURCES)
    body = patch_body(text)
    for res, ns, name in await scale_targets(session, args):
        path = res.rt.path(ns, name, args.subresource)
        before = (await session.client.request("GET", path)).json()
        params = {"fieldManager": args.field_manager, "dryRun": "All" if args.dry_run != "none" else None}
        resp = await session.client.request("PATCH", path, params=params, content=body,
                                            headers={"Content-Type": _CONTENT_TYPES[args.type]})
        after = resp.json()
        print_result(after, "patched" if after != before else "patched (no change)", args.output)
    return 0


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()
