"""``mkctl scale``: set ``spec.replicas`` through the ``scale`` subresource, as kubectl does
(a merge patch ``{"spec":{"replicas":N}}``; ``--current-replicas`` first checks the Scale and
then writes with its resourceVersion so a concurrent change is a conflict, not a surprise)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minik8s import errors
from minik8s.cli import common
from minik8s.cli.get import resolve_targets
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, Session, Subparsers, format_error


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("scale", parents=[common_flags], allow_abbrev=False,
                       help="Set a new size for a deployment, replica set or replication controller")
    p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME)")
    p.add_argument("--replicas", type=int, default=-1, help="the new number of replicas")
    p.add_argument("--current-replicas", type=int, default=-1, help="only scale when this is the current size")
    p.add_argument("--resource-version", default="", help="only scale at this resourceVersion")
    common.add_filename_flags(p)
    common.add_selector_flag(p)
    p.add_argument("--all", action="store_true")
    common.add_output_flag(p)
    common.add_dry_run(p)
    p.set_defaults(func=cmd_scale, needs_loop=False)


async def scale_targets(session: Session, args: argparse.Namespace) -> list[tuple[Resource, str | None, str]]:
    """(resource, namespace, name) of every object a scale-like verb names."""
    out: list[tuple[Resource, str | None, str]] = []
    if args.filename:
        for m in await common.read_manifests(args):
            res, ns = await common.resolve_manifest(session, m)
            out.append((res, ns, m.name))
        return out
    if not args.args:
        raise CliError("You must provide one or more resources by argument or filename.")
    for res, names in (await resolve_targets(session, args.args))[0]:
        ns = session.namespace if res.rt.namespaced else None
        if names:
            out.extend((res, ns, n) for n in names)
        elif args.selector or args.all:
            doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector)
            out.extend((res, ns, i["metadata"]["name"]) for i in doc.get("items") or [])
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    return out


async def cmd_scale(session: Session, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise CliError("--replicas=COUNT is required, and COUNT must be greater than or equal to 0")
    targets = await scale_targets(session, args)
    if not targets:
        print("No resources found", file=sys.stderr)
        return 0
    failures = 0
    for res, ns, name in targets:
        if "scale" not in res.subresources:
            failures += 1
            print(format_error(CliError(f"cannot scale {res.rt.plural}.{res.rt.group}".rstrip(".")
                                        + f' "{name}": no scale subresource')), file=sys.stderr)
            continue
        try:
            await _scale_one(session, args, res, ns, name)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _scale_one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
    patch: dict[str, Any] = {"spec": {"replicas": args.replicas}}
    if args.current_replicas >= 0 or args.resource_version:
        scale = await session.client.get_subresource(res.rt, name, "scale", namespace=ns)
        current = (scale.get("spec") or {}).get("replicas", 0)
        if args.current_replicas >= 0 and current != args.current_replicas:
            raise CliError(f"Expected replicas to be {args.current_replicas}, was {current}")
        rv = args.resource_version or (scale.get("metadata") or {}).get("resourceVersion")
        if args.resource_version and (scale.get("metadata") or {}).get("resourceVersion") != rv:
            raise CliError(f"Expected resource version to be {rv}, was "
                           f"{(scale.get('metadata') or {}).get('resourceVersion')}")
        patch["metadata"] = {"resourceVersion": rv}
    if args.dry_run == "client":
        print(f"{common.object_ref(res, name)} scaled (dry run)")
        return
    params = {"dryRun": "All"} if args.dry_run == "server" else None
    await session.client.request("PATCH", res.rt.path(ns, name, "scale"), params=params, json=None,
                                 content=_dumps(patch), headers={"Content-Type": "application/merge-patch+json"})
    if args.output == "name":
        print(common.object_ref(res, name))
    else:
        print(f"{common.object_ref(res, name)} scaled{common.dry_run_suffix(args.dry_run)}")


def _dumps(v: Any) -> str:
    import json

    return json.dumps(v, separators=(",", ":"))
