"""``mkctl rollout status|history|undo|restart|pause|resume`` for deployments, as kubectl does
them (see KUBECTL-WIRE.md):

- status: list by ``metadata.name`` then watch; done when ``generation <= observedGeneration``,
  ``updatedReplicas >= spec.replicas``, ``replicas <= updatedReplicas`` and
  ``availableReplicas >= updatedReplicas``; a ``ProgressDeadlineExceeded`` condition fails it.
- history: the ReplicaSets the deployment controls (selector + controller ownerRef), by their
  ``deployment.kubernetes.io/revision`` annotation.
- undo: a JSON patch replacing ``/spec/template`` (the chosen ReplicaSet's, without
  ``pod-template-hash``) and ``/metadata/annotations``.
- restart/pause/resume: strategic merge patches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from minik8s import errors
from minik8s.cli import common, describe, printers
from minik8s.cli.deployments import equal_ignore_hash, owned_replicasets, without_hash
from minik8s.cli.resources import Resource, kind_group
from minik8s.cli.scale import scale_targets
from minik8s.cli.session import CliError, Session, Subparsers, format_error, parse_duration

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Annotations of a deployment that an undo keeps rather than taking from the ReplicaSet.
_SKIP_ON_UNDO = {
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    r = sub.add_parser("rollout", parents=[common_flags], help="Manage the rollout of a resource", allow_abbrev=False)
    r.set_defaults(group_help=r.print_help)
    verbs = r.add_subparsers(dest="rollout_verb", metavar="SUBCOMMAND", parser_class=type(r))

    def verb(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = verbs.add_parser(name, parents=[common_flags], help=help_text, allow_abbrev=False)
        p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME)")
        common.add_filename_flags(p)
        common.add_selector_flag(p)
        p.add_argument("--all", action="store_true")
        p.set_defaults(func=func, needs_loop=name == "status")  # only status waits (a watch, a timeout)
        return p

    p = verb("status", cmd_status, "Show the status of the rollout")
    p.add_argument("-w", "--watch", default="true", nargs="?", const="true", choices=("true", "false"))
    p.add_argument("--revision", type=int, default=0)
    p.add_argument("--timeout", default="0")
    p = verb("history", cmd_history, "View rollout history")
    p.add_argument("--revision", type=int, default=0)
    common.add_output_flag(p)
    p = verb("undo", cmd_undo, "Undo a previous rollout")
    p.add_argument("--to-revision", type=int, default=0)
    common.add_dry_run(p)
    common.add_output_flag(p)
    for name, func, text in (("restart", cmd_restart, "Restart a resource"),
                             ("pause", cmd_pause, "Mark the provided resource as paused"),
                             ("resume", cmd_resume, "Resume a paused resource")):
        p = verb(name, func, text)
        common.add_field_manager(p, "kubectl-rollout")
        common.add_output_flag(p)
        common.add_dry_run(p)


def revision_of(obj: Mapping[str, Any]) -> int | None:
    """The revision annotation of a Deployment or a ReplicaSet."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _deployments(session: Session, args: argparse.Namespace) -> list[tuple[Resource, str | None, str]]:
    targets = await scale_targets(session, args)
    for res, _, _ in targets:
        if res.rt.kind != "Deployment":
            raise CliError(f"no {args.rollout_verb} support for {res.rt.kind}: only deployments are supported")
    return targets


# What a verb does to one deployment: (session, args, resource, namespace, name).
_OneDeployment = Callable[[Session, argparse.Namespace, Resource, str | None, str], Awaitable[None]]


async def _get(session: Session, res: Resource, ns: str | None, name: str) -> typed.Deployment:
    return cast("typed.Deployment", await session.client.get(res.rt, name, namespace=ns))


async def _each(session: Session, args: argparse.Namespace, one: _OneDeployment) -> int:
    failures = 0
    for res, ns, name in await _deployments(session, args):
        try:
            await one(session, args, res, ns, name)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


# --- status ---------------------------------------------------------------------------------


