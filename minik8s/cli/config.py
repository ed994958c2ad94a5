"""``mkctl config view|get-contexts|current-context|use-context|set-context``: read and edit
kubeconfig files as kubectl does. Reads merge ``$KUBECONFIG`` (first definition of a name
wins); writes go to the file that defines the entry (or the first file), keeping everything
else in it. No server is contacted."""

from __future__ import annotations

import argparse
import copy
import sys
from typing import Any

import yaml

from minik8s.cli import printers
from minik8s.cli.session import CliError, Session, Subparsers
from minik8s.client import kubeconfig


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    c = sub.add_parser("config", parents=[common_flags], help="Modify kubeconfig files", allow_abbrev=False)
    c.set_defaults(group_help=c.print_help, offline=True)
    verbs = c.add_subparsers(dest="config_verb", metavar="SUBCOMMAND", parser_class=type(c))
    v = verbs.add_parser("view", parents=[common_flags], help="Display merged kubeconfig settings")
    v.add_argument("--minify", action="store_true")
    v.add_argument("--raw", action="store_true")
    v.add_argument("--flatten", action="store_true")
    v.add_argument("-o", "--output", default="yaml")
    v.set_defaults(func=cmd_view, offline=True)
    g = verbs.add_parser("get-contexts", parents=[common_flags], help="Describe one or many contexts")
    g.add_argument("names", nargs="*")
    g.add_argument("-o", "--output", default="")
    g.add_argument("--no-headers", action="store_true")
    g.set_defaults(func=cmd_get_contexts, offline=True)
    cc = verbs.add_parser("current-context", parents=[common_flags], help="Display the current-context")
    cc.set_defaults(func=cmd_current_context, offline=True)
    u = verbs.add_parser("use-context", parents=[common_flags], help="Set the current-context", aliases=["use"])
    u.add_argument("name")
    u.set_defaults(func=cmd_use_context, offline=True)
    s = verbs.add_parser("set-context", parents=[common_flags], help="Set a context entry in kubeconfig")
    s.add_argument("name", nargs="?")
    s.add_argument("--current", action="store_true")
    s.add_argument("--cluster", default=None)
    s.add_argument("--user", default=None)
    s.set_defaults(func=cmd_set_context, offline=True)


def _paths(args: argparse.Namespace) -> list[str]:
    return [args.kubeconfig] if args.kubeconfig else kubeconfig.default_paths()


