"""``mkctl kustomize DIR``: print the objects a kustomization builds, as ``kubectl kustomize``
does (YAML documents separated by ``---``, kustomize's warnings on stderr). The building is
:mod:`minik8s.cli.kust`; ``mkctl apply -k DIR`` applies the same objects."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minik8s.cli.session import CliError, Session, Subparsers


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("kustomize", parents=[common_flags], allow_abbrev=False,
                       help="Build a kustomization target from a directory")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR")
    p.add_argument("-o", "--output", default=None, help="write the output to this file instead of stdout")
    p.set_defaults(func=cmd_kustomize, offline=True, needs_loop=False)


def build(path: str) -> list[dict[str, Any]]:
    """The objects of the kustomization at ``path``; kustomize's warnings go to stderr."""
    from minik8s.cli.kust import build as kbuild

    objects, warnings = kbuild.build(path)
    for w in warnings:
        print(w, file=sys.stderr)
    return objects


def render(objects: list[dict[str, Any]]) -> str:
    from minik8s.cli import printers

    fmt = printers.OutputFormat("yaml")
    return "---\n".join(fmt.render([o], single=True) for o in objects)


async def cmd_kustomize(session: Session, args: argparse.Namespace) -> int:
    import os

    if not os.path.isdir(args.dir):
        raise CliError(f"must build at directory: '{args.dir}': file is not directory")
    text = render(build(args.dir))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
