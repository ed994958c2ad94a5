"""``mkctl run NAME --image=I``: one Pod, built as kubectl's run generator builds it (label
``run=NAME``, container named NAME, ``dnsPolicy: ClusterFirst``, ``restartPolicy`` from
``--restart``; what follows ``--`` is the container's args, or its command with
``--command``), POSTed with ``fieldManager=kubectl-run``."""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.cli import common
from minik8s.cli.create import create_object
from minik8s.cli.session import CliError, Session, Subparsers


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("run", parents=[common_flags], allow_abbrev=False, help="Run a particular image on the cluster")
    p.add_argument("name", metavar="NAME")
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--image", default="", help="the image to run")
    p.add_argument("--port", default="", help="the port the container exposes")
    p.add_argument("--restart", default="Always", choices=("Always", "OnFailure", "Never"))
    p.add_argument("--labels", "-l", default="", help="k=v,k2=v2 labels of the pod (default run=NAME)")
    p.add_argument("--env", action="append", default=[], help="K=V environment variables")
    p.add_argument("--command", action="store_true", help="what follows -- is the command, not args")
    p.add_argument("--image-pull-policy", default="", choices=("", "Always", "IfNotPresent", "Never"))
    p.add_argument("--annotations", action="append", default=[], help="k=v annotations")
    p.add_argument("--privileged", action="store_true")
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-run")
    p.set_defaults(func=cmd_run)


def _kv(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise CliError(f"invalid {what}: {item}")
        out[k] = v
    return out


def pod_object(args: argparse.Namespace) -> dict[str, Any]:
    labels = _kv([x for x in args.labels.split(",") if x], "label spec") if args.labels else {"run": args.name}
    container: dict[str, Any] = {"name": args.name, "image": args.image, "resources": {}}
    rest = list(args.extra) + list(args.dash_args or [])
    if rest:
        container["command" if args.command else "args"] = rest
    if args.env:
        container["env"] = [{"name": k, "value": v} for k, v in _kv(args.env, "env").items()]
    if args.port:
        container["ports"] = [{"containerPort": int(args.port)}]
    if args.image_pull_policy:
        container["imagePullPolicy"] = args.image_pull_policy
    if args.privileged:
        container["securityContext"] = {"privileged": True}
    meta: dict[str, Any] = {"name": args.name, "creationTimestamp": None, "labels": labels}
    if args.annotations:
        meta["annotations"] = _kv(args.annotations, "annotation")
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta,
            "spec": {"containers": [container], "restartPolicy": args.restart, "dnsPolicy": "ClusterFirst"},
            "status": {}}


async def cmd_run(session: Session, args: argparse.Namespace) -> int:
    if not args.image:
        raise CliError('required flag(s) "image" not set')
    if args.command and not (args.extra or args.dash_args):
        raise CliError("--command requires that at least one argument be given after --")
    pod = pod_object(args)
    if session.namespace_explicit:
        pod["metadata"]["namespace"] = session.namespace
    res = await session.resolver.resolve("pods")
    if args.dry_run == "client":
        common.print_done(res, pod, "created", output=args.output, dry_run="client")
        return 0
    created = await create_object(session, res, session.namespace, pod, args)
    common.print_done(res, created, "created", output=args.output, dry_run=args.dry_run)
    return 0