def deployment_status(d: typed.Deployment, revision: int = 0) -> tuple[str, bool]:
    """(message, done) as kubectl's DeploymentStatusViewer; CliError when it cannot finish."""
    meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
    name = meta.get("name")
    if revision > 0:
        current = revision_of(d) or 0
        if current != revision:
            raise CliError(f"desired revision ({revision}) is different from the running revision ({current})")
    if (meta.get("generation") or 0) <= (status.get("observedGeneration") or 0):
        for c in status.get("conditions") or []:
            if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                raise CliError(f'deployment "{name}" exceeded its progress deadline')
        want = spec.get("replicas", 1)
        updated = status.get("updatedReplicas") or 0
        total = status.get("replicas") or 0
        available = status.get("availableReplicas") or 0
        if want is not None and updated < want:
            return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas have '
                    "been updated...\n"), False
        if total > updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                    "termination...\n"), False
        if available < updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas '
                    "are available...\n"), False
        return f'deployment "{name}" successfully rolled out\n', True
    return "Waiting for deployment spec update to be observed...\n", False


async def cmd_status(session: Session, args: argparse.Namespace) -> int:
    timeout = parse_duration(args.timeout)
    failures = 0
    for res, ns, name in await _deployments(session, args):
        try:
            await asyncio.wait_for(_status_one(session, args, res, ns, name), timeout)
        except TimeoutError:
            failures += 1
            print("error: timed out waiting for the condition", file=sys.stderr)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _status_one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
    field = f"metadata.name={name}"
    while True:
        doc = await session.client.list(res.rt, namespace=ns, field_selector=field)
        items = doc.get("items") or []
        if not items:
            raise errors.ApiError.from_status({"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404,
                                               "message": f'{res.rt.group_resource} "{name}" not found'})
        message, done = deployment_status(items[0], args.revision)
        _out(message)
        if done or args.watch == "false":
            return
        stream = session.client.watch(res.rt, namespace=ns, field_selector=field,
                                      resource_version=(doc.get("metadata") or {}).get("resourceVersion"),
                                      timeout_seconds=300)
        with contextlib.suppress(errors.Gone):
            async with contextlib.aclosing(stream):
                async for event in stream:
                    if event.type == "DELETED":
                        raise CliError('object has been deleted')
                    if event.type not in ("ADDED", "MODIFIED"):
                        continue
                    message, done = deployment_status(cast("typed.Deployment", event.object), args.revision)
                    _out(message)
                    if done:
                        return


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# --- history --------------------------------------------------------------------------------


