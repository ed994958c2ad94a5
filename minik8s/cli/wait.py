"""``mkctl wait``: block until objects meet a condition, as ``kubectl wait`` does.

``--for`` is one of ``delete``, ``create``, ``condition=NAME[=VALUE]`` (a ``status.conditions``
entry of that type with that status, ``True`` by default, both compared case-insensitively, and
not older than the object's generation) or ``jsonpath={PATH}[=VALUE]`` (the one value the path
finds, printed as Go prints it, equal to VALUE; without a value, that the path finds anything).

Objects are named (``TYPE NAME...``, ``TYPE/NAME``, ``-f``) or selected (``-l``, ``--all``,
``-A``); selected objects are listed once, and each is then waited for. Each wait reads the
object and then follows a watch from its resourceVersion (``fieldSelector=metadata.name=X``):
no polling. ``--timeout`` (30s by default, 0 to check once, negative for a week) bounds the whole
command. Messages are kubectl's: ``pod/web condition met``; ``timed out waiting for the
condition on pods/web`` (exit 1); ``condition not met for pods/web`` (``--timeout=0``); ``no
matching resources found``; an object to delete that is already gone is met without a word.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from minik8s import errors
from minik8s.cli import common, printers
from minik8s.cli.patch import NO_RESOURCES
from minik8s.cli.resources import Resource, kind_group
from minik8s.cli.session import CliError, Session, Subparsers, parse_duration

_WEEK_S = 7 * 24 * 3600.0
_JSONPATH_FORMAT = ("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or "
                    "--for=jsonpath='{.status.readyReplicas}'")


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("wait", parents=[common_flags], allow_abbrev=False,
                       help="Experimental: Wait for a specific condition on one or many resources")
    p.add_argument("args", nargs="*", metavar="([-f FILENAME] | resource.group/resource.name | resource.group "
                                              "[(-l label | --all)])")
    p.add_argument("--for", dest="for_", default="", help="delete, create, condition=NAME[=VALUE] or "
                                                          "jsonpath='{PATH}'[=VALUE]")
    p.add_argument("--timeout", default="30s", help="how long to wait (0: check once, negative: a week)")
    p.add_argument("--all", action="store_true", help="every object of the types given")
    p.add_argument("-A", "--all-namespaces", action="store_true", help="objects in every namespace")
    p.add_argument("--field-selector", default=None, help="select objects by fields")
    common.add_selector_flag(p)
    common.add_filename_flags(p)
    common.add_output_flag(p)
    p.set_defaults(func=cmd_wait)


@dataclasses.dataclass(frozen=True)
class Condition:
    """What ``--for`` asks: ``kind`` is delete, create, condition or jsonpath."""

    kind: str
    name: str = ""          # the condition type
    value: str = ""         # the condition status or the jsonpath value ("" with any_value)
    path: list[Any] | None = None
    any_value: bool = False

    def met(self, obj: dict[str, Any]) -> bool:
        if self.kind == "condition":
            return condition_met(obj, self.name, self.value)
        if self.kind == "jsonpath":
            return self._jsonpath_met(obj)
        return True  # create: the object exists

    def _jsonpath_met(self, obj: dict[str, Any]) -> bool:
        from minik8s.cli import jsonpath

        found = jsonpath.find(self.path or [], obj, allow_missing=True)
        if not found:
            return False
        if len(found) > 1:
            raise CliError("given jsonpath expression matches more than one value")
        if self.any_value:
            return True
        if isinstance(found[0], dict | list):
            raise CliError("jsonpath leads to a nested object or list which is not supported")
        return jsonpath.execute(self.path or [], obj).strip() == self.value.strip()


def parse_for(text: str) -> Condition:
    if text == "delete":
        return Condition("delete")
    if text == "create":
        return Condition("create")
    if text.startswith("condition="):
        name, _, value = text.removeprefix("condition=").partition("=")
        return Condition("condition", name=name, value=value or "true")
    if text.startswith("jsonpath="):
        from minik8s.cli import jsonpath, sortby

        expr, value, has_value = split_jsonpath(text.removeprefix("jsonpath="))
        if not expr:
            raise CliError(_JSONPATH_FORMAT)
        if has_value and not value:
            raise CliError("jsonpath wait has to have a value after equal sign, like "
                           "--for=jsonpath='{.status.readyReplicas}'=3")
        try:
            nodes = jsonpath.parse(sortby.relaxed(expr))
        except jsonpath.JsonPathError as e:
            raise CliError(str(e)) from None
        return Condition("jsonpath", path=nodes, value=value, any_value=not has_value)
    raise CliError(f'unrecognized condition: "{text}"')


def split_jsonpath(text: str) -> tuple[str, str, bool]:
    """(expression, value, whether ``=`` was given): the value follows the ``=`` after the closing
    brace of ``{...}``, or the first ``=`` of an expression without braces."""
    if text.startswith("{"):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth == 0:
                rest = text[i + 1:]
                if not rest.startswith("="):
                    return text, "", False  # the whole text is the expression (and fails as one)
                return text[:i + 1], rest[1:], True
        return text, "", False  # unbalanced: the expression fails to parse
    expr, eq, value = text.partition("=")
    return expr, value, bool(eq)


def condition_met(obj: dict[str, Any], name: str, want: str) -> bool:
    """kubectl's ``ConditionalWait.checkCondition``: the first condition of that type decides;
    one observed for an older generation is not met yet."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    for cond in status.get("conditions") or []:
        if not isinstance(cond, dict) or str(cond.get("type", "")).lower() != name.lower():
            continue
        if not isinstance(cond.get("status"), str):
            continue
        if isinstance(generation, int):
            observed = cond.get("observedGeneration", status.get("observedGeneration"))
            if isinstance(observed, int) and observed < generation:
                return False
        return str(cond["status"]).lower() == want.lower()  # a str: checked above
    return False


