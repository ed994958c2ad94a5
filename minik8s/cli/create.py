"""``mkctl create -f``, the ``create`` generators (deployment, namespace, configmap,
secret generic) and ``mkctl replace -f``.

The generators build the same objects kubectl's do (``creationTimestamp: null``, empty
``resources``/``strategy``/``status``, container names from image names), so
``--dry-run=client -o yaml`` prints what kubectl prints.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import string
import sys
from typing import Any

from minik8s import errors
from minik8s.api import resources as builtin
from minik8s.cli import common, threeway
from minik8s.cli.resources import Resource
from minik8s.cli.session import CliError, Session, Subparsers, format_error, source_error


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("create", parents=[common_flags], help="Create a resource from a file or from stdin",
                       allow_abbrev=False)
    common.add_filename_flags(p, what="to create ")
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-create")
    p.add_argument("--save-config", action="store_true", help="record the last-applied-configuration annotation")
    p.add_argument("--validate", default="strict", help="how the server treats unknown fields")
    p.set_defaults(func=cmd_create_files, needs_loop=False)
    gens = p.add_subparsers(dest="generator", metavar="GENERATOR", parser_class=type(p))

    def gen(name: str, func: Any, help_text: str, aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        g: argparse.ArgumentParser = gens.add_parser(name, parents=[common_flags], help=help_text, aliases=list(aliases), allow_abbrev=False)
        common.add_output_flag(g)
        common.add_dry_run(g)
        common.add_field_manager(g, "kubectl-create")
        g.add_argument("--save-config", action="store_true")
        g.add_argument("--validate", default="strict")
        g.set_defaults(func=func, needs_loop=False)
        return g

    d = gen("deployment", cmd_create_deployment, "Create a deployment with the specified name", ("deploy",))
    d.add_argument("name")
    d.add_argument("--image", action="append", default=[], required=True, help="image(s) to run")
    d.add_argument("-r", "--replicas", type=int, default=1)
    d.add_argument("--port", type=int, default=-1, help="the port the container exposes")

    n = gen("namespace", cmd_create_namespace, "Create a namespace with the specified name", ("ns",))
    n.add_argument("name")

    c = gen("configmap", cmd_create_configmap, "Create a config map from a file, directory, or literal value",
            ("cm",))
    c.add_argument("name")
    _data_flags(c)
    c.add_argument("--append-hash", action="store_true")

    s = gen("secret", cmd_create_secret, "Create a secret")
    s.add_argument("secret_type", choices=("generic",), metavar="generic")
    s.add_argument("name")
    _data_flags(s)
    s.add_argument("--type", default="", help="the type of the secret")
    s.add_argument("--append-hash", action="store_true")

    r = sub.add_parser("replace", parents=[common_flags], help="Replace a resource by file name or stdin",
                       allow_abbrev=False)
    common.add_filename_flags(r, what="to replace ")
    common.add_output_flag(r)
    common.add_dry_run(r)
    common.add_field_manager(r, "kubectl-replace")
    r.add_argument("--force", action="store_true", help="delete and re-create the object")
    r.add_argument("--save-config", action="store_true")
    r.add_argument("--validate", default="strict")
    r.set_defaults(func=cmd_replace, needs_loop=_forcing)


def _data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from-literal", action="append", default=[], help="key=value")
    p.add_argument("--from-file", action="append", default=[], help="[key=]path (a directory: each file)")
    p.add_argument("--from-env-file", action="append", default=[], help="a file of KEY=value lines")


def _validation(value: str) -> str:
    return {"strict": "Strict", "true": "Strict", "warn": "Warn"}.get(value, "Ignore")


# --- create -f ------------------------------------------------------------------------------


async def cmd_create_files(session: Session, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("must specify one of -f and -k\n\nerror: Unexpected args: []\nSee 'mkctl create -h' for "
                       "help and examples", raw=False)
    failures = 0
    for m in await common.read_manifests(args):
        try:
            res, namespace = await common.resolve_manifest(session, m)
            obj = threeway.modified_configuration(m.obj) if args.save_config else m.obj
            if args.dry_run == "client":
                common.print_done(res, obj, "created", output=args.output, dry_run="client")
                continue
            try:
                created = await create_object(session, res, namespace, obj, args)
            except errors.ApiError as e:
                raise source_error("creating", m.source, e) from None
            common.print_done(res, created, "created", output=args.output, dry_run=args.dry_run)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


async def create_object(session: Session, res: Resource, namespace: str | None, obj: dict[str, Any],
                        args: argparse.Namespace) -> dict[str, Any]:
    params = {"fieldManager": args.field_manager, "fieldValidation": _validation(getattr(args, "validate", "strict")),
              "dryRun": "All" if args.dry_run == "server" else None}
    resp = await session.client.request("POST", res.rt.path(namespace), params=params, json=obj)
    created: dict[str, Any] = resp.json()
    return created


async def _finish_generated(session: Session, args: argparse.Namespace, res: Resource, obj: dict[str, Any]) -> int:
    """Create (or only print) a generated object; kubectl's wording either way."""
    namespace = session.namespace if res.rt.namespaced else None
    if namespace and session.namespace_explicit:
        obj["metadata"]["namespace"] = namespace  # kubectl: an explicit -n is written into the object
    if args.save_config:
        obj = threeway.modified_configuration(obj)
    if args.dry_run == "client":
        common.print_done(res, obj, "created", output=args.output, dry_run="client")
        return 0
    created = await create_object(session, res, namespace, obj, args)
    common.print_done(res, created, "created", output=args.output, dry_run=args.dry_run)
    return 0


