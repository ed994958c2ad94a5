"""``mkctl edit``: open live objects in an editor and save what changed, as ``kubectl edit`` does.

The objects (one, or several as a ``v1 List``) are written as YAML under kubectl's comment
header to a temporary file (``-o json``: as JSON, without comments), and ``$KUBE_EDITOR``, else ``$EDITOR``, else
``vi`` is run on it (an editor value with spaces is split into words; one with quotes or
backslashes goes to ``$SHELL -c``). Then, with comment lines dropped:

- no change: ``Edit cancelled, no changes made.`` (exit 0); a changed apiVersion, kind or name:
  an error (a copy of the file kept, exit 1);
- otherwise each changed object is saved with a patch from the object as read to the object as
  edited (strategic merge for built-in kinds, JSON merge for others — a two-way patch, so a
  concurrent change to other fields is kept, and a changed ``resourceVersion`` makes the
  server refuse a stale write with a conflict), ``fieldManager=kubectl-edit``,
  ``fieldValidation=Strict``; ``configmap/x edited``;
- a file that does not parse (an emptied one too, as kubectl 1.32 does despite its header), or
  a save the server refuses as invalid, reopens the editor on the edited text with kubectl's error comment
  (``# configmaps "x" was not valid:`` / ``# * FIELD: MESSAGE``) after printing ``error:
  configmaps "x" is invalid``; saving it again unchanged gives up (``Edit cancelled, no valid
  changes were saved.``, a copy kept, exit 1). Other server errors keep a copy and exit 1.
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import subprocess
import sys
import tempfile
from typing import Any

from minik8s import errors
from minik8s.cli import common, printers, threeway
from minik8s.cli.get import resolve_targets
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, ExitSilently, Session, Subparsers

HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
          "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
          "# reopened with the relevant failures.\n#\n")


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("edit", parents=[common_flags], allow_abbrev=False, help="Edit a resource on the server")
    p.add_argument("args", nargs="*", metavar="(RESOURCE/NAME | -f FILENAME)")
    p.add_argument("-o", "--output", default=None, choices=("yaml", "json", "name"),
                   help="the format to edit in (yaml by default) and to print the saved objects in")
    p.add_argument("--subresource", default=None, help="edit this subresource (status)")
    common.add_filename_flags(p)
    common.add_selector_flag(p)
    common.add_field_manager(p, "kubectl-edit")
    p.add_argument("--validate", default="strict", choices=("strict", "warn", "ignore", "true", "false"))
    p.set_defaults(func=cmd_edit)


def editor_command(path: str) -> list[str]:
    """kubectl's editor launcher for ``path``."""
    editor = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    if " " not in editor:
        return [editor, path]
    if not any(c in editor for c in "\"'\\"):
        return [*editor.split(" "), path]
    shell = os.environ.get("SHELL") or "/bin/bash"
    return [shell, "-c", f"{editor} {shlex.quote(path)}"]


def strip_comments(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))


def resource_name(res: Resource) -> str:
    return f"{res.rt.plural}.{res.rt.group}" if res.rt.group else res.rt.plural


async def cmd_edit(session: Session, args: argparse.Namespace) -> int:
    targets = await _targets(session, args)
    if not targets:
        raise CliError("no objects passed to edit")
    originals = [obj for _, _, obj in targets]
    fmt = printers.OutputFormat("json" if args.output == "json" else "yaml")
    doc = originals[0] if len(originals) == 1 else {"apiVersion": "v1", "kind": "List", "metadata": {},
                                                    "items": originals}
    body = fmt.render([doc], single=True)
    suffix = ".json" if args.output == "json" else ".yaml"
    problems: list[str] = []
    previous: str | None = None
    while True:
        # JSON has no comments: kubectl writes neither the header nor the errors into a .json file
        comments = "" if suffix == ".json" else \
            HEADER + "".join(f"# {line}\n" if line else "#\n" for line in problems)
        path = _write_temp(comments + body, suffix)
        proc = subprocess.run(editor_command(path))
        if proc.returncode != 0:
            raise CliError(f"there was a problem with the editor \"{editor_command(path)[0]}\"")
        with open(path, encoding="utf-8") as f:
            edited_text = f.read()
        stripped = strip_comments(edited_text)
        if previous is not None and stripped == previous:
            print(f'A copy of your changes has been stored to "{path}"', file=sys.stderr)
            print("error: Edit cancelled, no valid changes were saved.", file=sys.stderr)
            raise ExitSilently(1)
        previous, body = stripped, stripped
        try:
            edited, problems = _parse(stripped, targets)
        except CliError:
            print(f'A copy of your changes has been stored to "{path}"', file=sys.stderr)
            raise
        os.unlink(path)
        if not problems and edited is not None:
            if all(e == o for e, o in zip(edited, originals)):
                print("Edit cancelled, no changes made.", file=sys.stderr)
                return 0
            problems = await _save(session, args, targets, edited)
            if not problems:
                return 0
        for res, _, obj in targets[:1]:
            print(f'error: {resource_name(res)} "{obj["metadata"]["name"]}" is invalid', file=sys.stderr)


