"""``mkctl logs``: a container's log from ``pods/{name}/log`` streamed to stdout as it comes
(``-f``, ``-c``, ``--tail``, ``--previous``, ``--timestamps``, ``--since``), and for
``deploy/web`` (or any TYPE/NAME with a selector) the pod kubectl would pick."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors
from minik8s.cli.session import CliError, Session, Subparsers, parse_duration

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
_PHASE_ORDER = {"Running": 0, "Unknown": 1, "Pending": 2}


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("logs", parents=[common_flags], allow_abbrev=False,
                       help="Print the logs for a container in a pod")
    p.add_argument("target", metavar="(POD | TYPE/NAME)")
    p.add_argument("container_arg", nargs="?", metavar="CONTAINER")
    p.add_argument("-c", "--container", default="")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-p", "--previous", action="store_true")
    p.add_argument("--tail", type=int, default=-1)
    p.add_argument("--timestamps", action="store_true")
    p.add_argument("--since", default="")
    p.add_argument("--since-time", default="")
    p.add_argument("--limit-bytes", type=int, default=0)
    p.add_argument("--all-containers", action="store_true")
    p.add_argument("--prefix", action="store_true")
    p.add_argument("--pod-running-timeout", default="20s")
    p.set_defaults(func=cmd_logs, needs_loop=False)


def _logging_order(pod: typed.Pod) -> tuple[Any, ...]:
    """kubectl's ByLogging: on a node first, then Running, ready, most restarts, oldest."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    return (0 if spec.get("nodeName") else 1, _PHASE_ORDER.get(status.get("phase", ""), 3), 0 if ready else 1,
            -restarts, (pod.get("metadata") or {}).get("creationTimestamp") or "")


async def pick_pod(session: Session, target: str) -> typed.Pod:
    """The pod ``target`` names (``POD``, ``pod/POD``, or any TYPE/NAME that selects pods)."""
    try:
        return await _pick_pod(session, target)
    except errors.NotFound as e:
        # kubectl's logs words a missing object its own way
        raise CliError(f'error from server (NotFound): {e.message} in namespace "{session.namespace}"') from None


async def _pick_pod(session: Session, target: str) -> typed.Pod:
    pods = await session.resolver.resolve("pods")
    if "/" not in target:
        return cast("typed.Pod", await session.client.get(pods.rt, target, namespace=session.namespace))
    kind, _, name = target.partition("/")
    res = await session.resolver.resolve(kind)
    if res.rt.kind == "Pod":
        return cast("typed.Pod", await session.client.get(pods.rt, name, namespace=session.namespace))
    obj = await session.client.get(res.rt, name, namespace=session.namespace)
    selector = (obj.get("spec") or {}).get("selector")
    if res.rt.kind == "Service":
        selector = {"matchLabels": selector} if selector else None
    if not selector:
        raise CliError(f"cannot get logs of a {res.rt.kind}: it selects no pods")
    from minik8s.cli import deployments  # local: only ``logs TYPE/NAME`` needs it

    doc = await session.client.list_all(pods.rt, namespace=session.namespace,
                                        label_selector=deployments.selector_query(selector))
    found: list[typed.Pod] = doc.get("items") or []
    items = sorted(found, key=_logging_order)
    if not items:
        raise CliError("timed out waiting for the condition")
    if len(items) > 1:
        print(f"Found {len(items)} pods, using pod/{items[0]['metadata']['name']}", file=sys.stderr)
    return items[0]


def containers_of(pod: typed.Pod, args: argparse.Namespace) -> list[str]:
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if args.all_containers:
        return inits + names
    wanted = args.container or args.container_arg
    if wanted:
        ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
        if wanted not in names + inits + ephemeral:
            raise CliError(f"container {wanted} is not valid for pod {(pod.get('metadata') or {}).get('name')}")
        return [wanted]
    if len(names) == 1 and not inits:
        return names
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    chosen = default if isinstance(default, str) and default in names else names[0]
    listed = ", ".join(names + [f"{i} (init)" for i in inits])
    print(f'Defaulted container "{chosen}" out of: {listed}', file=sys.stderr)
    return [chosen]


async def cmd_logs(session: Session, args: argparse.Namespace) -> int:
    pod = await pick_pod(session, args.target)
    meta = pod.get("metadata") or {}
    pods = await session.resolver.resolve("pods")
    since = parse_duration(args.since) if args.since else None
    for container in containers_of(pod, args):
        params: dict[str, Any] = {
            "container": container, "follow": "true" if args.follow else None,
            "previous": "true" if args.previous else None, "timestamps": "true" if args.timestamps else None,
            "tailLines": args.tail if args.tail >= 0 else None, "sinceSeconds": int(since) if since else None,
            "sinceTime": args.since_time or None, "limitBytes": args.limit_bytes or None,
        }
        resp = await session.client.request("GET", pods.rt.path(meta.get("namespace"), meta["name"], "log"),
                                            params=params, headers={"Accept": "*/*"}, stream=True, timeout=None)
        try:
            prefix = f"[pod/{meta['name']}/{container}] ".encode() if args.prefix else b""
            async for chunk in resp.aiter_bytes():
                if prefix:
                    chunk = b"".join(prefix + line for line in chunk.splitlines(keepends=True))
                sys.stdout.buffer.write(chunk) if hasattr(sys.stdout, "buffer") else \
                    sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
        finally:
            with contextlib.suppress(Exception):
                await resp.aclose()
    return 0