def _resource(rt: builtin.ResourceType) -> Resource:
    return Resource(rt, (), frozenset(), rt.categories, True)


# --- generators -----------------------------------------------------------------------------


def container_name(image: str) -> str:
    """kubectl's name for a container running ``image``: its last path part without tag or
    digest; ``_`` and ``.`` make it invalid, so those are replaced and a suffix makes it unique."""
    name = image.split("/")[-1]
    name = name.split(":")[0] if ":" in name else name
    name = name.split("@")[0] if "@" in name else name
    if "_" in name or "." in name:
        name = name.replace("_", "-").replace(".", "-")
        name = f"{name}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=5))}"
    return name


def deployment_object(name: str, images: list[str], *, replicas: int = 1, port: int = -1,
                      command: list[str] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    containers = []
    for image in images:
        c: dict[str, Any] = {"name": container_name(image), "image": image, "resources": {}}
        if port >= 0:
            c["ports"] = [{"containerPort": port}]
        containers.append(c)
    if command:
        containers[0]["command"] = list(command)
    return {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": name, "creationTimestamp": None, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)},
                         "spec": {"containers": containers}},
            "strategy": {},
        },
        "status": {},
    }


async def cmd_create_deployment(session: Session, args: argparse.Namespace) -> int:
    if len(args.image) > 1 and args.dash_args:
        raise CliError("cannot specify multiple --image options and command")
    obj = deployment_object(args.name, args.image, replicas=args.replicas, port=args.port, command=args.dash_args)
    return await _finish_generated(session, args, _resource(builtin.DEPLOYMENTS), obj)


async def cmd_create_namespace(session: Session, args: argparse.Namespace) -> int:
    obj = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": args.name, "creationTimestamp": None},
           "spec": {}, "status": {}}
    return await _finish_generated(session, args, _resource(builtin.NAMESPACES), obj)


