"""The apiserver's etcd flags, as Kubernetes names them, and the store they select.

``--etcd-servers=URL,...`` puts the state in etcd (:mod:`apiserver.storage.etcd`); without it the
embedded SQLite store under ``--data-dir`` stays the default. ``--etcd-prefix`` (default
``/registry``) roots every key; ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile`` secure
the connection to an ``https://`` cluster; ``--etcd-compaction-interval`` (default 5m0s, 0
disables) is how often the apiserver compacts etcd's history, as Kubernetes does.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apiserver.storage.etcd import EtcdStorage

__all__ = ["Options", "add_flags", "from_args", "build"]


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    servers: str | None = None
    prefix: str = "/registry"
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    compaction_interval: float = 300.0


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("etcd")
    g.add_argument("--etcd-servers", default=None, metavar="URL,...",
                   help="etcd servers to keep the state in (http(s)://host:port, comma-separated); "
                        "default: the embedded SQLite store under --data-dir")
    g.add_argument("--etcd-prefix", default="/registry", help="the prefix of every key in etcd (default /registry)")
    g.add_argument("--etcd-cafile", default=None, help="SSL certificate authority file for etcd")
    g.add_argument("--etcd-certfile", default=None, help="SSL certification file for etcd")
    g.add_argument("--etcd-keyfile", default=None, help="SSL key file for etcd")
    g.add_argument("--etcd-compaction-interval", default="5m0s",
                   help="how often etcd's history is compacted (Go duration; 0 disables; default 5m0s)")


def _seconds(p: argparse.ArgumentParser, flag: str, text: str) -> float:
    from minik8s.cli.session import CliError, parse_duration

    try:
        return parse_duration(text) or 0.0
    except CliError:
        p.error(f"{flag}: invalid duration {text!r} (e.g. 5m0s, 300s, 0)")
        raise


def from_args(a: argparse.Namespace, p: argparse.ArgumentParser) -> Options:
    interval = _seconds(p, "--etcd-compaction-interval", a.etcd_compaction_interval)
    if a.etcd_servers is None:
        for flag in ("etcd_cafile", "etcd_certfile", "etcd_keyfile"):
            if getattr(a, flag):
                p.error(f"--{flag.replace('_', '-')} needs --etcd-servers")
        return Options(compaction_interval=interval)
    # gRPC and the etcd client cost ~10 MiB of memory: only an apiserver on etcd loads them
    from apiserver.storage.etcd import parse_servers

    try:
        endpoints = parse_servers(a.etcd_servers)
    except ValueError as e:
        p.error(str(e))
    if not a.etcd_prefix.startswith("/"):
        p.error(f"--etcd-prefix: {a.etcd_prefix!r} must start with /")
    if bool(a.etcd_certfile) != bool(a.etcd_keyfile):
        p.error("--etcd-certfile and --etcd-keyfile go together")
    for flag in ("etcd_cafile", "etcd_certfile", "etcd_keyfile"):
        path = getattr(a, flag)
        if path and not os.path.isfile(path):
            p.error(f"--{flag.replace('_', '-')}: {path} is not a file")
        if path and endpoints[0][0] != "https":
            p.error(f"--{flag.replace('_', '-')} needs https:// --etcd-servers")
    return Options(a.etcd_servers, a.etcd_prefix, a.etcd_cafile, a.etcd_certfile, a.etcd_keyfile, interval)


def build(opts: Options) -> EtcdStorage:
    from apiserver.storage.etcd import EtcdStorage

    assert opts.servers is not None
    return EtcdStorage(opts.servers, prefix=opts.prefix, ca_file=opts.cafile, cert_file=opts.certfile,
                       key_file=opts.keyfile, compaction_interval=opts.compaction_interval)