async def _history(session: Session, d: typed.Deployment) -> dict[int, typed.PodTemplateSpec]:
    out: dict[int, typed.PodTemplateSpec] = {}
    for rs in await owned_replicasets(session, d):
        rev = revision_of(rs)
        if rev is None:
            continue
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        cause = ((rs.get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE)
        if cause:
            template.setdefault("metadata", {}).setdefault("annotations", {})[CHANGE_CAUSE] = cause
        out[rev] = template
    return out


def template_text(template: typed.PodTemplateSpec) -> str:
    """kubectl's printTemplate: the describe lines of a pod template, tabs left as they are."""
    w = describe.Writer()
    describe.describe_pod_template(w, template)
    return "".join(w._buf)


async def cmd_history(session: Session, args: argparse.Namespace) -> int:
    async def one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
        d = await _get(session, res, ns, name)
        history = await _history(session, d)
        ref = f"{kind_group(res.rt)}/{name}"
        if args.revision > 0:
            if args.revision not in history:
                raise CliError("unable to find the specified revision")
            if args.output:
                rs_like = {"apiVersion": "v1", "kind": "PodTemplateSpec", **history[args.revision]}
                common.write_output(printers.OutputFormat(args.output).render([rs_like], single=True))
                return
            _out(f"{ref} with revision #{args.revision}\n{template_text(history[args.revision])}\n")
            return
        if not history:
            _out(f"{ref} \nNo rollout history found.\n")
            return
        lines = ["REVISION\tCHANGE-CAUSE"]
        for rev in sorted(history):
            cause = ((history[rev].get("metadata") or {}).get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"
            lines.append(f"{rev}\t{cause}")
        _out(f"{ref} \n{printers.tabwriter(lines, min_width=0, padding=2)}\n")

    return await _each(session, args, one)


# --- undo -----------------------------------------------------------------------------------


async def cmd_undo(session: Session, args: argparse.Namespace) -> int:
    async def one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
        d = await _get(session, res, ns, name)
        if (d.get("spec") or {}).get("paused"):
            raise CliError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' "
                           "and try again")
        rs = await _revision_rs(session, d, args.to_revision)
        ref = f"{kind_group(res.rt)}/{name}"
        template = without_hash((rs.get("spec") or {}).get("template") or {})
        if args.dry_run == "client":
            _out(template_text(template))
            return
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, (d.get("spec") or {}).get("template") or {}):
            _out(f"{ref} skipped rollback (current template already matches revision {args.to_revision})\n")
            return
        current = (d.get("metadata") or {}).get("annotations") or {}
        annotations = {k: v for k, v in current.items() if k in _SKIP_ON_UNDO}
        annotations.update({k: v for k, v in ((rs.get("metadata") or {}).get("annotations") or {}).items()
                            if k not in _SKIP_ON_UNDO})
        patch = [{"op": "replace", "path": "/spec/template", "value": template},
                 {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
        params = {"dryRun": "All"} if args.dry_run == "server" else None
        try:
            await session.client.request("PATCH", res.rt.path(ns, name), params=params,
                                         content=json.dumps(patch, separators=(",", ":")),
                                         headers={"Content-Type": "application/json-patch+json"})
        except errors.ApiError as e:
            raise CliError(f"failed restoring revision {args.to_revision}: {e.message}") from None
        _out(f"{ref} rolled back{common.dry_run_suffix(args.dry_run)}\n")

    return await _each(session, args, one)


async def _revision_rs(session: Session, d: typed.Deployment, to_revision: int) -> typed.ReplicaSet:
    latest: tuple[int, typed.ReplicaSet | None] = (-1, None)
    previous: tuple[int, typed.ReplicaSet | None] = (-1, None)
    for rs in await owned_replicasets(session, d):
        rev = revision_of(rs)
        if rev is None:
            continue
        if to_revision == 0:
            if latest[0] < rev:
                previous, latest = latest, (rev, rs)
            elif previous[0] < rev:
                previous = (rev, rs)
        elif rev == to_revision:
            return rs
    if to_revision > 0:
        raise CliError(f"unable to find specified revision {to_revision} in history")
    if previous[1] is None:
        raise CliError(f'no rollout history found for deployment "{(d.get("metadata") or {}).get("name")}"')
    return previous[1]


# --- restart / pause / resume ---------------------------------------------------------------


async def _patch(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str,
                 patch: dict[str, Any], verb: str) -> None:
    if args.dry_run == "client":
        _out(f"{kind_group(res.rt)}/{name} {verb} (dry run)\n")
        return
    params = {"fieldManager": args.field_manager, "dryRun": "All" if args.dry_run == "server" else None}
    resp = await session.client.request("PATCH", res.rt.path(ns, name), params=params,
                                        content=json.dumps(patch, separators=(",", ":")),
                                        headers={"Content-Type": "application/strategic-merge-patch+json"})
    common.print_done(res, resp.json(), verb, output=args.output, dry_run=args.dry_run)


async def cmd_restart(session: Session, args: argparse.Namespace) -> int:
    async def one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
        d = await _get(session, res, ns, name)
        if (d.get("spec") or {}).get("paused"):
            raise CliError(f'{res.rt.group_resource} "{name}" can\'t restart paused deployment (run rollout resume '
                           "first)")
        now = datetime.datetime.now().astimezone().replace(microsecond=0).isoformat()
        now = now.replace("+00:00", "Z")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        await _patch(session, args, res, ns, name, patch, "restarted")

    return await _each(session, args, one)


async def cmd_pause(session: Session, args: argparse.Namespace) -> int:
    async def one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
        d = await _get(session, res, ns, name)
        if (d.get("spec") or {}).get("paused"):
            raise CliError(f'{res.rt.group_resource} "{name}" is already paused')
        await _patch(session, args, res, ns, name, {"spec": {"paused": True}}, "paused")

    return await _each(session, args, one)


async def cmd_resume(session: Session, args: argparse.Namespace) -> int:
    async def one(session: Session, args: argparse.Namespace, res: Resource, ns: str | None, name: str) -> None:
        d = await _get(session, res, ns, name)
        if not (d.get("spec") or {}).get("paused"):
            raise CliError(f'{res.rt.group_resource} "{name}" is not paused')
        await _patch(session, args, res, ns, name, {"spec": {"paused": None}}, "resumed")

    return await _each(session, args, one)
