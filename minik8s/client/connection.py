"""How a client reaches and proves itself to an apiserver, decided once for every client.

A kubeconfig context (:class:`~minik8s.client.kubeconfig.ClusterAccess`) plus the command
line's overrides (``--server``, ``--insecure-skip-tls-verify``, ``--as``...) become one
:class:`Connection`: the server URL, the ``ssl.SSLContext`` (the cluster's CA, the user's
client certificate, or no verification), the name the server's certificate is checked against
(``tls-server-name``), and the headers every request carries (``Authorization`` from a bearer
token or basic auth, the ``Impersonate-*`` headers). Both transports take it as it is: the
asynchronous :class:`~minik8s.client.rest.ApiClient` the components use and the synchronous
connection of one-shot ``mkctl`` commands (:mod:`minik8s.client.oneshot`), so a kubeconfig
means the same on both paths.

Supported user credentials: ``token``, ``tokenFile``, ``username``/``password``,
``client-certificate[-data]``/``client-key[-data]``, and impersonation (``as``, ``as-groups``,
``as-uid``, ``as-user-extra``). ``exec`` and ``auth-provider`` plugins are not supported.

Failover: a cluster may have several apiservers (a highly available control plane). The
kubeconfig names the primary as ``server`` (all the real kubectl reads) and the others in the
cluster's ``minik8s.io/servers`` extension; a :class:`Connection` holds them all in a
:class:`Servers` list and ``server`` is the one in use. A transport that cannot reach the server
in use (connection refused, reset, a TLS handshake or connect timeout against a dead host, never
an HTTP answer) calls :meth:`Servers.failed`, which moves every user of the connection on to the
next server, and asks again there when the request cannot have been acted on
(:func:`may_retry`). There is no health checking of the others: the next failure moves on again,
round the list.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minik8s.client.kubeconfig import ClusterAccess

Header = tuple[str, str]


# Requests asked again on the next server even when the connection broke after sending them:
# they change nothing (client-go retries only GETs after a broken connection, for this reason).
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Servers:
    """The apiserver URLs of one cluster, the primary first, and the one in use now.

    Shared by every transport of a :class:`Connection`, so that one request's failure moves the
    process's next requests (and an informer's next watch) on to the next server."""

    __slots__ = ("urls", "_at")

    def __init__(self, urls: Sequence[str]) -> None:
        seen: list[str] = []
        for url in urls:
            url = url.rstrip("/")
            if url and url not in seen:
                seen.append(url)
        if not seen:
            raise ValueError("a connection needs at least one server URL")
        self.urls = seen
        self._at = 0

    @property
    def current(self) -> str:
        return self.urls[self._at]

    def failed(self, url: str) -> bool:
        """``url`` could not be reached: use the next server. True when the caller should try
        again (another server is now in use: this one, or the one a concurrent request already
        moved on to); False when there is no other server."""
        if len(self.urls) == 1:
            return False
        if url == self.current:
            self._at = (self._at + 1) % len(self.urls)
        return True


def may_retry(method: str, *, sent: bool) -> bool:
    """Whether a request that failed for want of a connection may be asked again elsewhere:
    always when it never reached a server (refused, TLS handshake, connect timeout), else only
    when it changes nothing (the server may have acted on a write before its connection broke)."""
    return not sent or method.upper() in _SAFE_METHODS


class Connection:
    """Where the apiserver is and how to talk to it: what every transport needs, nothing more.

    ``server`` is the URL in use, one of ``servers`` (see :class:`Servers`). ``ssl`` is None for
    a plain ``http://`` server. ``headers`` are (name, value) pairs, since ``Impersonate-Group``
    repeats once per group."""

    __slots__ = ("servers", "ssl", "server_hostname", "headers")

    def __init__(self, server: str, *, ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                 headers: Sequence[Header] = (), others: Sequence[str] = ()) -> None:
        self.servers = Servers([server, *others])
        self.ssl = ssl_context if self.server.startswith("https://") else None
        self.server_hostname = server_hostname
        self.headers = list(headers)

    @property
    def server(self) -> str:
        return self.servers.current

    def __repr__(self) -> str:
        names = sorted({name for name, _ in self.headers})
        return f"<Connection {self.server} of {len(self.servers.urls)} tls={self.ssl is not None} headers={names}>"


class Impersonation:
    """``--as``, ``--as-group``, ``--as-uid`` (and kubeconfig's ``as-user-extra``): whom to act as."""

    __slots__ = ("user", "groups", "uid", "extra")

    def __init__(self, user: str | None = None, groups: Sequence[str] = (), uid: str | None = None,
                 extra: dict[str, list[str]] | None = None) -> None:
        self.user = user
        self.groups = list(groups)
        self.uid = uid
        self.extra = dict(extra or {})

    def headers(self) -> list[Header]:
        out: list[Header] = []
        if self.user:
            out.append(("Impersonate-User", self.user))
        out.extend(("Impersonate-Group", g) for g in self.groups)
        if self.uid:
            out.append(("Impersonate-Uid", self.uid))
        for key, values in self.extra.items():
            out.extend((f"Impersonate-Extra-{key}", v) for v in values)
        return out


def make_ssl_context(
    *,
    ca_file: str | None = None,
    ca_data: str | None = None,
    client_cert: str | tuple[str, str] | None = None,
    client_cert_data: tuple[bytes, bytes] | None = None,
    verify: bool = True,
    server_name_check: bool = True,
) -> ssl.SSLContext:
    """An SSL context for the apiserver: its CA, our client certificate, or no verification."""
    ctx = ssl.create_default_context(cafile=ca_file, cadata=ca_data)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif not server_name_check:
        ctx.check_hostname = False
    if client_cert is not None:
        if isinstance(client_cert, tuple):
            ctx.load_cert_chain(client_cert[0], client_cert[1])
        else:
            ctx.load_cert_chain(client_cert)
    if client_cert_data is not None:
        _load_cert_data(ctx, *client_cert_data)
    return ctx


def _load_cert_data(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """Load a PEM certificate and key held in memory: ssl only loads chains from paths, so they
    go to anonymous memory files (``/proc/self/fd/N``, never on disk), else to a private temp
    dir just long enough to load them."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None and os.path.isdir("/proc/self/fd"):
        fds: list[int] = []
        try:
            for data in (cert, key):
                fd = memfd_create("minik8s-tls", os.MFD_CLOEXEC)
                fds.append(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
            return
        finally:
            for fd in fds:
                os.close(fd)
    import tempfile  # local: only where there are no memory files

    with tempfile.TemporaryDirectory(prefix="minik8s-tls-") as tmp:
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert_path, key_path)


def from_access(access: ClusterAccess, *, server: str | None = None, insecure: bool | None = None,
                impersonate: Impersonation | None = None) -> Connection:
    """The connection a kubeconfig context describes. ``server`` replaces the cluster's URL
    (kubectl's ``--server``: the context's credentials still apply, and no other server is
    tried), else the cluster's other servers follow it for failover; ``insecure=True`` turns
    certificate verification off (``--insecure-skip-tls-verify``), ``impersonate`` replaces the
    user's ``as*`` settings when it names anyone."""
    url = (server or access.server).rstrip("/")
    skip_verify = access.insecure_skip_tls_verify if insecure is None else insecure
    ctx = None
    if url.startswith("https://"):
        ctx = make_ssl_context(
            ca_file=None if skip_verify else access.ca_file,
            ca_data=access.ca_data.decode() if access.ca_data and not skip_verify else None,
            client_cert=(access.cert_file, access.key_file) if access.cert_file and access.key_file else None,
            client_cert_data=(access.cert_data, access.key_data) if access.cert_data and access.key_data else None,
            verify=not skip_verify,
        )
    headers: list[Header] = []
    if access.token:
        headers.append(("Authorization", f"Bearer {access.token}"))
    elif access.username and access.password:
        basic = base64.b64encode(f"{access.username}:{access.password}".encode()).decode()
        headers.append(("Authorization", f"Basic {basic}"))
    acting = impersonate if impersonate is not None and (impersonate.user or impersonate.groups or impersonate.uid) \
        else Impersonation(access.impersonate_user, access.impersonate_groups, access.impersonate_uid,
                           access.impersonate_extra)
    headers.extend(acting.headers())
    return Connection(url, ssl_context=ctx, server_hostname=access.tls_server_name, headers=headers,
                      others=() if server else access.other_servers)


def plain(server: str, *, insecure: bool = False, impersonate: Impersonation | None = None) -> Connection:
    """A connection with no kubeconfig behind it (``--server`` alone): no credentials, the
    system's trust store, or no verification with ``insecure``."""
    url = server.rstrip("/")
    ctx = make_ssl_context(verify=not insecure) if url.startswith("https://") else None
    headers: list[Header] = impersonate.headers() if impersonate is not None else []
    return Connection(url, ssl_context=ctx, headers=headers)
