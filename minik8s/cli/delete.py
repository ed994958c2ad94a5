"""``mkctl delete``: by file, by ``TYPE NAME...``/``TYPE/NAME``, by ``-l`` selector or
``--all``, then (``--wait``, the default) until each deleted object is really gone.

As kubectl: the body carries ``propagationPolicy`` from ``--cascade`` (background by default)
and ``gracePeriodSeconds`` from ``--grace-period``/``--now``/``--force``; each delete prints
``pod "web" deleted``; a missing object is reported at the end with exit status 1 unless
``--ignore-not-found``; a selector that matches nothing says ``No resources found``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

from minik8s import errors
from minik8s.cli import common
from minik8s.cli.get import resolve_targets
from minik8s.cli.resources import Resource, kind_group
from minik8s.cli.session import CliError, Session, Subparsers, format_error, parse_duration, source_error, warn

_CASCADE = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan",
            "true": "Background", "false": "Orphan"}


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("delete", parents=[common_flags], help="Delete resources by file names, stdin, resources "
                       "and names, or by resources and label selector", allow_abbrev=False)
    p.add_argument("args", nargs="*", metavar="TYPE [NAME...] | TYPE/NAME")
    common.add_filename_flags(p, what="to delete ")
    common.add_selector_flag(p)
    p.add_argument("--field-selector", default=None)
    p.add_argument("--all", action="store_true", help="every object of the given types in the namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--cascade", default="background", choices=tuple(_CASCADE),
                   help="background (default), foreground or orphan: what happens to dependents")
    p.add_argument("--grace-period", type=int, default=-1, help="seconds to terminate gracefully (-1: the object's)")
    p.add_argument("--now", action="store_true", help="grace period 1: delete at once")
    p.add_argument("--force", action="store_true", help="with --grace-period=0: do not wait for the kubelet")
    p.add_argument("--wait", default="true", nargs="?", const="true", choices=("true", "false"),
                   help="wait until the objects are gone")
    p.add_argument("--timeout", default="0", help="how long to wait (0: a week)")
    p.add_argument("--ignore-not-found", action="store_true")
    common.add_output_flag(p)
    common.add_dry_run(p)
    p.set_defaults(func=cmd_delete)


async def cmd_delete(session: Session, args: argparse.Namespace) -> int:
    grace: int | None = args.grace_period if args.grace_period >= 0 else None
    if args.now:
        if args.grace_period >= 0:
            raise CliError("--now and --grace-period cannot be specified together")
        grace = 1
    if args.force and grace is None:
        grace = 0
    if grace == 0 and not args.force:
        # kubectl: a zero grace period without --force means "as fast as possible", i.e. 1
        grace = 1
    if args.cascade in ("true", "false"):
        warn(f"--cascade={args.cascade} is deprecated (boolean value) and can be replaced with "
             f"--cascade={'background' if args.cascade == 'true' else 'orphan'}.")
    if grace == 0 and args.force:
        warn("Immediate deletion does not wait for confirmation that the running resource has been terminated. "
             "The resource may continue to run on the cluster indefinitely.")
    policy = _CASCADE[args.cascade]
    targets: list[tuple[Resource, str | None, str, str]] = []  # resource, namespace, name, source
    failures: list[BaseException] = []
    if args.filename:
        if args.args:
            raise CliError("when paths, URLs, or stdin is provided as input, you may not specify resource "
                           "arguments as well")
        for m in await common.read_manifests(args):
            res, namespace = await common.resolve_manifest(session, m)
            targets.append((res, namespace, m.name, m.source))
    else:
        if not args.args:
            raise CliError("You must provide one or more resources by argument or filename.\nExample resource "
                           "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   "
                           "'<resource> <name>'\n   '<resource>'", raw=False)
        resolved, _ = await resolve_targets(session, args.args)
        by_selection = args.selector or args.all or args.field_selector
        for res, names in resolved:
            if names and by_selection:
                raise CliError("name cannot be provided when a selector is specified")
            if not names and not by_selection:
                raise CliError("resource(s) were provided, but no name was specified")
            namespace = None if args.all_namespaces else session.namespace
            ns = namespace if res.rt.namespaced else None
            if names:
                targets.extend((res, ns, n, "") for n in names)
                continue
            doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector,
                                                field_selector=args.field_selector)
            for item in doc.get("items") or []:
                meta = item.get("metadata") or {}
                targets.append((res, meta.get("namespace") if res.rt.namespaced else None, meta["name"], ""))
    deleted: list[tuple[Resource, str | None, str, str | None]] = []
    for res, namespace, name, source in targets:
        try:
            uid = await _delete_one(session, args, res, namespace, name, grace, policy)
        except errors.NotFound as e:
            if not args.ignore_not_found:
                failures.append(source_error("deleting", source, e) if source else e)
            continue
        except errors.ApiError as e:
            failures.append(source_error("deleting", source, e) if source else e)
            continue
        deleted.append((res, namespace, name, uid))
    if not targets and not failures:
        print("No resources found")  # kubectl delete says it on stdout
    if args.wait == "true" and args.dry_run == "none" and deleted and not (grace == 0 and args.force):
        timeout = parse_duration(args.timeout) or 7 * 24 * 3600.0
        deadline = time.monotonic() + timeout
        for res, namespace, name, uid in deleted:
            remaining = deadline - time.monotonic()
            if not await wait_deleted(session, res, namespace, name, uid=uid, timeout=max(remaining, 0.0)):
                failures.append(CliError(f'timed out waiting for the condition on {res.rt.plural}/{name}'))
                break
    for failure in failures:
        print(format_error(failure, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _delete_one(session: Session, args: argparse.Namespace, res: Resource, namespace: str | None, name: str,
                      grace: int | None, policy: str) -> str | None:
    body: dict[str, Any] = {"propagationPolicy": policy}
    if grace is not None:
        body["gracePeriodSeconds"] = grace
    ref = f'{kind_group(res.rt)} "{name}"'
    if args.dry_run == "client":
        await session.client.get(res.rt, name, namespace=namespace)  # a missing object is still an error
        _print(args, res, name, f"{ref} deleted (dry run)")
        return None
    params = {"dryRun": "All"} if args.dry_run == "server" else None
    resp = await session.client.request("DELETE", res.rt.path(namespace, name), params=params, json=body)
    answer = resp.json() if resp.content else {}
    uid = (answer.get("metadata") or {}).get("uid") if answer.get("kind") != "Status" else \
        (answer.get("details") or {}).get("uid")
    suffix = " (server dry run)" if args.dry_run == "server" else ""
    verb = "force deleted" if grace == 0 and args.force else "deleted"
    _print(args, res, name, f"{ref} {verb}{suffix}")
    return uid


def _print(args: argparse.Namespace, res: Resource, name: str, line: str) -> None:
    if args.output == "name":
        print(common.object_ref(res, name))
    else:
        print(line)
    sys.stdout.flush()


async def wait_deleted(session: Session, res: Resource, namespace: str | None, name: str, *, uid: str | None,
                       timeout: float | None) -> bool:
    """True once ``name`` (with ``uid``, when known) no longer exists; False on timeout."""
    async def gone() -> bool:
        while True:
            try:
                obj = await session.client.get(res.rt, name, namespace=namespace)
            except errors.NotFound:
                return True
            meta = obj.get("metadata") or {}
            if uid and meta.get("uid") != uid:
                return True
            # Watch from what we saw; the stream ends on DELETED (or at the server's timeout: look again).
            stream = session.client.watch(res.rt, namespace=namespace, resource_version=meta.get("resourceVersion"),
                                          field_selector=f"metadata.name={name}", timeout_seconds=60)
            with contextlib.suppress(errors.Gone, errors.ConnectionFailed):
                async with contextlib.aclosing(stream):
                    async for event in stream:
                        if event.type == "DELETED":
                            return True

    try:
        return await asyncio.wait_for(gone(), timeout)
    except TimeoutError:
        return False
