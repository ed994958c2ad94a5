"""``mkctl diff -f FILE`` (or ``-k DIR``): what ``apply`` would change, as ``kubectl diff`` shows it.

For each object of the manifests: the live object (GET; an absent one is an empty file) and the object
as it would be after the apply, which the server computes without keeping it (``dryRun=All``):
the client-side apply patch (the three-way patch of last-applied, manifest and live object,
with the live resourceVersion so a concurrent change is a conflict, retried) or, for a new
object, the create; with ``--server-side``, the apply patch. Both are written as YAML, without
``metadata.managedFields`` (unless ``--show-managed-fields``) and with Secret values masked
(``***``, ``*** (before)``/``*** (after)``), into two temporary directories ``LIVE-*`` and
``MERGED-*``, one file per object named ``[group.]version.Kind.namespace.name``; then
``diff -u -N LIVE MERGED`` runs on them, or ``KUBECTL_EXTERNAL_DIFF`` (its first word the
program, further words kept when made of letters, digits, ``-`` and ``=``), given the two
directories first.

Exit status as kubectl's: 0 no differences, 1 differences, >1 an error (the diff program's own
failure, or mkctl's: a server error is printed and exits 2).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from minik8s import errors
from minik8s.cli import common, printers, threeway
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, ExitSilently, Session, Subparsers, format_error

_ARG = re.compile(r"^[a-zA-Z0-9-=]+$")
_RETRIES = 4


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diff", parents=[common_flags], allow_abbrev=False,
                       help="Diff the live version against a would-be applied version")
    common.add_filename_flags(p, what="to diff ")
    p.add_argument("--server-side", action="store_true", help="compute the result with server-side apply")
    p.add_argument("--force-conflicts", action="store_true", help="server-side: take over conflicting fields")
    p.add_argument("--show-managed-fields", action="store_true", help="keep metadata.managedFields")
    common.add_field_manager(p, "kubectl-client-side-apply")
    p.set_defaults(func=cmd_diff)


def file_name(obj: dict[str, Any], namespace: str | None) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    name = (obj.get("metadata") or {}).get("name", "")
    return (f"{group}." if group else "") + f"{version}.{obj['kind']}.{namespace or ''}.{name}"


def mask_secrets(live: dict[str, Any] | None, merged: dict[str, Any] | None) -> None:
    """kubectl's masker: Secret ``data`` values never reach the diff; a value that changes shows
    as ``*** (before)`` / ``*** (after)``, every other one as ``***``."""
    before = (live or {}).get("data")
    after = (merged or {}).get("data")
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    changed = {k for k in before if k in after and before[k] != after[k]}
    for k in before:
        before[k] = "*** (before)" if k in changed else "***"
    for k in after:
        after[k] = "*** (after)" if k in changed else "***"


def _clean(obj: dict[str, Any] | None, show_managed_fields: bool) -> dict[str, Any] | None:
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    if not show_managed_fields:
        (obj.get("metadata") or {}).pop("managedFields", None)
    return obj


def diff_command() -> list[str]:
    env = os.environ.get("KUBECTL_EXTERNAL_DIFF", "")
    if env:
        words = env.split(" ")
        return [words[0], *[w for w in words[1:] if _ARG.match(w)]]
    return ["diff", "-u", "-N"]


async def merged_object(session: Session, args: argparse.Namespace, res: Resource, namespace: str | None,
                        obj: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """The object as the server would make it from ``obj`` (nothing is kept)."""
    name = (obj.get("metadata") or {}).get("name", "")
    if args.server_side:
        manager = args.field_manager if args.field_manager != "kubectl-client-side-apply" else "kubectl"
        params = {"fieldManager": manager, "force": "true" if args.force_conflicts else "false", "dryRun": "All"}
        resp = await session.client.request("PATCH", res.rt.path(namespace, name), params=params,
                                            content=threeway.go_json(obj),
                                            headers={"Content-Type": "application/apply-patch+yaml"})
        applied: dict[str, Any] = resp.json()
        return applied
    params = {"fieldManager": args.field_manager, "dryRun": "All"}
    if live is None:
        resp = await session.client.request("POST", res.rt.path(namespace), params=params, json=obj)
        created: dict[str, Any] = resp.json()
        return created
    # kubectl's GetModifiedConfiguration(annotate=false): the manifest, its annotations map set,
    # without a last-applied annotation of its own.
    modified = copy.deepcopy(obj)
    meta = modified.setdefault("metadata", {})
    if not isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {}
    meta["annotations"].pop(threeway.LAST_APPLIED, None)
    for attempt in range(_RETRIES + 1):
        original = threeway.original_configuration(live)
        patch, patch_type = threeway.patch_for(obj["apiVersion"], obj["kind"], original, modified, live)
        patch.setdefault("metadata", {})["resourceVersion"] = (live.get("metadata") or {}).get("resourceVersion")
        ctype = {"strategic": "application/strategic-merge-patch+json",
                 "merge": "application/merge-patch+json"}[patch_type]
        try:
            resp = await session.client.request("PATCH", res.rt.path(namespace, name), params=params,
                                                content=threeway.go_json(patch), headers={"Content-Type": ctype})
            patched: dict[str, Any] = resp.json()
            return patched
        except errors.Conflict:
            if attempt == _RETRIES:
                raise
            live = await session.client.get(res.rt, name, namespace=namespace)
    raise AssertionError("unreachable")


async def cmd_diff(session: Session, args: argparse.Namespace) -> int:
    try:
        pairs = await _collect(session, args)
    except (errors.ApiError, CliError) as e:
        print(format_error(e, server=session.server), file=sys.stderr)
        raise ExitSilently(2) from None
    return await asyncio.to_thread(_run_diff, pairs)


async def _collect(session: Session, args: argparse.Namespace) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(file name, live, merged) per object of the manifests."""
    out = []
    for m in await common.read_manifests(args):
        res, namespace = await common.resolve_manifest(session, m)
        obj = m.obj
        try:
            live = await session.client.get(res.rt, m.name, namespace=namespace)
        except errors.NotFound:
            live = None
        merged = await merged_object(session, args, res, namespace, obj, live)
        live_out = _clean(live, args.show_managed_fields)
        merged_out = _clean(merged, args.show_managed_fields)
        for o in (live_out, merged_out):
            if o is not None:
                o.setdefault("apiVersion", obj["apiVersion"])
                o.setdefault("kind", obj["kind"])
        if obj.get("kind") == "Secret" and obj["apiVersion"] == "v1":
            mask_secrets(live_out, merged_out)
        out.append((file_name(obj, namespace), live_out, merged_out))
    return out


