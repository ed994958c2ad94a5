"""What several verbs share: their common flags (``-f``/``-R``, ``-o``, ``-l``, ``--dry-run``),
reading manifests, mapping a manifest to its resource and namespace, fetching
Tables, and the ``deployment.apps/web created`` lines kubectl prints after a write."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from minik8s.cli import printers
from minik8s.cli.resources import Resource, kind_group
from minik8s.cli.session import CliError, Session

if TYPE_CHECKING:
    from minik8s.cli import manifests


class KustomizeDir(str):
    """A ``-k DIR`` among the ``-f`` sources: :func:`read_manifests` builds the kustomization in it
    instead of reading files, so every verb taking ``-f`` takes ``-k`` as kubectl's do."""


def add_filename_flags(p: argparse.ArgumentParser, *, required: bool = False, what: str = "") -> None:
    p.add_argument("-f", "--filename", action="append", default=[], required=required,
                   help=f"file, directory or URL of manifests {what}('-' for stdin)")
    p.add_argument("-k", "--kustomize", action="append", dest="filename", type=KustomizeDir,
                   help=f"directory of a kustomization whose objects to take {what}instead of -f")
    p.add_argument("-R", "--recursive", action="store_true", help="read directories given with -f recursively")


def add_output_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default=None,
                   help="json|yaml|name|wide|jsonpath=...|custom-columns=...")


def comma_list(value: str) -> list[str]:
    """A pflag string-slice value: comma-separated, empty items dropped (``-L app,tier``)."""
    return [v for v in value.split(",") if v]


def add_selector_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--selector", default=None, help="label selector, e.g. -l app=web,tier!=db")


def add_dry_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", nargs="?", const="client", default="none", choices=("none", "client", "server"),
                   help="client: only print what would be sent; server: the server checks it but keeps nothing")


def add_field_manager(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--field-manager", default=default, help="name of the manager of the fields written")


def dry_run_suffix(dry_run: str) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")


async def read_manifests(args: argparse.Namespace) -> list[manifests.Manifest]:
    """The ``-f`` objects. Read where the verb runs: a command has nothing else to do meanwhile,
    and a verb run without an event loop has no thread pool to hand the reads to."""
    dirs = [f for f in args.filename if isinstance(f, KustomizeDir)]
    if dirs and len(dirs) != len(args.filename):
        raise CliError("only one of -f or -k can be specified")
    if dirs:
        return kustomized(dirs[-1])  # a string flag in kubectl: the last one counts
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    from minik8s.cli import manifests  # local: yaml is imported only by the commands that read files

    stdin_text = sys.stdin.read() if "-" in args.filename else None
    return manifests.read(args.filename, recursive=args.recursive, stdin_text=stdin_text)


def kustomized(directory: str) -> list[manifests.Manifest]:
    """``-k DIR``: the objects the kustomization builds, as manifests from ``DIR``."""
    from minik8s.cli import kustomize, manifests

    objects = kustomize.build(directory)
    return [manifests.Manifest(obj, directory, i, len(objects)) for i, obj in enumerate(objects)]


async def resolve_manifest(session: Session, m: manifests.Manifest) -> tuple[Resource, str | None]:
    """The resource of a manifest's apiVersion/kind and the namespace it goes to (set on it)."""
    obj = m.obj
    res = await session.resolver.for_kind(obj["apiVersion"], obj["kind"])
    if res is None:
        meta = obj.get("metadata") or {}
        group, _, version = obj["apiVersion"].rpartition("/")
        raise CliError(f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                       f'"{meta.get("namespace", "")}" from {m.where}: no matches for kind "{obj["kind"]}" in '
                       f'version "{obj["apiVersion"]}"\nensure CRDs are installed first')
    meta = obj.setdefault("metadata", {})
    namespace = None
    if res.rt.namespaced:
        given = meta.get("namespace")
        if given and session.namespace_explicit and given != session.namespace:
            raise CliError(f'the namespace from the provided object "{given}" does not match the namespace '
                           f'"{session.namespace}". You must pass \'--namespace={given}\' to perform this operation.')
        namespace = given or session.namespace
        meta["namespace"] = namespace
    return res, namespace


def object_ref(res: Resource | Any, name: str) -> str:
    rt = res.rt if isinstance(res, Resource) else res
    return f"{kind_group(rt)}/{name}"


def print_done(res: Resource, obj: dict[str, Any], verb: str, *, output: str | None = None, dry_run: str = "none") -> None:
    """``pod/web created`` (or the object in ``-o`` form)."""
    if output:
        fmt = printers.OutputFormat(output)
        if fmt.kind == "name":
            print(object_ref(res, (obj.get("metadata") or {}).get("name", "")))
            return
        if not fmt.is_table:
            sys.stdout.write(fmt.render([obj], single=True))
            return
    print(f"{object_ref(res, (obj.get('metadata') or {}).get('name', ''))} {verb}{dry_run_suffix(dry_run)}")


async def get_table(session: Session, res: Resource, *, namespace: str | None, name: str | None = None,
                    params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The server's Table for a list (or one object), asked for as kubectl asks."""
    path = res.rt.path(namespace if res.rt.namespaced else None, name)
    resp = await session.client.request("GET", path, params=params,
                                        headers={"Accept": printers.TABLE_ACCEPT})
    doc: dict[str, Any] = resp.json()
    if doc.get("kind") != "Table":
        items: list[dict[str, Any]] = doc["items"] if "items" in doc else [doc]
        return printers.list_as_table(items)
    return doc


def full_objects(doc: dict[str, Any], res: Resource) -> list[dict[str, Any]]:
    """The items of a List with apiVersion and kind filled in, as kubectl prints them."""
    items = []
    for item in doc.get("items") or []:
        item = {"apiVersion": res.rt.api_version, "kind": res.rt.kind, **item}
        items.append(item)
    return items


def write_output(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
