"""``mkctl get``: tables from the server, or objects printed as yaml/json/name/jsonpath/
custom-columns; ``-w`` lists, then watches with the same Table Accept kubectl sends.

Argument shapes and messages are kubectl's: ``TYPE[,TYPE] [NAME...]``, ``TYPE/NAME...``,
``all``; ``No resources found in default namespace.`` on stderr when nothing matched; a
missing name is ``Error from server (NotFound): pods "nope" not found`` and exit status 1,
printed after whatever else was found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from minik8s import errors
from minik8s.cli import common, printers
from minik8s.cli.resources import Resource, kind_group, split_type_name_args
from minik8s.cli.session import CliError, Session, Subparsers, format_error, parse_duration


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("get", parents=[common_flags], help="Display one or many resources", allow_abbrev=False)
    p.add_argument("args", nargs="*", metavar="TYPE[.GROUP][,TYPE] [NAME...] | TYPE/NAME")
    common.add_output_flag(p)
    common.add_selector_flag(p)
    common.add_filename_flags(p)
    p.add_argument("--field-selector", default=None, help="e.g. --field-selector status.phase=Running")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")
    p.add_argument("--watch-only", action="store_true", help="watch for changes without listing first")
    p.add_argument("--show-labels", action="store_true", help="show every label as the last column")
    p.add_argument("-L", "--label-columns", action="extend", type=common.comma_list, default=[],
                   help="a column per label key (-L app,tier or -L app -L tier)")
    p.add_argument("--no-headers", action="store_true", help="no header row")
    p.add_argument("--raw", default=None, help="GET this server path and print the body as it comes")
    p.add_argument("--ignore-not-found", action="store_true", help="a missing object is not an error")
    p.add_argument("--chunk-size", type=int, default=500, help="list page size")
    p.add_argument("--show-managed-fields", action="store_true", help="keep metadata.managedFields in -o yaml|json")
    p.add_argument("--output-watch-events", action="store_true", help="show the watch event type")
    p.add_argument("--sort-by", default="", help="sort by this field (a JSONPath, e.g. .metadata.name)")
    p.set_defaults(func=cmd_get, needs_loop=watching)


def watching(args: argparse.Namespace) -> bool:
    """``-w``/``--watch-only`` stream under ``asyncio.timeout``: only they need the event loop."""
    return bool(args.watch or args.watch_only)


_REQUIRED = ("You must specify the type of resource to get. Use \"mkctl api-resources\" for a complete list "
             "of supported resources.\n\nerror: Required resource not specified.\nUse \"mkctl explain "
             "<resource>\" for a detailed description of that resource (e.g. mkctl explain pods).\n"
             "See 'mkctl get -h' for help and examples")


async def resolve_targets(session: Session, args_list: list[str]) -> tuple[list[tuple[Resource, list[str]]], bool]:
    """[(resource, names)] in the order given, and whether several types were asked for."""
    types, pairs, names = split_type_name_args(args_list)
    targets: list[tuple[Resource, list[str]]] = []
    if pairs:
        for t, n in pairs:
            res = await session.resolver.resolve(t)
            for existing, ns in targets:
                if existing.rt == res.rt:
                    ns.append(n)
                    break
            else:
                targets.append((res, [n]))
        multi = len({r.rt for r, _ in targets}) > 1
        return targets, multi
    multi = len(types) > 1 or "all" in types
    for t in types:
        if t == "all":
            for res in await session.resolver.in_category("all"):
                targets.append((res, list(names)))
            continue
        res = await session.resolver.resolve(t)
        targets.append((res, list(names)))
    return targets, multi


async def cmd_get(session: Session, args: argparse.Namespace) -> int:
    if args.raw is not None:
        from minik8s.cli import raw  # local: only --raw needs it

        return await raw.cmd_raw(session, args)
    fmt = printers.OutputFormat(args.output)
    manifest_namespaces: set[str] = set()
    if args.filename:
        targets = []
        for m in await common.read_manifests(args):
            res, ns = await common.resolve_manifest(session, m)
            targets.append((res, [m.name]))
            if ns:
                manifest_namespaces.add(ns)
        multi = len({r.rt for r, _ in targets}) > 1
        single = len(targets) == 1
    else:
        if not args.args:
            raise CliError(_REQUIRED, raw=True)
        targets, multi = await resolve_targets(session, args.args)
        single = len(targets) == 1 and len(targets[0][1]) == 1 and not multi
    if args.selector and any(names for _, names in targets) and not args.filename:
        raise CliError("name cannot be provided when a selector is specified")
    namespace = None if args.all_namespaces else session.namespace
    if len(manifest_namespaces) == 1 and not args.all_namespaces:
        # objects read from files are looked up in the namespace they name, as kubectl does
        # (manifests spread over several namespaces are still looked up in the session's)
        namespace = manifest_namespaces.pop()
    if args.all_namespaces and any(names for _, names in targets) and not args.filename:
        raise CliError("a resource cannot be retrieved by name across all namespaces")
    if args.watch or args.watch_only:
        if args.sort_by:
            print("warning: --watch or --watch-only requested, --sort-by will be ignored", file=sys.stderr)
        if len(targets) != 1:
            raise CliError("you may only specify a single resource type")
        return await _watch(session, args, fmt, targets[0][0], targets[0][1], namespace)
    if fmt.is_table:
        return await _print_tables(session, args, fmt, targets, multi, namespace)
    return await _print_objects(session, args, fmt, targets, single, namespace)


def _list_params(args: argparse.Namespace) -> dict[str, Any]:
    return {"labelSelector": args.selector or None, "fieldSelector": args.field_selector or None,
            "limit": args.chunk_size or None}


async def _print_tables(session: Session, args: argparse.Namespace, fmt: printers.OutputFormat,
                        targets: list[tuple[Resource, list[str]]], multi: bool, namespace: str | None) -> int:
    failures: list[BaseException] = []
    blocks: list[str] = []
    # --sort-by needs each row's whole object, and the whole list in one piece (kubectl's chunkSize=0)
    sorting = {"includeObject": "Object", "limit": None} if args.sort_by else {}
    fetched: list[dict[str, Any]] = []
    for res, names in targets:
        ns = namespace if res.rt.namespaced else None
        table: dict[str, Any] | None = None
        if names:
            for name in names:
                try:
                    one = await common.get_table(session, res, namespace=ns or session.namespace, name=name,
                                                 params=sorting or None)
                except errors.NotFound as e:
                    if not args.ignore_not_found:
                        failures.append(e)
                    continue
                fetched.append(one)
                if table is None:
                    table = dict(one, rows=list(one.get("rows") or []))
                else:
                    table["rows"].extend(one.get("rows") or [])
        else:
            table = await _list_table(session, res, ns, {**_list_params(args), **sorting})
            fetched.append(table)
        if not table or not table.get("rows"):
            continue
        if args.sort_by:
            from minik8s.cli import sortby  # local: only --sort-by needs it

            if not sortby.sort_table_quietly(table, args.sort_by):
                continue
        lines = printers.table_lines(
            table, wide=fmt.kind == "wide", with_namespace=args.all_namespaces and res.rt.namespaced,
            show_labels=args.show_labels, kind_prefix=kind_group(res.rt) if multi else None,
            headers=not args.no_headers, label_columns=args.label_columns)
        blocks.append(printers.tabwriter(lines))
    if args.sort_by and len(fetched) > 1:
        from minik8s.cli import sortby  # local: only --sort-by needs it

        sortby.sort_objects(fetched, args.sort_by)  # kubectl sorts what it fetched first: errors end here
    sys.stdout.write("\n".join(blocks))
    sys.stdout.flush()
    for failure in failures:
        print(format_error(failure), file=sys.stderr)
    if not blocks and not failures and not args.ignore_not_found:
        all_namespaced = not args.all_namespaces and all(r.rt.namespaced for r, _ in targets)
        if all_namespaced:
            print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
        else:
            print("No resources found", file=sys.stderr)
    return 1 if failures else 0


async def _list_table(session: Session, res: Resource, namespace: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """The whole list as one Table, following ``continue`` tokens as kubectl does."""
    table = await common.get_table(session, res, namespace=namespace, params=params)
    token = (table.get("metadata") or {}).get("continue")
    while token:
        page = await common.get_table(session, res, namespace=namespace, params={**params, "continue": token})
        table.setdefault("rows", []).extend(page.get("rows") or [])
        token = (page.get("metadata") or {}).get("continue")
    return table


async def _print_objects(session: Session, args: argparse.Namespace, fmt: printers.OutputFormat,
                         targets: list[tuple[Resource, list[str]]], single: bool, namespace: str | None) -> int:
    failures: list[BaseException] = []
    objects: list[dict[str, Any]] = []
    for res, names in targets:
        ns = namespace if res.rt.namespaced else None
        if names:
            for name in names:
                try:
                    obj = await session.client.get(res.rt, name, namespace=ns or session.namespace)
                except errors.NotFound as e:
                    if not args.ignore_not_found:
                        failures.append(e)
                    continue
                objects.append({"apiVersion": res.rt.api_version, "kind": res.rt.kind, **obj})
        else:
            doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector,
                                                field_selector=args.field_selector, limit=args.chunk_size or None)
            objects.extend(common.full_objects(doc, res))
    if args.sort_by and not single:
        from minik8s.cli import sortby  # local: only --sort-by needs it

        objects = sortby.sort_objects(objects, args.sort_by)
    if objects or not single:
        if fmt.kind == "custom-columns":
            if objects:
                sys.stdout.write(printers.custom_columns(fmt.arg, objects, headers=not args.no_headers))
        else:
            sys.stdout.write(fmt.render(objects, single=single and len(objects) == 1,
                                        show_managed_fields=args.show_managed_fields))
    sys.stdout.flush()
    for failure in failures:
        print(format_error(failure), file=sys.stderr)
    if not objects and not failures and fmt.kind in ("custom-columns",) and not args.ignore_not_found:
        print(f"No resources found in {session.namespace} namespace." if namespace else "No resources found",
              file=sys.stderr)
    return 1 if failures else 0


async def _watch(session: Session, args: argparse.Namespace, fmt: printers.OutputFormat, res: Resource,
                 names: list[str], namespace: str | None) -> int:
    ns = namespace if res.rt.namespaced else None
    params = _list_params(args)
    if len(names) > 1:
        raise CliError("watch is only supported on individual resources and resource collections, but "
                       f"{len(names)} resources were found")
    if names:
        params["fieldSelector"] = f"metadata.name={names[0]}"
        ns = ns or (session.namespace if res.rt.namespaced else None)
    wide = fmt.kind == "wide"
    with_ns = args.all_namespaces and res.rt.namespaced
    headers_printed = args.no_headers
    columns: list[Any] | None = None
    if fmt.is_table:
        table = await _list_table(session, res, ns, params)
        columns = table.get("columnDefinitions")
        rv = (table.get("metadata") or {}).get("resourceVersion")
        if not args.watch_only and table.get("rows"):
            lines = printers.table_lines(table, wide=wide, with_namespace=with_ns, show_labels=args.show_labels,
                                         headers=not args.no_headers, label_columns=args.label_columns)
            _emit(printers.tabwriter(lines))
            headers_printed = True
        elif not args.watch_only and not table.get("rows"):
            print(f"No resources found in {session.namespace} namespace." if ns else "No resources found",
                  file=sys.stderr)
    else:
        doc = await session.client.list_all(res.rt, namespace=ns, label_selector=params["labelSelector"],
                                            field_selector=params["fieldSelector"])
        rv = (doc.get("metadata") or {}).get("resourceVersion")
        if not args.watch_only:
            for obj in common.full_objects(doc, res):
                _emit(_render_one(fmt, obj))
    accept = printers.TABLE_ACCEPT if fmt.is_table else "application/json"
    watch_params = {"watch": "true", "resourceVersion": rv, "labelSelector": params["labelSelector"],
                    "fieldSelector": params["fieldSelector"]}
    # --request-timeout bounds the whole watch request, body included, as Go's http.Client.Timeout
    # does for kubectl: when it runs out the stream ends and kubectl exits 0 without a message.
    limit = parse_duration(getattr(args, "request_timeout", None))
    import asyncio  # local: only a watch runs on the event loop

    try:
        async with asyncio.timeout(limit):
            await _stream_watch(session, args, fmt, res, ns, watch_params, accept, columns, headers_printed,
                                wide, with_ns)
    except TimeoutError:
        pass
    return 0


async def _stream_watch(session: Session, args: argparse.Namespace, fmt: printers.OutputFormat, res: Resource,
                        ns: str | None, watch_params: dict[str, Any], accept: str, columns: list[Any] | None,
                        headers_printed: bool, wide: bool, with_ns: bool) -> None:
    """Print the watch's events as they come (tables share the listing's columns)."""
    resp = await session.client.request("GET", res.rt.path(ns), params=watch_params, headers={"Accept": accept},
                                        stream=True, timeout=None)
    try:
        buf = b""
        async for chunk in resp.aiter_bytes():
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                event = json.loads(line)
                etype, obj = event.get("type"), event.get("object") or {}
                if etype == "ERROR":
                    raise errors.ApiError.from_status(obj)
                if etype == "BOOKMARK":
                    continue
                if fmt.is_table:
                    if obj.get("kind") != "Table":
                        obj = printers.list_as_table([obj])
                    if obj.get("columnDefinitions"):
                        columns = obj["columnDefinitions"]
                    table = {"columnDefinitions": columns or [], "rows": obj.get("rows") or []}
                    lines = printers.table_lines(table, wide=wide, with_namespace=with_ns,
                                                 show_labels=args.show_labels, headers=not headers_printed,
                                                 label_columns=args.label_columns)
                    if args.output_watch_events:
                        lines = [("EVENT\t" if i == 0 and not headers_printed else f"{etype}\t") + line
                                 for i, line in enumerate(lines)]
                    headers_printed = True
                    _emit(printers.tabwriter(lines))
                else:
                    _emit(_render_one(fmt, {"apiVersion": res.rt.api_version, "kind": res.rt.kind, **obj}))
    finally:
        with contextlib.suppress(Exception):
            await resp.aclose()


def _render_one(fmt: printers.OutputFormat, obj: dict[str, Any], show_managed_fields: bool = False) -> str:
    text = fmt.render([obj], single=True, show_managed_fields=show_managed_fields)
    if fmt.kind == "yaml":
        text = "---\n" + text
    return text


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
