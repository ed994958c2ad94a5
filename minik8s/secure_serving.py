"""A component's secure port (kube-scheduler's 10259, kube-controller-manager's 10257):
``/metrics`` and the health checks over HTTPS, callers authenticated and authorized by the
apiserver (:mod:`minik8s.delegated_auth`), served by uvicorn inside the component's event loop.

Flags, as Kubernetes names them: ``--secure-port`` (0 turns the port off), ``--bind-address``,
``--tls-cert-file``/``--tls-private-key-file`` (without them a self-signed certificate is made
in ``--cert-dir``, as the components do: :func:`self_signed`; ``minik8s up`` makes it
beforehand and passes the files), ``--client-ca-file`` (whose client certificates are
accepted; bearer tokens are always asked of the apiserver with a TokenReview),
``--authorization-always-allow-paths`` and ``--authentication-kubeconfig`` /
``--authorization-kubeconfig`` (which apiserver, with which credentials, reviews callers;
by default the component's own ``--kubeconfig``). A port that cannot be bound is logged as an error and
the component goes on with its work (kube-scheduler would exit instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import socket
import tempfile
from typing import Any

from minik8s import delegated_auth, metrics, tlspeer

__all__ = ["Options", "SecureServer", "add_flags", "from_args", "self_signed"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    port: int = 0  # 0: not served
    bind_address: str = "0.0.0.0"
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    cert_dir: str | None = None
    client_ca_file: str | None = None
    always_allow_paths: tuple[str, ...] = delegated_auth.ALWAYS_ALLOW_PATHS
    authentication_kubeconfig: str | None = None  # None: the component's own client
    authorization_kubeconfig: str | None = None


def add_flags(p: argparse.ArgumentParser, *, default_port: int) -> None:
    g = p.add_argument_group("secure serving (/metrics, /healthz)")
    g.add_argument("--secure-port", type=int, default=default_port,
                   help=f"HTTPS port of /metrics and the health checks; 0 turns it off (default {default_port})")
    g.add_argument("--bind-address", default="0.0.0.0", help="address of the secure port (default 0.0.0.0)")
    g.add_argument("--tls-cert-file", default=None, help="serving certificate (PEM); default: self-signed")
    g.add_argument("--tls-private-key-file", default=None, help="its key")
    g.add_argument("--cert-dir", default=None, help="where a self-signed certificate is made (default: a temp dir)")
    g.add_argument("--client-ca-file", default=None,
                   help="CA whose client certificates are accepted (bearer tokens go to the apiserver's TokenReview)")
    g.add_argument("--authorization-always-allow-paths", default=",".join(delegated_auth.ALWAYS_ALLOW_PATHS),
                   help="paths served without authorization (default %(default)s)")
    g.add_argument("--authentication-kubeconfig", default=None,
                   help="kubeconfig of the apiserver that reviews bearer tokens (default: --kubeconfig's)")
    g.add_argument("--authorization-kubeconfig", default=None,
                   help="kubeconfig of the apiserver that authorizes callers (default: --kubeconfig's)")


def from_args(a: argparse.Namespace, p: argparse.ArgumentParser) -> Options:
    if not 0 <= a.secure_port <= 65535:
        p.error(f"--secure-port must be between 0 and 65535, not {a.secure_port}")
    if bool(a.tls_cert_file) != bool(a.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    paths = tuple(x.strip() for x in a.authorization_always_allow_paths.split(",") if x.strip())
    return Options(a.secure_port, a.bind_address, a.tls_cert_file, a.tls_private_key_file, a.cert_dir,
                   a.client_ca_file, paths, a.authentication_kubeconfig, a.authorization_kubeconfig)


def _serving_files(opts: Options, name: str) -> tuple[str, str]:
    if opts.tls_cert_file and opts.tls_private_key_file:
        return opts.tls_cert_file, opts.tls_private_key_file
    return self_signed(opts.cert_dir or tempfile.mkdtemp(prefix=f"{name}-certs-"), name)


def self_signed(cert_dir: str, name: str) -> tuple[str, str]:
    """``(cert, key)`` paths of component ``name``'s self-signed serving certificate in
    ``cert_dir`` (its own CA there signs it), made or re-issued as needed. ``minik8s up``
    makes it before the component starts and hands it ``--tls-cert-file``, as k3s does, so
    the component never loads cryptography (~9 MiB) for it."""
    from minik8s import pki  # only to self-sign: cryptography is slow to import

    hostname = socket.gethostname().lower()
    with pki.locked(cert_dir):
        ca = pki.ensure_ca(cert_dir, common_name=f"{name}-ca@{hostname}")
        pair = pki.ensure_serving_cert(ca, cert_dir, name, f"{name}@{hostname}", dns_names=["localhost", hostname],
                                       ips=["127.0.0.1"])
    return str(pair.cert_path), str(pair.key_path)


class SecureServer:
    """The secure port of component ``name``; ``client`` reaches the apiserver for reviews."""

    def __init__(self, opts: Options, client: Any, *, name: str, healthy: Any = None) -> None:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse, Response
        from starlette.routing import Route

        self.opts = opts
        self.name = name

        async def serve_metrics(request: Request) -> Response:
            body, content_type = metrics.exposition(request.headers.get("accept"))
            return Response(body, media_type=content_type)

        async def health(request: Request) -> Response:
            if healthy is not None and not healthy():
                return PlainTextResponse("not ok", status_code=500)
            return PlainTextResponse("ok")

        app = Starlette(routes=[Route("/metrics", serve_metrics), Route("/healthz", health),
                                Route("/livez", health), Route("/readyz", health)])
        self._own_clients: list[Any] = []
        reviewer = delegated_auth.SubjectAccessReviewer(self._client(opts.authorization_kubeconfig, client, name))
        self.app = delegated_auth.DelegatingFilter(
            app, delegated_auth.non_resource_authorizer(reviewer),
            tokens=delegated_auth.TokenReviewer(self._client(opts.authentication_kubeconfig, client, name)),
            always_allow_paths=opts.always_allow_paths)
        self._server: Any = None

    def _client(self, kubeconfig: str | None, default: Any, name: str) -> Any:
        if not kubeconfig:
            return default
        from minik8s.client.rest import ApiClient

        c = ApiClient.from_kubeconfig(kubeconfig, user_agent=f"minik8s-{name}")
        self._own_clients.append(c)
        return c

    async def serve(self) -> None:
        """Serve until :meth:`shutdown` (returns at once when the port is off)."""
        import asyncio

        import uvicorn

        if not self.opts.port:
            return
        cert, key = await asyncio.to_thread(_serving_files, self.opts, self.name)
        config = uvicorn.Config(self.app, host=self.opts.bind_address, port=self.opts.port, log_level="warning",
                                access_log=False, lifespan="off",
                                **tlspeer.uvicorn_options(cert, key, self.opts.client_ca_file, websockets=False))
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the component owns its signals
        log.info("serving /metrics on https://%s:%d (client CA %s)", self.opts.bind_address, self.opts.port,
                 self.opts.client_ca_file or "none: bearer tokens only")
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn's answer to a port it cannot bind
            pass
        if not self._server.started:
            # The component's own work goes on without its metrics (kube-scheduler would exit).
            log.error("the secure port %s:%d could not be served: no /metrics", self.opts.bind_address,
                      self.opts.port)

    async def shutdown(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        for c in self._own_clients:
            await c.close()
