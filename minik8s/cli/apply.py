"""``mkctl apply -f``: declarative, idempotent writes, as kubectl's client-side apply.

Per object: GET it; absent → POST it with the ``last-applied-configuration`` annotation
(``created``); present → the three-way patch of last-applied, manifest and live object
(``configured``), or no request at all when the patch is empty (``unchanged``); a built-in kind's
merge keys come from the server's OpenAPI v3 document, as kubectl reads them. Requests carry
``fieldManager=kubectl-client-side-apply`` and ``fieldValidation=Strict`` as kubectl's do.
``--server-side`` sends the manifest as an apply patch instead (``serverside-applied``).
Objects are applied one by one; failures are reported at the end and make the exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minik8s import errors
from minik8s.cli import common, manifests, patchmeta, threeway
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, Session, Subparsers, format_error, source_error, warn

FIELD_MANAGER = "kubectl-client-side-apply"
_PATCH_RETRIES = 5


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("apply", parents=[common_flags], help="Apply a configuration by file name or stdin",
                       allow_abbrev=False)
    common.add_filename_flags(p, what="to apply ")
    common.add_output_flag(p)
    common.add_dry_run(p)
    p.add_argument("--server-side", action="store_true", help="let the server apply (server-side apply)")
    p.add_argument("--force-conflicts", action="store_true", help="server-side: take over conflicting fields")
    common.add_field_manager(p, "kubectl-client-side-apply")
    p.add_argument("--validate", default="strict", choices=("strict", "warn", "ignore", "true", "false"),
                   help="how the server treats unknown fields")
    p.set_defaults(func=cmd_apply, needs_loop=False)


def _field_validation(value: str) -> str:
    return {"strict": "Strict", "true": "Strict", "warn": "Warn", "ignore": "Ignore", "false": "Ignore"}[value]


async def cmd_apply(session: Session, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    items = await common.read_manifests(args)
    if not items:
        raise CliError("no objects passed to apply")
    failures = 0
    for m in items:
        try:
            res, namespace = await common.resolve_manifest(session, m)
            if args.server_side:
                await _server_side(session, args, res, namespace, m)
            else:
                await _apply_one(session, args, res, namespace, m)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def _apply_one(session: Session, args: argparse.Namespace, res: Resource, namespace: str | None,
                     m: manifests.Manifest) -> None:
    obj, source = m.obj, m.source
    name = m.name
    if not name:
        raise CliError(f"error from {m.where}: resource name may not be empty")
    manager = args.field_manager
    validation = _field_validation(args.validate)
    server_dry = args.dry_run == "server"
    modified = threeway.modified_configuration(obj)
    schema: patchmeta.OpenAPISchema | None = None
    asked = False  # the server's OpenAPI was asked for the kind's merge keys (once)
    for attempt in range(_PATCH_RETRIES):
        try:
            current = await session.client.get(res.rt, name, namespace=namespace)
        except errors.NotFound:
            if args.dry_run == "client":
                common.print_done(res, modified, "created", output=args.output, dry_run="client")
                return
            try:
                created = await _send(session, "POST", res.rt.path(namespace), modified,
                                      {"fieldManager": manager, "fieldValidation": validation,
                                       "dryRun": "All" if server_dry else None})
            except errors.ApiError as e:
                raise source_error("creating", source, e) from None
            common.print_done(res, created, "created", output=args.output, dry_run=args.dry_run)
            return
        original = threeway.original_configuration(current)
        if original is None and threeway.LAST_APPLIED not in ((current.get("metadata") or {}).get("annotations") or {}):
            warn(f"resource {res.rt.plural}/{name} is missing the {threeway.LAST_APPLIED} annotation which is "
                 "required by mkctl apply. mkctl apply should only be used on resources created declaratively "
                 "by either mkctl create --save-config or mkctl apply. The missing annotation will be patched "
                 "automatically.")
        if not asked and threeway.builtin(obj["apiVersion"], obj["kind"]):
            schema = await patchmeta.schema_for(session.client, obj["apiVersion"], obj["kind"])
            asked = True
        patch, patch_type = threeway.patch_for(obj["apiVersion"], obj["kind"], original, modified, current,
                                               schema=schema)
        if not patch:
            common.print_done(res, current, "unchanged", output=args.output, dry_run=args.dry_run)
            return
        params = {"fieldManager": manager, "fieldValidation": validation,
                  "dryRun": "All" if args.dry_run in ("server", "client") else None}
        try:
            result = await session.client.request(
                "PATCH", res.rt.path(namespace, name), params=params, content=threeway.go_json(patch),
                headers={"Content-Type": _content_type(patch_type)})
        except errors.Conflict:
            if attempt + 1 < _PATCH_RETRIES:
                await session.client.pause(0.1 * (attempt + 1))
                continue
            raise
        except errors.ApiError as e:
            raise source_error("patching", source, e) from None
        common.print_done(res, result.json(), "configured", output=args.output, dry_run=args.dry_run)
        return


async def _server_side(session: Session, args: argparse.Namespace, res: Resource, namespace: str | None,
                       m: manifests.Manifest) -> None:
    manager = args.field_manager if args.field_manager != FIELD_MANAGER else "kubectl"
    params = {"fieldManager": manager, "fieldValidation": _field_validation(args.validate),
              "force": "true" if args.force_conflicts else "false",
              "dryRun": "All" if args.dry_run != "none" else None}
    try:
        resp = await session.client.request(
            "PATCH", res.rt.path(namespace, m.name), params=params, content=threeway.go_json(m.obj),
            headers={"Content-Type": "application/apply-patch+yaml"})
    except errors.ApiError as e:
        raise source_error("patching", m.source, e) from None
    common.print_done(res, resp.json(), "serverside-applied", output=args.output, dry_run=args.dry_run)


async def _send(session: Session, method: str, path: str, body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    resp = await session.client.request(method, path, params=params, json=body)
    obj: dict[str, Any] = resp.json()
    return obj


def _content_type(patch_type: str) -> str:
    return {"strategic": "application/strategic-merge-patch+json", "merge": "application/merge-patch+json"}[patch_type]