def _write_temp(text: str, suffix: str) -> str:
    fd, path = tempfile.mkstemp(prefix="mkctl-edit-", suffix=suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _parse(text: str, targets: list[tuple[Resource, str | None, dict[str, Any]]]) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """The edited objects, in the order read, or the error comment lines."""
    import yaml

    first_res, _, first = targets[0]
    head = f'{resource_name(first_res)} "{first["metadata"]["name"]}" was not valid:'
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return None, [head, f'* <nil>: Invalid value: "The edited file failed validation": {_one_line(e)}', ""]
    if doc is None:  # kubectl 1.32 takes an emptied file as an invalid object, not as "abort"
        return None, [head, '* <nil>: Invalid value: "The edited file failed validation": invalid object to '
                            "validate", ""]
    items = doc.get("items") if isinstance(doc, dict) and len(targets) > 1 else [doc]
    if not isinstance(items, list) or len(items) != len(targets) or not all(isinstance(i, dict) for i in items):
        return None, [head, '* <nil>: Invalid value: "The edited file failed validation": the edited file must hold '
                            "the objects that were opened, no more and no fewer", ""]
    for item, (_, _, orig) in zip(items, targets):
        if any(item.get(k) != orig.get(k) for k in ("apiVersion", "kind")) or \
                (item.get("metadata") or {}).get("name") != orig["metadata"]["name"]:
            raise CliError("At least one of apiVersion, kind and name was changed")
    return items, []


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


async def _save(session: Session, args: argparse.Namespace, targets: list[tuple[Resource, str | None, dict[str, Any]]],
                edited: list[dict[str, Any]]) -> list[str]:
    """Patch every changed object; kubectl's comment lines for the invalid ones."""
    problems: list[str] = []
    validation = {"strict": "Strict", "true": "Strict", "warn": "Warn", "ignore": "Ignore", "false": "Ignore"}
    for (res, ns, orig), new in zip(targets, edited):
        name = orig["metadata"]["name"]
        if new == orig:
            continue
        patch, patch_type = threeway.patch_for(orig["apiVersion"], orig["kind"], orig, new, orig)
        ctype = {"strategic": "application/strategic-merge-patch+json",
                 "merge": "application/merge-patch+json"}[patch_type]
        params = {"fieldManager": args.field_manager, "fieldValidation": validation[args.validate]}
        try:
            resp = await session.client.request("PATCH", res.rt.path(ns, name, args.subresource), params=params,
                                                content=threeway.go_json(patch), headers={"Content-Type": ctype})
        except (errors.Invalid, errors.BadRequest) as e:
            problems.append(f'{resource_name(res)} "{name}" was not valid:')
            causes = e.causes or [{"field": "<nil>", "message": e.message}]
            problems.extend(f'* {c.get("field") or "<nil>"}: {c.get("message", "")}' for c in causes)
            problems.append("")
            continue
        saved = {"apiVersion": res.rt.api_version, "kind": res.rt.kind, **resp.json()}
        common.print_done(res, saved, "edited", output=args.output)
        sys.stdout.flush()
    return problems


async def _targets(session: Session, args: argparse.Namespace) -> list[tuple[Resource, str | None, dict[str, Any]]]:
    """(resource, namespace, live object) of each object to edit, as read now."""
    named: list[tuple[Resource, str | None, str]] = []
    if args.filename:
        for m in await common.read_manifests(args):
            res, ns = await common.resolve_manifest(session, m)
            named.append((res, ns, m.name))
    elif not args.args:
        raise CliError("You must provide one or more resources by argument or filename.\nExample resource "
                       "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   "
                       "'<resource> <name>'\n   '<resource>'")
    else:
        for res, names in (await resolve_targets(session, args.args))[0]:
            ns = session.namespace if res.rt.namespaced else None
            if names:
                named.extend((res, ns, n) for n in names)
                continue
            doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector)
            named.extend((res, ns, i["metadata"]["name"]) for i in doc.get("items") or [])
    out = []
    for res, ns, name in named:
        path = res.rt.path(ns, name, args.subresource)
        obj = (await session.client.request("GET", path)).json()
        obj = {"apiVersion": res.rt.api_version, "kind": res.rt.kind, **obj}
        (obj.get("metadata") or {}).pop("managedFields", None)
        out.append((res, ns, copy.deepcopy(obj)))
    return out
