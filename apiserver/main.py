"""``minik8s-apiserver``: the API server process.

Parses flags into one config, opens the storage (SQLite under ``--data-dir``, or etcd with
``--etcd-servers``: :mod:`apiserver.etcd_options`), logs the effective configuration, and serves the FastAPI app
with uvicorn (uvloop + httptools when available) over HTTPS only (:mod:`apiserver.serving`),
behind the authentication and authorization filter (:mod:`apiserver.authfilter`).

The authenticator chain is x509 client certificates; modules that add bearer-token
authenticators (ServiceAccount tokens, bootstrap tokens) append theirs in :func:`build_auth`.
``--authorization-mode`` lists the authorizer modes (:mod:`apiserver.auth.authorize`).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import socket
import sys

import uvicorn

from apiserver import (
    admission_options,
    endpoint_reconciler,
    etcd_options,
    kubelet_client,
    serviceaccount_options,
    serving,
)
from apiserver.admission import podsecurity_config
from apiserver.app import create_app, fast_path
from apiserver.audit import options as audit_options
from apiserver.auth import authenticate, authorize, bearer_tokens, bootstrap_tokens, websocket_protocol, x509
from apiserver.authfilter import AuthFilter
from apiserver.metrics import requests as request_metrics
from apiserver.metrics import storage as metered_storage
from apiserver.resourcemetrics import scraper as metrics_scraper
from apiserver.storage import diskspace, encryption
from apiserver.storage.interface import Storage
from apiserver.storage.sqlite import SQLiteStorage
from minik8s import process

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
    cert_dir: str | None = None
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    client_ca_file: str | None = None
    tls_sans: tuple[str, ...] = ()
    anonymous_auth: bool = True
    authorization_modes: tuple[str, ...] = authorize.DEFAULT_MODES
    kubelet_client_certificate: str | None = None
    kubelet_client_key: str | None = None
    kubelet_certificate_authority: str | None = None
    service_accounts: serviceaccount_options.Options = serviceaccount_options.Options()
    admission_plugins: tuple[str, ...] = admission_options.DEFAULT_ON
    pod_security: podsecurity_config.Config | None = None  # from --admission-control-config-file
    enable_bootstrap_token_auth: bool = False
    default_toleration_seconds: tuple[int, int] = (300, 300)  # not-ready, unreachable
    encryption_provider_config: str | None = None
    audit: audit_options.Options = audit_options.Options()
    etcd: etcd_options.Options = etcd_options.Options()
    endpoint_reconciler_type: str = "master-count"
    metric_resolution: float = 15.0  # metrics.k8s.io scrape period (apiserver/resourcemetrics)


def primary_ipv4() -> str:
    """The source address of this host's default route (a UDP connect sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only the routing table is consulted
            address: str = s.getsockname()[0]
            return address
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
    etcd_options.add_flags(p)
    endpoint_reconciler.add_flags(p)
    metrics_scraper.add_flags(p)
    p.add_argument("--enable-bootstrap-token-auth", action="store_true",
                   help="accept bootstrap tokens (kube-system/bootstrap-token-* Secrets) as bearer tokens, for "
                        "nodes joining with one (off by default, as in Kubernetes; minik8s up turns it on)")
    g = p.add_argument_group("secure serving and authentication")
    g.add_argument("--cert-dir", default=None,
                   help="where the CA, serving and client certificates are made when --tls-cert-file is not given "
                        "(default <data-dir>/pki)")
    g.add_argument("--tls-cert-file", default=None, help="the serving certificate (PEM); with --tls-private-key-file")
    g.add_argument("--tls-private-key-file", default=None, help="the serving certificate's key (PEM)")
    g.add_argument("--client-ca-file", default=None,
                   help="CA bundle that signs the client certificates accepted (default: <cert-dir>/ca.crt when "
                        "the certificates are made here)")
    g.add_argument("--tls-san", action="append", default=[], metavar="NAME_OR_IP",
                   help="an extra name or address for the serving certificate made here (repeatable)")
    g.add_argument("--anonymous-auth", default="true", choices=["true", "false"],
                   help="answer requests without credentials as system:anonymous (default true)")
    g.add_argument("--authorization-mode", default=",".join(authorize.DEFAULT_MODES),
                   help="ordered, comma-separated authorizer modes: " + ", ".join(sorted(authorize.MODES))
                        + " (default %(default)s)")
    g.add_argument("--kubelet-client-certificate", default=None,
                   help="client certificate for talking to kubelets (default <cert-dir>/apiserver-kubelet-client.crt)")
    g.add_argument("--kubelet-client-key", default=None, help="its key")
    g.add_argument("--kubelet-certificate-authority", default=None,
                   help="CA that signs kubelets' serving certificates (default <cert-dir>/ca.crt)")
    p.add_argument("--encryption-provider-config", default=None, metavar="FILE",
                   help="an EncryptionConfiguration: which resources are encrypted at rest, with which keys")
    audit_options.add_flags(p)
    a = p.parse_args(argv)
    modes = tuple(m.strip() for m in a.authorization_mode.split(",") if m.strip())
    unknown = [m for m in modes if m not in authorize.MODES]
    if not modes or unknown:
        p.error(f"--authorization-mode: unknown mode(s) {unknown or [a.authorization_mode]}; "
                f"known: {', '.join(sorted(authorize.MODES))}")
    if bool(a.tls_cert_file) != bool(a.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    advertise = a.advertise_address or primary_ipv4()
    return Config(a.data_dir, a.bind_address, a.port, a.watch_history, a.compaction_interval, a.log_level,
                  advertise, cert_dir=a.cert_dir, tls_cert_file=a.tls_cert_file,
                  tls_private_key_file=a.tls_private_key_file, client_ca_file=a.client_ca_file,
                  tls_sans=tuple(a.tls_san), anonymous_auth=a.anonymous_auth == "true", authorization_modes=modes,
                  kubelet_client_certificate=a.kubelet_client_certificate, kubelet_client_key=a.kubelet_client_key,
                  kubelet_certificate_authority=a.kubelet_certificate_authority,
                  service_accounts=serviceaccount_options.from_args(a), admission_plugins=admission_options.enabled(a, p),
                  pod_security=admission_options.pod_security(a, p),
                  enable_bootstrap_token_auth=a.enable_bootstrap_token_auth,
                  default_toleration_seconds=admission_options.toleration_seconds(a, p),
                  encryption_provider_config=a.encryption_provider_config, metric_resolution=a.metric_resolution,
                  audit=audit_options.from_args(a, p), etcd=etcd_options.from_args(a, p),
                  endpoint_reconciler_type=endpoint_reconciler.default_type(a.endpoint_reconciler_type,
                                                                            etcd=a.etcd_servers is not None))


def build_auth(cfg: Config, server: object) -> tuple[authenticate.Chain, authorize.Chain]:
    """The authenticator chain (x509 client certificates, then the bearer tokens of
    ``server.token_authenticators``: ServiceAccount and bootstrap tokens, from an ``Authorization``
    header or a WebSocket's subprotocol) and the authorizer
    chain of ``--authorization-mode``."""
    authn = authenticate.Chain([x509.Authenticator(), bearer_tokens.RequestTokens(server),
                                websocket_protocol.ProtocolTokens(server)], anonymous=cfg.anonymous_auth)
    authz = authorize.build(cfg.authorization_modes, server)
    return authn, authz


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
    storage: Storage
    if cfg.etcd.servers:
        storage = etcd_options.build(cfg.etcd)
    else:
        storage = SQLiteStorage(os.path.join(cfg.data_dir, "store.db"), compaction_interval=cfg.compaction_interval,
                                history_window=cfg.history_window)
    storage = metered_storage.wrap(storage)  # etcd_request_duration_seconds, whatever the backend
    if cfg.encryption_provider_config:
        try:
            storage = encryption.wrap(storage, cfg.encryption_provider_config)
        except (OSError, ValueError) as e:
            sys.exit(f"minik8s-apiserver: --encryption-provider-config: {e}")
    try:
        tls = serving.prepare(data_dir=cfg.data_dir, cert_dir=cfg.cert_dir, tls_cert_file=cfg.tls_cert_file,
                              tls_private_key_file=cfg.tls_private_key_file, client_ca_file=cfg.client_ca_file,
                              extra_sans=[*cfg.tls_sans, cfg.advertise_address], bind_address=cfg.host,
                              port=cfg.port, kubelet_client_certificate=cfg.kubelet_client_certificate,
                              kubelet_client_key=cfg.kubelet_client_key,
                              kubelet_certificate_authority=cfg.kubelet_certificate_authority)
    except (OSError, ValueError) as e:
        sys.exit(f"minik8s-apiserver: cannot prepare TLS: {e}")
    log.info("serving HTTPS with %s (client CA %s)%s", tls.cert_file, tls.client_ca_file or "none",
             f"; admin kubeconfig {tls.kubeconfig}" if tls.kubeconfig else "")
    app = create_app(storage, advertise_address=cfg.advertise_address, port=cfg.port)
    server = app.state.server
    server.endpoint_reconciler_type = cfg.endpoint_reconciler_type
    try:
        server.token_settings, validator = serviceaccount_options.build(
            cfg.service_accounts, cert_dir=cfg.cert_dir or os.path.join(cfg.data_dir, "pki"), cache=server.cache)
    except (OSError, ValueError) as e:
        sys.exit(f"minik8s-apiserver: cannot load the ServiceAccount token keys: {e}")
    server.token_authenticators.append(bearer_tokens.ServiceAccountTokens(validator))
    if cfg.enable_bootstrap_token_auth:
        server.token_authenticators.append(bootstrap_tokens.BootstrapTokens(bearer_tokens.cache_getter(server.cache)))
    admission_options.install(server, cfg.admission_plugins, pod_security=cfg.pod_security)
    admission_options.install_toleration_seconds(server, cfg.default_toleration_seconds)
    authn, authz = build_auth(cfg, server)
    # Where other parts (TokenReview, SubjectAccessReview, the kubelet client) find them.
    app.state.authenticator, app.state.authorizer, app.state.tls = authn, authz, tls
    server.kubelet_client = kubelet_client.KubeletClient(tls)
    server.resource_metrics.resolution = cfg.metric_resolution
    try:
        import uvloop  # noqa: F401 - imported only to learn whether it is installed
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    chain = audit_options.wrap(request_metrics.RequestMetrics(
        AuthFilter(fast_path(app), authn, authz, settle=app.state.server.cache.wait_current)), cfg.audit)
    server_ = uvicorn.Server(uvicorn.Config(
        chain, host=cfg.host, port=cfg.port, loop=loop, log_level="warning", access_log=False,
        timeout_keep_alive=120, timeout_graceful_shutdown=3, **serving.uvicorn_options(tls)))
    # uvicorn handles SIGTERM/SIGINT in a process of its own; under minik8s up's host, the host's stop
    process.add_stop_handler(functools.partial(setattr, server_, "should_exit", True))
    server_.run()
    if not server_.started:  # as uvicorn.run: the port could not be bound, or the app not start
        sys.exit(3)


if __name__ == "__main__":
    main()
