"""``mkctl``: the entry point. Parses the command line as kubectl does (global flags before or
after the verb, ``-o=yaml`` and ``-oyaml`` alike, everything after ``--`` kept for the verb),
opens the session, runs the verb on one event loop and turns failures into kubectl's messages
and exit codes.

Each verb module adds its own parser with ``add_parsers(sub, common)`` and sets ``func`` (an
``async def (session, args) -> int | None``) and, for verbs that need no server, ``offline``
(or a function of the arguments saying so).
A verb runs on an asyncio event loop unless it sets ``needs_loop`` False (or to a function of
its arguments saying so): the session's one-shot client never suspends, so a verb that only
awaits the client (no sleeps, timeouts, tasks, watches or WebSockets) runs to its end without
a loop, and asyncio is not even imported.

Start-up time is most of a one-shot command's wall time, so nothing is imported before it is
needed: :data:`VERBS` names the module of each verb, and only the module of the verb being run
is imported (its parser added, its code run). ``mkctl --help`` and an unknown verb import them
all, to list every verb. A new verb is one line in :data:`VERBS` (``tests/unit/test_mkctl_startup.py``
checks the table against what the modules register).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from minik8s.cli.session import CliError, ExitSilently, format_error, open_session

# verb -> the module under minik8s.cli that adds its parser and runs it, in the order
# ``mkctl --help`` lists them.
VERBS: dict[str, str] = {
    "get": "get", "apply": "apply", "create": "create", "replace": "create", "delete": "delete",
    "describe": "describe", "logs": "logs", "exec": "exec", "rollout": "rollout", "scale": "scale",
    "set": "set_image", "label": "label", "annotate": "label", "expose": "expose", "run": "run",
    "cordon": "nodes", "uncordon": "nodes", "drain": "nodes", "config": "config", "explain": "explain",
    "version": "misc", "cluster-info": "misc", "api-resources": "misc", "service": "misc",
    "patch": "patch", "taint": "taint", "wait": "wait", "diff": "diff", "edit": "edit", "kustomize": "kustomize",
}

_GLOBALS = ("kubeconfig", "context", "namespace", "server", "request_timeout", "verbosity", "cache_dir",
            "insecure_skip_tls_verify", "impersonate", "impersonate_group", "impersonate_uid")
# The global flags that take a value as the next word (``-n ns get``): skipped when finding the verb.
_VALUE_FLAGS = frozenset({"--kubeconfig", "--context", "-n", "--namespace", "-s", "--server", "--request-timeout",
                          "-v", "--v", "--cache-dir", "--as", "--as-group", "--as-uid"})


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, sized without ``shutil`` (whose import pulls in bz2 and lzma):
    argparse makes one for every argument added, so every command would pay for it."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's, else 80."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Parser(argparse.ArgumentParser):
    """argparse that fails as kubectl does: ``error: ...`` plus the help hint, exit status 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(
            self, args: Iterable[str] | None = None, namespace: Any = None) -> tuple[Any, list[str]]:
        """pflag takes positionals anywhere among the flags (``label pods --all app=x``); argparse
        stops filling a ``nargs="*"`` positional at the first flag and leaves the rest over. Those
        left-over words go back to the verb's word list, in order; unknown flags stay left over."""
        namespace, extra = super().parse_known_args(args, namespace)
        words = [a for a in extra if not a.startswith("-")]
        lists = [a for a in self._actions if not a.option_strings and a.nargs == "*"]
        if words and len(lists) == 1:
            dest = lists[0].dest
            setattr(namespace, dest, [*(getattr(namespace, dest, None) or []), *words])
            extra = [a for a in extra if a.startswith("-")]
        return namespace, extra

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("unrecognized arguments: "):
            extra = message.removeprefix("unrecognized arguments: ").split()
            flags = [a for a in extra if a.startswith("-")]
            message = f"unknown flag: {flags[0]}" if flags else f"unexpected arguments: {' '.join(extra)}"
        elif message.startswith("argument ") and "invalid choice" in message:
            pass
        verb = self.prog.replace("mkctl", "").strip() or ""
        hint = f"See 'mkctl {verb} --help' for usage." if verb else "See 'mkctl --help' for usage."
        raise CliError(f"{message}\n{hint}")