def _load_docs(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in _paths(args):
        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except FileNotFoundError:
            if args.kubeconfig:
                raise CliError(f"stat {path}: no such file or directory") from None
            continue
        except yaml.YAMLError as e:
            raise CliError(f"error loading config file \"{path}\": {e}") from None
        docs.append((path, doc if isinstance(doc, dict) else {}))
    return docs


def merged(args: argparse.Namespace) -> dict[str, Any]:
    """The merged config as kubectl shows it: sections sorted by name, first definition wins."""
    out: dict[str, Any] = {"apiVersion": "v1", "clusters": [], "contexts": [], "current-context": "",
                           "kind": "Config", "preferences": {}, "users": []}
    seen: dict[str, set[str]] = {"clusters": set(), "contexts": set(), "users": set()}
    for _, doc in _load_docs(args):
        for section in ("clusters", "contexts", "users"):
            for entry in doc.get(section) or []:
                if entry.get("name") not in seen[section]:
                    seen[section].add(entry.get("name"))
                    out[section].append(copy.deepcopy(entry))
        if not out["current-context"] and doc.get("current-context"):
            out["current-context"] = doc["current-context"]
    for section in ("clusters", "contexts", "users"):
        out[section].sort(key=lambda e: e.get("name") or "")
        for entry in out[section]:
            key = section[:-1]
            if entry.get(key) is None:
                entry[key] = {}
    if args.context:
        out["current-context"] = args.context
    return out


def _redact(cfg: dict[str, Any]) -> None:
    for entry in cfg["clusters"]:
        if entry["cluster"].get("certificate-authority-data"):
            entry["cluster"]["certificate-authority-data"] = "DATA+OMITTED"
    for entry in cfg["users"]:
        user = entry["user"]
        for key in ("client-certificate-data", "client-key-data"):
            if user.get(key):
                user[key] = "DATA+OMITTED"
        for key in ("token", "password"):
            if user.get(key):
                user[key] = "REDACTED"


async def cmd_view(session: Session | None, args: argparse.Namespace) -> int:
    cfg = merged(args)
    if args.minify:
        current = cfg["current-context"]
        if not current:
            raise CliError("current-context must exist in order to minify")
        ctx = next((c for c in cfg["contexts"] if c["name"] == current), None)
        if ctx is None:
            raise CliError(f'cannot locate context {current}')
        cfg["contexts"] = [ctx]
        cfg["clusters"] = [c for c in cfg["clusters"] if c["name"] == ctx["context"].get("cluster")]
        cfg["users"] = [u for u in cfg["users"] if u["name"] == ctx["context"].get("user")]
    if not args.raw:
        _redact(cfg)
    for section in ("clusters", "contexts", "users"):
        if not cfg[section]:
            cfg[section] = None
    fmt = printers.OutputFormat(args.output)
    if fmt.kind == "json":
        # kubectl prints its Config struct: fields in declaration order, not sorted
        sys.stdout.write(printers.to_json(_struct_order(cfg), sort_keys=False) + "\n")
    else:
        sys.stdout.write(fmt.render([cfg], single=True))
    return 0


_CLUSTER_FIELDS = ("server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority",
                   "certificate-authority-data", "proxy-url", "disable-compression", "extensions")
_USER_FIELDS = ("client-certificate", "client-certificate-data", "client-key", "client-key-data", "token",
                "tokenFile", "as", "as-uid", "as-groups", "as-user-extra", "username", "password", "auth-provider",
                "exec", "extensions")
_CONTEXT_FIELDS = ("cluster", "user", "namespace", "extensions")


def _ordered(d: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: d[k] for k in order if k in d}
    out.update({k: v for k, v in d.items() if k not in out})
    return out


def _struct_order(cfg: dict[str, Any]) -> dict[str, Any]:
    def entries(section: str, key: str, order: tuple[str, ...]) -> list[dict[str, Any]] | None:
        items = cfg.get(section)
        if items is None:
            return None
        return [{"name": e.get("name"), key: _ordered(e.get(key) or {}, order)} for e in items]

    return {"kind": "Config", "apiVersion": "v1", "preferences": cfg.get("preferences") or {},
            "clusters": entries("clusters", "cluster", _CLUSTER_FIELDS),
            "users": entries("users", "user", _USER_FIELDS),
            "contexts": entries("contexts", "context", _CONTEXT_FIELDS),
            "current-context": cfg.get("current-context", "")}


async def cmd_get_contexts(session: Session | None, args: argparse.Namespace) -> int:
    cfg = merged(args)
    contexts = cfg["contexts"]
    missing: list[str] = []
    if args.names:
        missing = [n for n in args.names if n not in {c["name"] for c in contexts}]
        contexts = [c for c in contexts if c["name"] in args.names]
    if args.output == "name":
        for c in contexts:
            print(c["name"])
        return 0
    if args.output:
        raise CliError(f"output must be one of '' or 'name': {args.output}")
    lines = [] if args.no_headers else ["CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE"]
    for c in contexts:
        ctx = c.get("context") or {}
        mark = "*" if c["name"] == cfg["current-context"] else ""
        lines.append(f"{mark}\t{c['name']}\t{ctx.get('cluster', '')}\t{ctx.get('user', '')}\t{ctx.get('namespace', '')}")
    sys.stdout.write(printers.tabwriter(lines))
    if missing:
        # kubectl prints the table of what it found, then fails on what it did not
        raise CliError(f"context {missing[0]} not found")
    return 0


async def cmd_current_context(session: Session | None, args: argparse.Namespace) -> int:
    cfg = merged(args)
    if not cfg["current-context"]:
        raise CliError("current-context is not set")
    print(cfg["current-context"])
    return 0


def _file_defining(args: argparse.Namespace, section: str, name: str) -> tuple[str, dict[str, Any]]:
    docs = _load_docs(args)
    for path, doc in docs:
        if any(e.get("name") == name for e in doc.get(section) or []):
            return path, doc
    if docs:
        return docs[0]
    return _paths(args)[0], {"apiVersion": "v1", "kind": "Config", "preferences": {}}


async def cmd_use_context(session: Session | None, args: argparse.Namespace) -> int:
    cfg = merged(args)
    if args.name not in {c["name"] for c in cfg["contexts"]}:
        raise CliError(f'no context exists with the name: "{args.name}"')
    docs = _load_docs(args)
    # kubectl writes current-context to the first file that sets one, else the first file
    path, doc = next(((p, d) for p, d in docs if d.get("current-context")), docs[0])
    doc["current-context"] = args.name
    kubeconfig.save(path, doc)
    print(f'Switched to context "{args.name}".')
    return 0


async def cmd_set_context(session: Session | None, args: argparse.Namespace) -> int:
    if args.current and args.name:
        raise CliError("you cannot specify both a context name and --current")
    cfg = merged(args)
    name = args.name
    if args.current:
        name = cfg["current-context"]
        if not name:
            raise CliError("no current context is set")
    if not name:
        raise CliError("you must specify a non-empty context name or --current")
    path, doc = _file_defining(args, "contexts", name)
    entries = doc.setdefault("contexts", []) or []
    doc["contexts"] = entries
    found = next((e for e in entries if e.get("name") == name), None)
    created = found is None
    entry: dict[str, Any] = {"name": name, "context": {}} if found is None else found
    if created:
        entries.append(entry)
    ctx = entry.setdefault("context", {}) or {}
    entry["context"] = ctx
    if args.namespace is not None:
        ctx["namespace"] = args.namespace
    if args.cluster is not None:
        ctx["cluster"] = args.cluster
    if args.user is not None:
        ctx["user"] = args.user
    kubeconfig.save(path, doc)
    print(f'Context "{name}" {"created" if created else "modified"}.')
    return 0
