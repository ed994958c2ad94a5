"""``minik8s``: the one-command cluster.

::

    minik8s up      [--data-dir D] [--port P] [--nodes N] [--disable-<component>] [node flags]
    minik8s join    URL [--token T] [--node-name N] [node flags]
    minik8s status  [--data-dir D]
    minik8s down    [--data-dir D]
    minik8s store   copy --from sqlite:DIR --to etcd:URL | snapshot save|restore FILE [--data-dir D]

``up`` and ``join`` check the machine first (:mod:`~minik8s.up.preflight`), then run the
supervisor in the foreground (:mod:`~minik8s.up.cluster`); ``status`` and ``down`` work from
any shell through the data dir's state file. ``store`` runs the apiserver's store tool
(``python -m apiserver.storetool``) as a process: minik8s/ imports no component.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from minik8s.up import cluster, preflight
from minik8s.up.config import add_data_dir_flag, add_up_flags, config_from_args
from minik8s.up.join import add_join_flags

__all__ = ["main", "parser"]

log = logging.getLogger("minik8s.up")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik8s", description="A miniature Kubernetes, in one command.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    up = sub.add_parser(
        "up", help="start a cluster on this host: apiserver, scheduler, controller-manager and local node(s)",
        description="Start apiserver, controller-manager, scheduler and local node(s) under one supervisor; "
                    "Ctrl-C stops them (pods' containers keep running).")
    add_up_flags(up)
    join = sub.add_parser(
        "join", help="run a node on this host for a cluster elsewhere",
        description="Run a node agent (kubelet, with its proxy and DNS) on this host against a remote apiserver.")
    add_join_flags(join)
    # Flag errors found after parsing are reported by the subcommand's own parser.
    up.set_defaults(subparser=up)
    join.set_defaults(subparser=join)
    add_data_dir_flag(sub.add_parser("status", help="what runs, and whether it is healthy"))
    add_data_dir_flag(sub.add_parser("down", help="stop the minik8s running from the data dir"))
    store = sub.add_parser("store", add_help=False,
                           help="copy the state between SQLite and etcd; snapshot save|restore the SQLite store")
    store.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _setup_logging(level: str, logfile: Path | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if logfile is not None:
        handlers.append(logging.FileHandler(logfile))
    fmt = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for h in handlers:
        h.setFormatter(fmt)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level.upper())
    for noisy in ("aiohttp", "asyncio", "docker", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run_supervised(p: argparse.ArgumentParser, args: argparse.Namespace, *, join: bool) -> int:
    cfg = config_from_args(p, args, join=join)
    problems = preflight.run_all(cfg)
    if problems:
        for problem in problems:
            print(f"minik8s: error: {problem}", file=sys.stderr)
        return 1
    _setup_logging(cfg.log_level, cfg.logs_dir / "minik8s.log")
    log.info("minik8s %s with %s", cfg.mode, cfg.summary())
    return cluster.run(cfg)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["store"]:  # its flags (--help too) are the store tool's own
        import subprocess

        sys.exit(subprocess.call([sys.executable, "-m", "apiserver.storetool", *argv[1:]]))
    p = parser()
    args = p.parse_args(argv)
    if args.command in ("up", "join"):
        sys.exit(_run_supervised(args.subparser, args, join=args.command == "join"))
    data_dir = Path(os.path.expanduser(args.data_dir)).absolute()
    # status asks the apiserver (the REST client): not imported by the supervisor, which lives on
    if args.command == "status":
        from minik8s.up import status

        sys.exit(status.run(data_dir, sys.stdout))
    from minik8s.up import down

    sys.exit(down.run(data_dir, sys.stdout))


if __name__ == "__main__":
    main()