def global_flags() -> argparse.ArgumentParser:
    """The flags every verb takes; defaults SUPPRESS so a verb's parser never overwrites a value
    given before the verb."""
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False, formatter_class=_Formatter)
    s = argparse.SUPPRESS
    p.add_argument("--kubeconfig", default=s, help="path to the kubeconfig file")
    p.add_argument("--context", default=s, help="the kubeconfig context to use")
    p.add_argument("-n", "--namespace", default=s, help="the namespace scope of this request")
    p.add_argument("-s", "--server", default=s, help="the address and port of the API server")
    p.add_argument("--request-timeout", default=s, help="how long to wait for one request (0: no limit)")
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=s, help="log level")
    p.add_argument("--cache-dir", default=s,
                   help="the discovery cache's directory (default $KUBECACHEDIR, else ~/.kube/cache)")
    p.add_argument("--insecure-skip-tls-verify", action="store_true", default=s,
                   help="do not check the server's certificate")
    p.add_argument("--as", dest="impersonate", default=s, help="username to impersonate for the operation")
    p.add_argument("--as-group", dest="impersonate_group", action="append", default=s,
                   help="group to impersonate for the operation (repeat for several)")
    p.add_argument("--as-uid", dest="impersonate_uid", default=s, help="UID to impersonate for the operation")
    return p


def verb_modules(verb: str | None = None) -> list[str]:
    """The modules (``minik8s.cli.<name>``) to load for ``verb``: its own, or all of them when
    the verb is unknown or absent (help and argparse's "invalid choice" list every verb)."""
    if verb in VERBS:
        return [VERBS[verb]]
    return list(dict.fromkeys(VERBS.values()))


def find_verb(argv: Sequence[str]) -> str | None:
    """The first word of the command line that is neither a flag nor a global flag's value, as
    cobra finds the command before it parses flags."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(verb: str | None = None) -> Parser:
    """The parser with the verbs of :func:`verb_modules`; their modules are imported here."""
    common = global_flags()
    parser = Parser(prog="mkctl", description="mkctl controls a minik8s cluster, as kubectl does.",
                    parents=[common], allow_abbrev=False)
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    for name in verb_modules(verb):
        importlib.import_module(f"minik8s.cli.{name}").add_parsers(sub, common)
    return parser


def _normalize(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``-o=yaml`` → ``-o yaml`` (pflag accepts both); split off what follows ``--``."""
    rest: list[str] | None = None
    if "--" in argv:
        idx = argv.index("--")
        argv, rest = argv[:idx], argv[idx + 1:]
    out = []
    for a in argv:
        if len(a) > 2 and a[0] == "-" and a[1] != "-" and a[2] == "=":
            out.extend([a[:2], a[3:]])
        else:
            out.append(a)
    return out, rest


def run(argv: Sequence[str]) -> int:
    """Run one mkctl command; the exit status. Output goes to ``sys.stdout``/``sys.stderr``."""
    args_list, rest = _normalize(list(argv))
    parser = build_parser(find_verb(args_list))
    try:
        args = parser.parse_args(args_list)
    except CliError as e:
        _print_error(format_error(e))
        return e.code
    for name in _GLOBALS:
        if not hasattr(args, name):
            setattr(args, name, None)
    args.dash_args = rest
    if not getattr(args, "verb", None):
        parser.print_help()
        return 0
    if not hasattr(args, "func"):
        # a verb group (``rollout``, ``config``, ``create`` without a generator) needs a sub-verb
        sub_help = getattr(args, "group_help", None)
        if sub_help is not None:
            sub_help()
            return 0 if getattr(args, "group_ok", False) else 1
        parser.print_help()
        return 1
    try:
        if not needs_loop(args):
            return run_without_loop(_dispatch(args))
        import asyncio

        return asyncio.run(_dispatch(args))
    except KeyboardInterrupt:
        return 130


def needs_loop(args: argparse.Namespace) -> bool:
    """Whether the parsed command runs on an event loop (the verb's ``needs_loop``, default yes)."""
    needs = getattr(args, "needs_loop", True)
    return bool(needs(args) if callable(needs) else needs)


def run_without_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine whose awaits all complete at once to its end, with no event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        status: int = done.value  # the verb's exit status (StopIteration.value is Any)
        return status
    coro.close()
    raise RuntimeError("an mkctl verb declared needs_loop=False suspended: it awaits more than the client")


async def _dispatch(args: argparse.Namespace) -> int:
    session = None
    server = args.server or "http://localhost:8080"
    try:
        offline = getattr(args, "offline", False)
        if not (offline(args) if callable(offline) else offline):
            session = open_session(args)
            session.client.on_loop = needs_loop(args)
            server = session.server
        result = await args.func(session, args)
        return int(result or 0)
    except ExitSilently as e:
        return e.code
    except CliError as e:
        _print_error(format_error(e, server=server))
        return e.code
    except Exception as e:
        from minik8s import errors

        if isinstance(e, errors.MiniK8sError):
            _print_error(format_error(e, server=server))
            return 1
        raise
    finally:
        if session is not None:
            await session.close()


def _print_error(message: str) -> None:
    sys.stdout.flush()
    print(message.rstrip("\n"), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: ``mkctl = "minik8s.cli.main:main"``."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()
    except BrokenPipeError:
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
