"""``mkctl cordon|uncordon|drain``: mark nodes (un)schedulable with a strategic merge patch of
``spec.unschedulable``, and drain one by cordoning it and evicting its pods through
``pods/{name}/eviction`` (retrying while a disruption budget says 429), after kubectl's
checks: DaemonSet pods need ``--ignore-daemonsets``, emptyDir pods ``--delete-emptydir-data``,
pods without a controller ``--force``; mirror pods are left alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors
from minik8s.cli import common
from minik8s.cli.delete import wait_deleted
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, ExitSilently, Session, Subparsers, format_error, parse_duration, warn

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

MIRROR = "kubernetes.io/config.mirror"
_EVICTION_RETRY = 5.0


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    for verb, text in (("cordon", "Mark node as unschedulable"), ("uncordon", "Mark node as schedulable")):
        p = sub.add_parser(verb, parents=[common_flags], help=text, allow_abbrev=False)
        p.add_argument("nodes", nargs="*", metavar="NODE")
        common.add_selector_flag(p)
        common.add_dry_run(p)
        p.set_defaults(func=cmd_cordon, unschedulable=verb == "cordon", needs_loop=False)
    d = sub.add_parser("drain", parents=[common_flags], help="Drain node in preparation for maintenance",
                       allow_abbrev=False)
    d.add_argument("nodes", nargs="*", metavar="NODE")
    common.add_selector_flag(d)
    common.add_dry_run(d)
    d.add_argument("--ignore-daemonsets", action="store_true")
    d.add_argument("--delete-emptydir-data", action="store_true")
    d.add_argument("--force", action="store_true")
    d.add_argument("--grace-period", type=int, default=-1)
    d.add_argument("--timeout", default="0")
    d.add_argument("--disable-eviction", action="store_true")
    d.add_argument("--pod-selector", default="")
    d.add_argument("--skip-wait-for-delete-timeout", type=int, default=0)
    d.set_defaults(func=cmd_drain)


async def _nodes(session: Session, args: argparse.Namespace) -> tuple[Resource, list[typed.Node]]:
    res = await session.resolver.resolve("nodes")
    if args.selector:
        if args.nodes:
            raise CliError("error: cannot specify both a node name and a --selector option")
        doc = await session.client.list_all(res.rt, label_selector=args.selector)
        found: list[typed.Node] = doc.get("items") or []
        return res, found
    if not args.nodes:
        raise CliError("USAGE: cordon NODE [flags]\nSee 'mkctl cordon -h' for help and examples")
    return res, [cast("typed.Node", await session.client.get(res.rt, n)) for n in args.nodes]


async def set_unschedulable(session: Session, res: Resource, node: typed.Node, value: bool, dry_run: str) -> str:
    """Patch the node; returns kubectl's word for what happened."""
    name = node["metadata"]["name"]
    current = bool((node.get("spec") or {}).get("unschedulable"))
    word = "cordoned" if value else "uncordoned"
    if current == value:
        return f"node/{name} already {word}"
    if dry_run != "client":
        params = {"dryRun": "All"} if dry_run == "server" else None
        await session.client.request("PATCH", res.rt.path(None, name), params=params,
                                     content=json.dumps({"spec": {"unschedulable": True if value else None}}),
                                     headers={"Content-Type": "application/strategic-merge-patch+json"})
    return f"node/{name} {word}{common.dry_run_suffix(dry_run)}"


async def cmd_cordon(session: Session, args: argparse.Namespace) -> int:
    res, nodes = await _nodes(session, args)
    for node in nodes:
        print(await set_unschedulable(session, res, node, args.unschedulable, args.dry_run))
    return 0


def _owner(pod: typed.Pod) -> typed.OwnerReference | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


# kubectl's drain texts (the unmanaged one really does say "cannot delete" twice once grouped)
_DS_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
_DS_WARNING = "ignoring DaemonSet-managed Pods"
_LOCAL_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
_LOCAL_WARNING = "deleting Pods with local storage"
_UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"
_UNMANAGED_WARNING = "deleting Pods that declare no controller"


async def _daemonset_status(session: Session, pod: typed.Pod, owner: typed.OwnerReference, args: argparse.Namespace
                            ) -> tuple[bool, str, str]:
    """(delete?, "error"|"warning"|"", message) of kubectl's DaemonSet filter."""
    ds = await session.resolver.find("daemonsets.apps")
    try:
        if ds is None:
            # not served: the 404 without a Status kubectl gets
            raise errors.ApiError.from_response(404, b"")
        await session.client.get(ds.rt, owner.get("name", ""), namespace=pod["metadata"].get("namespace"))
    except errors.ApiError as e:
        if e.code == 404 and args.force:
            return True, "warning", e.message
        return False, "error", e.message
    if not args.ignore_daemonsets:
        return False, "error", _DS_FATAL
    return False, "warning", _DS_WARNING


