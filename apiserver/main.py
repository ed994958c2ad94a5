"""``minik8s-apiserver``: the API server process.

Parses flags into one config, opens the storage (SQLite under ``--data-dir``; ``--etcd-servers``
is reserved for the etcd backend), logs the effective configuration, and serves the FastAPI app
with uvicorn (uvloop + httptools when available).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import sys

import uvicorn

from apiserver import admission_options, serviceaccount_options
from apiserver.app import create_app, fast_path
from apiserver.auth import bearer_tokens, bootstrap_tokens
from apiserver.storage import diskspace
from apiserver.storage.sqlite import SQLiteStorage

log = logging.getLogger("apiserver")


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    data_dir: str
    host: str
    port: int
    history_window: float
    compaction_interval: float
    log_level: str
    advertise_address: str
    service_accounts: serviceaccount_options.Options = serviceaccount_options.Options()
    admission_plugins: tuple[str, ...] = admission_options.DEFAULT_ON
    enable_bootstrap_token_auth: bool = False
    default_toleration_seconds: tuple[int, int] = (300, 300)  # not-ready, unreachable


def primary_ipv4() -> str:
    """The source address of this host's default route (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only the routing table is consulted
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="minik8s-apiserver", description="The minik8s API server.")
    p.add_argument("--data-dir", default=os.path.expanduser("~/.minik8s"),
                   help="directory holding the SQLite store (default ~/.minik8s)")
    p.add_argument("--bind-address", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=6443, help="port to listen on (default 6443)")
    p.add_argument("--advertise-address", default=None,
                   help="the address pods reach this apiserver at, the endpoint of the default/kubernetes "
                        "service (default: this host's primary IPv4 address)")
    p.add_argument("--watch-history", type=float, default=300.0,
                   help="seconds of change history kept for watches (default 300, as Kubernetes' compaction)")
    p.add_argument("--compaction-interval", type=float, default=60.0, help="seconds between compactions")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serviceaccount_options.add_flags(p)
    admission_options.add_flags(p)
    p.add_argument("--enable-bootstrap-token-auth", action="store_true",
                   help="accept bootstrap tokens (kube-system/bootstrap-token-* Secrets) as bearer tokens, for "
                        "nodes joining with one (off by default, as in Kubernetes; minik8s up turns it on)")
    a = p.parse_args(argv)
    return Config(a.data_dir, a.bind_address, a.port, a.watch_history, a.compaction_interval, a.log_level,
                  a.advertise_address or primary_ipv4(), serviceaccount_options.from_args(a),
                  admission_options.enabled(a, p), a.enable_bootstrap_token_auth,
                  admission_options.toleration_seconds(a, p))


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        os.makedirs(cfg.data_dir, exist_ok=True)
        probe = os.path.join(cfg.data_dir, ".write-test")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as e:
        sys.exit(f"minik8s-apiserver: data dir {cfg.data_dir} is not writable: {e.strerror}")
    full = diskspace.full_message(cfg.data_dir)
    if full is not None:  # SQLite would only say "disk I/O error"
        sys.exit(f"minik8s-apiserver: cannot start: {full}; free some space there")
    log.info("starting with %s", cfg)
    storage = SQLiteStorage(os.path.join(cfg.data_dir, "store.db"), compaction_interval=cfg.compaction_interval,
                            history_window=cfg.history_window)
    app = create_app(storage, advertise_address=cfg.advertise_address, port=cfg.port)
    server = app.state.server
    try:
        server.token_settings, validator = serviceaccount_options.build(
            cfg.service_accounts, data_dir=cfg.data_dir, cache=server.cache)
    except (OSError, ValueError) as e:
        sys.exit(f"minik8s-apiserver: cannot load the ServiceAccount token keys: {e}")
    server.token_authenticators.append(bearer_tokens.ServiceAccountTokens(validator))
    if cfg.enable_bootstrap_token_auth:
        server.token_authenticators.append(bootstrap_tokens.BootstrapTokens(bearer_tokens.cache_getter(server.cache)))
    admission_options.install(server, cfg.admission_plugins)
    admission_options.install_toleration_seconds(server, cfg.default_toleration_seconds)
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uvicorn.run(fast_path(app), host=cfg.host, port=cfg.port, loop=loop, http="httptools", log_level="warning",
                access_log=False, timeout_keep_alive=120, timeout_graceful_shutdown=3)


if __name__ == "__main__":
    main()