def _temp_dir(prefix: str) -> str:
    """A new private directory named as Go's ``os.MkdirTemp`` names them (``LIVE-1578920316``)."""
    import secrets

    for _ in range(100):
        path = os.path.join(tempfile.gettempdir(), f"{prefix}{secrets.randbelow(4294967296)}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    return tempfile.mkdtemp(prefix=prefix)


def _run_diff(pairs: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]) -> int:
    fmt = printers.OutputFormat("yaml")
    live_dir = _temp_dir("LIVE-")
    merged_dir = _temp_dir("MERGED-")
    try:
        for name, live, merged in pairs:
            for where, obj in ((live_dir, live), (merged_dir, merged)):
                # an absent object is an empty file, as kubectl writes it
                with open(os.path.join(where, name), "w", encoding="utf-8") as f:
                    f.write(fmt.render([obj], single=True) if obj is not None else "")
        cmd = diff_command()
        sys.stdout.flush()
        try:
            proc = subprocess.run([cmd[0], live_dir, merged_dir, *cmd[1:]], capture_output=True)
        except OSError:
            where = "executable file not found in $PATH" if shutil.which(cmd[0]) is None else "cannot be run"
            print(f'error: failed to run "{cmd[0]}": {where}', file=sys.stderr)
            return 2
        sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
        sys.stdout.flush()
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        if proc.returncode > 1:
            print(f'error: failed to run "{cmd[0]}": exit status {proc.returncode}', file=sys.stderr)
            return 2
        return proc.returncode
    finally:
        shutil.rmtree(live_dir, ignore_errors=True)
        shutil.rmtree(merged_dir, ignore_errors=True)