def collect_data(args: argparse.Namespace) -> dict[str, bytes]:
    """``--from-literal``, ``--from-file`` (files and directories) and ``--from-env-file``,
    checked as kubectl checks them (valid keys, no duplicates)."""
    data: dict[str, bytes] = {}

    def put(key: str, value: bytes) -> None:
        if not _valid_key(key):
            raise CliError(f'"{key}" is not a valid key name for a ConfigMap: a valid config key must consist of '
                           "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                           "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
        if key in data:
            raise CliError(f'cannot add key "{key}", another key by that name already exists in Data for '
                           f'ConfigMap "{args.name}"')
        data[key] = value

    for spec in args.from_file:
        key, sep, path = spec.partition("=")
        if not sep:
            key, path = "", spec
        if not os.path.exists(path):
            raise CliError(f"error reading {path}: no such file or directory")
        if os.path.isdir(path):
            if key:
                raise CliError("cannot give a key name for a directory path")
            for entry in sorted(os.listdir(path)):
                full = os.path.join(path, entry)
                if os.path.isfile(full):
                    put(entry, _read_bytes(full))
        else:
            put(key or os.path.basename(path), _read_bytes(path))
    for spec in args.from_literal:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise CliError(f"invalid literal source {spec}, expected key=value")
        value = _strip_quotes(value)
        put(key, value.encode())
    for path in args.from_env_file:
        for _lineno, line in enumerate(_read_bytes(path).decode().splitlines(), 1):
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep:
                value = os.environ.get(key, "")
            put(key, value.encode())
    return data


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"error reading {path}: {e.strerror}") from None


def _valid_key(key: str) -> bool:
    return bool(key) and len(key) <= 253 and all(ch.isalnum() or ch in "-._" for ch in key) and key not in (".", "..")


async def cmd_create_configmap(session: Session, args: argparse.Namespace) -> int:
    raw = collect_data(args)
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in raw.items():
        try:
            data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(value).decode()
    obj: dict[str, Any] = {"kind": "ConfigMap", "apiVersion": "v1",
                           "metadata": {"name": args.name, "creationTimestamp": None}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return await _finish_generated(session, args, _resource(builtin.CONFIGMAPS), obj)


async def cmd_create_secret(session: Session, args: argparse.Namespace) -> int:
    raw = collect_data(args)
    obj: dict[str, Any] = {"kind": "Secret", "apiVersion": "v1",
                           "metadata": {"name": args.name, "creationTimestamp": None}}
    if raw:
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in raw.items()}
    if args.type:
        obj["type"] = args.type
    return await _finish_generated(session, args, _resource(builtin.SECRETS), obj)


# --- replace --------------------------------------------------------------------------------


async def cmd_replace(session: Session, args: argparse.Namespace) -> int:
    if not args.filename:
        raise CliError("must specify --filename to replace")
    failures = 0
    for m in await common.read_manifests(args):
        try:
            res, namespace = await common.resolve_manifest(session, m)
            obj = threeway.modified_configuration(m.obj) if args.save_config else m.obj
            if args.dry_run == "client":
                common.print_done(res, obj, "replaced", output=args.output, dry_run="client")
                continue
            params = {"fieldManager": args.field_manager, "fieldValidation": _validation(args.validate),
                      "dryRun": "All" if args.dry_run == "server" else None}
            try:
                if args.force:
                    await _delete_and_wait(session, res, namespace, m.name)
                    print(f"{common.object_ref(res, m.name)} deleted")
                    resp = await session.client.request("POST", res.rt.path(namespace), params=params, json=obj)
                else:
                    resp = await session.client.request("PUT", res.rt.path(namespace, m.name), params=params, json=obj)
            except errors.ApiError as e:
                raise source_error("replacing", m.source, e) from None
            common.print_done(res, resp.json(), "replaced", output=args.output, dry_run=args.dry_run)
        except (errors.ApiError, CliError) as e:
            failures += 1
            print(format_error(e, server=session.server), file=sys.stderr)
    return 1 if failures else 0


def _forcing(args: argparse.Namespace) -> bool:
    """``replace --force`` waits for the old object to go (a watch, on the event loop)."""
    return bool(args.force)


async def _delete_and_wait(session: Session, res: Resource, namespace: str | None, name: str) -> None:
    from minik8s.cli import delete as delete_verb  # local: delete's waiting is all we need of it

    try:
        await session.client.delete(res.rt, name, namespace=namespace, propagation_policy="Background")
    except errors.NotFound:
        return
    await delete_verb.wait_deleted(session, res, namespace, name, uid=None, timeout=None)