def resource_name(res: Resource, name: str) -> str:
    """``deployments.apps/web``: how kubectl names an object in wait's errors."""
    plural = f"{res.rt.plural}.{res.rt.group}" if res.rt.group else res.rt.plural
    return f"{plural}/{name}"


class _Timeout(Exception):
    pass


async def cmd_wait(session: Session, args: argparse.Namespace) -> int:
    cond = parse_for(args.for_) if args.for_ else None
    if cond is None:
        raise CliError("--for must be set")
    timeout = _timeout(args.timeout)
    targets = await _targets(session, args, cond)
    if not targets:
        if cond.kind == "delete":
            return 0
        raise CliError("no matching resources found")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for res, ns, name, obj in targets:
        try:
            done = await _wait_one(session, cond, res, ns, name, obj, deadline, check_once=timeout == 0)
        except _Timeout:
            raise CliError(f"timed out waiting for the condition on {resource_name(res, name)}") from None
        if not done:
            raise CliError(f"condition not met for {resource_name(res, name)}")
        if cond.kind != "delete" or obj is not None:
            _print_met(res, name, args.output)
    return 0


def _timeout(text: str) -> float:
    if text.startswith("-"):
        return _WEEK_S
    return parse_duration(text) or 0.0


def _print_met(res: Resource, name: str, output: str | None) -> None:
    ref = f"{kind_group(res.rt)}/{name}"
    if output and printers.OutputFormat(output).kind == "name":
        print(ref)
    else:
        print(f"{ref} condition met")
    sys.stdout.flush()


async def _targets(session: Session, args: argparse.Namespace,
                   cond: Condition) -> list[tuple[Resource, str | None, str, dict[str, Any] | None]]:
    """(resource, namespace, name, the object as read or None when absent) of each object."""
    from minik8s.cli.get import resolve_targets

    out: list[tuple[Resource, str | None, str, dict[str, Any] | None]] = []
    named: list[tuple[Resource, str | None, str]] = []
    if args.filename:
        for m in await common.read_manifests(args):
            res, ns = await common.resolve_manifest(session, m)
            named.append((res, ns, m.name))
    elif not args.args:
        raise CliError(NO_RESOURCES)
    else:
        for res, names in (await resolve_targets(session, args.args))[0]:
            ns = session.namespace if res.rt.namespaced else None
            if names:
                named.extend((res, ns, n) for n in names)
                continue
            if not (args.selector or args.all or args.field_selector):
                raise CliError("resource(s) were provided, but no name was specified")
            doc = await session.client.list_all(res.rt, namespace=None if args.all_namespaces else ns,
                                                label_selector=args.selector, field_selector=args.field_selector)
            for item in doc.get("items") or []:
                meta = item.get("metadata") or {}
                out.append((res, meta.get("namespace"), meta.get("name", ""), item))
    for res, ns, name in named:
        try:
            obj = await session.client.get(res.rt, name, namespace=ns)
        except errors.NotFound:
            if cond.kind not in ("delete", "create"):
                raise
            obj = None
        out.append((res, ns, name, obj))
    return out


async def _wait_one(session: Session, cond: Condition, res: Resource, ns: str | None, name: str,
                    obj: dict[str, Any] | None, deadline: float, *, check_once: bool) -> bool:
    """True once ``cond`` holds for the object; False when checking once and it does not;
    raises _Timeout when the deadline passes first."""
    if cond.kind == "delete":
        if obj is None:
            return True
        uid = (obj.get("metadata") or {}).get("uid")
        return await _follow(session, res, ns, name, obj, deadline, check_once,
                             lambda etype, o: etype == "DELETED" or (o.get("metadata") or {}).get("uid") != uid)
    if obj is not None and cond.met(obj):
        return True
    return await _follow(session, res, ns, name, obj, deadline, check_once,
                         lambda etype, o: etype != "DELETED" and cond.met(o))


async def _follow(session: Session, res: Resource, ns: str | None, name: str, obj: dict[str, Any] | None, deadline: float,
                  check_once: bool, done: Callable[[str, dict[str, Any]], bool]) -> bool:
    """Watch the one object from where ``obj`` was read until ``done(event type, object)``."""
    if check_once:
        return False
    loop = asyncio.get_running_loop()
    rv = (obj.get("metadata") or {}).get("resourceVersion") if obj is not None else None
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise _Timeout()
        if rv is None:  # absent when read: start from a list, so nothing between is missed
            doc = await session.client.list(res.rt, namespace=ns, field_selector=f"metadata.name={name}")
            rv = (doc.get("metadata") or {}).get("resourceVersion")
            for item in doc.get("items") or []:
                if done("ADDED", item):
                    return True
        try:
            async with asyncio.timeout(remaining):
                async for event in session.client.watch(res.rt, namespace=ns, resource_version=rv,
                                                        field_selector=f"metadata.name={name}",
                                                        timeout_seconds=max(1, int(remaining) + 1)):
                    if event.type == "BOOKMARK":
                        rv = (event.object.get("metadata") or {}).get("resourceVersion") or rv
                        continue
                    rv = (event.object.get("metadata") or {}).get("resourceVersion") or rv
                    if done(event.type, event.object):
                        return True
        except TimeoutError:
            raise _Timeout() from None
        except errors.WatchExpired:
            rv = None  # too old to resume: list again