async def classify(session: Session, pods: list[typed.Pod], args: argparse.Namespace
                   ) -> tuple[list[typed.Pod], list[str], list[str]]:
    """(pods to evict, warnings, errors) by kubectl's drain filters, run in kubectl's order; a
    pod's status is the first that keeps it, else the last filter's."""
    warn_groups: dict[str, list[str]] = {}
    err_groups: dict[str, list[str]] = {}
    evict: list[typed.Pod] = []
    for pod in pods:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        finished = status.get("phase") in ("Succeeded", "Failed")
        owner = _owner(pod)
        result: tuple[bool, str, str] = (True, "", "")
        for step in ("daemonset", "mirror", "local", "unmanaged"):
            if step == "daemonset":
                result = (True, "", "")
                if owner and owner.get("kind") == "DaemonSet" and not finished:
                    result = await _daemonset_status(session, pod, owner, args)
            elif step == "mirror":
                result = (False, "", "") if MIRROR in (meta.get("annotations") or {}) else (True, "", "")
            elif step == "local":
                has_local = any(v.get("emptyDir") is not None for v in spec.get("volumes") or [])
                if not has_local or finished:
                    result = (True, "", "")
                elif not args.delete_emptydir_data:
                    result = (False, "error", _LOCAL_FATAL)
                else:
                    result = (True, "warning", _LOCAL_WARNING)
            else:
                if finished or owner is not None:
                    result = (True, "", "")
                elif args.force:
                    result = (True, "warning", _UNMANAGED_WARNING)
                else:
                    result = (False, "error", _UNMANAGED_FATAL)
            if not result[0]:
                break
        delete, kind, message = result
        ref = f"{meta.get('namespace')}/{meta['name']}"
        if kind == "error":
            err_groups.setdefault(message, []).append(ref)
        elif kind == "warning":
            warn_groups.setdefault(message, []).append(ref)
        if delete and kind != "error":
            evict.append(pod)
    warnings = [f"{m}: {', '.join(refs)}" for m, refs in warn_groups.items()]
    errs = [f"cannot delete {m}: {', '.join(refs)}" for m, refs in err_groups.items()]
    return evict, warnings, errs


async def cmd_drain(session: Session, args: argparse.Namespace) -> int:
    res, nodes = await _nodes(session, args)
    pods_res = await session.resolver.resolve("pods")
    timeout = parse_duration(args.timeout)
    failed: list[tuple[str, list[str]]] = []
    for node in nodes:
        name = node["metadata"]["name"]
        print(await set_unschedulable(session, res, node, True, args.dry_run))
        doc = await session.client.list_all(pods_res.rt, field_selector=f"spec.nodeName={name}",
                                            label_selector=args.pod_selector or None)
        on_node: list[typed.Pod] = doc.get("items") or []
        evict, warnings, errs = await classify(session, on_node, args)
        if errs:
            message = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
            sys.stdout.flush()
            print(f'error: unable to drain node "{name}" due to error: {message}, continuing command...',
                  file=sys.stderr)
            failed.append((name, errs))
            continue
        if warnings:
            warn("; ".join(warnings))
        try:
            await _evict_all(session, args, pods_res, evict, timeout)
        except (errors.ApiError, CliError) as e:
            print(format_error(e, server=session.server), file=sys.stderr)
            failed.append((name, [str(e)]))
            continue
        print(f"node/{name} drained{common.dry_run_suffix(args.dry_run)}")
    if failed:
        print("There are pending nodes to be drained:", file=sys.stderr)
        for name, _ in failed:
            print(f" {name}", file=sys.stderr)
        for _, errs in failed:
            for message in errs:
                print(message, file=sys.stderr)
        raise ExitSilently(1)
    return 0


async def _evict_all(session: Session, args: argparse.Namespace, pods_res: Resource, pods: list[typed.Pod],
                     timeout: float | None) -> None:
    deadline = time.monotonic() + (timeout or 7 * 24 * 3600.0)

    async def one(pod: typed.Pod) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace"), meta["name"]
        if args.dry_run != "none":
            print(f"evicting pod {ns}/{name}{common.dry_run_suffix(args.dry_run)}")
            return
        verb = "deleted" if args.disable_eviction else "evicted"
        if not args.disable_eviction:
            print(f"evicting pod {ns}/{name}")
        sys.stdout.flush()
        delete_options: dict[str, Any] = {}
        if args.grace_period >= 0:
            delete_options["gracePeriodSeconds"] = args.grace_period
        while True:
            try:
                if args.disable_eviction:
                    await session.client.delete(pods_res.rt, name, namespace=ns,
                                                grace_period_seconds=delete_options.get("gracePeriodSeconds"))
                else:
                    body = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": name, "namespace": ns}, "deleteOptions": delete_options}
                    await session.client.create_subresource(pods_res.rt, name, "eviction", body, namespace=ns)
                break
            except errors.NotFound:
                break
            except errors.TooManyRequests as e:
                if time.monotonic() > deadline:
                    raise CliError(f"drain did not complete within {args.timeout}") from None
                print(f'error when evicting pods/"{name}" -n "{ns}" (will retry after 5s): {e.message}',
                      file=sys.stderr)
                await asyncio.sleep(_EVICTION_RETRY)
        remaining = max(deadline - time.monotonic(), 0.0)
        if not await wait_deleted(session, pods_res, ns, name, uid=meta.get("uid"), timeout=remaining):
            raise CliError(f"drain did not complete within {args.timeout}")
        print(f"pod/{name} {verb}")
        sys.stdout.flush()

    await asyncio.gather(*(one(p) for p in pods))
