"""One ``mkctl`` run's connection and settings: the kubeconfig context, the effective server
and namespace, the REST client and the discovery (kubectl's disk cache) every verb shares.

The client is a :class:`~minik8s.client.oneshot.OneShotClient` (one blocking connection; the
asynchronous client only for watches and WebSockets), its TLS and credentials decided by
:mod:`minik8s.client.connection` from the kubeconfig and the global flags, as the components'
clients are.

Also (with the CLI's error types from :mod:`minik8s.cli.exits`) the one place that words an error as kubectl's
``cmdutil.CheckErr`` does (``Error from server (NotFound): ...``, ``The connection to the
server ... was refused ...``, ``error: ...``), so every verb fails the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import re
import sys
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from minik8s import errors
from minik8s.cli.exits import CliError as CliError  # re-exported: the verbs import it from here
from minik8s.cli.exits import ExitSilently as ExitSilently

if TYPE_CHECKING:
    from minik8s.cli.resources import Resolver
    from minik8s.client.oneshot import OneShotClient

# What main gives each verb module's ``add_parsers`` to add its verbs to (a string: typeshed's
# generic class is not subscriptable at run time).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# kubectl's fallback when no kubeconfig names a server.
DEFAULT_SERVER = "http://localhost:8080"
USER_AGENT = "mkctl/0.1.0 (kubectl v1.32 compatible)"


@dataclasses.dataclass
class Session:
    """What every verb gets: the parsed arguments, the client, the resolver, the namespace."""

    args: argparse.Namespace
    client: OneShotClient
    resolver: Resolver
    namespace: str
    namespace_explicit: bool
    kubeconfig_path: str | None
    context: str | None

    @property
    def server(self) -> str:
        return self.client.server

    def ns_for(self, namespaced: bool, obj_namespace: str | None = None) -> str | None:
        if not namespaced:
            return None
        return obj_namespace or self.namespace

    async def close(self) -> None:
        await self.client.close()


def parse_duration(text: str | None) -> float | None:
    """Go durations as kubectl's flags take them (``30s``, ``1m30s``, ``500ms``, ``0``); a bare
    number is seconds. ``None``/``0`` mean "no limit"."""
    if text is None or text == "":
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        value = float(text)
        return value or None
    total = 0.0
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    pos = 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise CliError(f'invalid argument "{text}": time: invalid duration "{text}"')
    return total or None


def open_session(args: argparse.Namespace) -> Session:
    """The client for ``--kubeconfig``/``--context``/``--server``/``-n`` (and ``--as``,
    ``--insecure-skip-tls-verify``), as kubectl merges them."""
    # local: a verb that opens no session (``version --client``) imports no TLS or socket code
    from minik8s.cli import discovery
    from minik8s.cli.resources import Resolver
    from minik8s.client import connection, kubeconfig
    from minik8s.client.oneshot import OneShotClient

    timeout = parse_duration(getattr(args, "request_timeout", None)) or 3600.0
    path = getattr(args, "kubeconfig", None)
    context = getattr(args, "context", None)
    server = getattr(args, "server", None)
    insecure = True if getattr(args, "insecure_skip_tls_verify", None) else None
    acting = connection.Impersonation(getattr(args, "impersonate", None), getattr(args, "impersonate_group", None)
                                      or (), getattr(args, "impersonate_uid", None))
    cfg_namespace = "default"
    try:
        cfg = kubeconfig.load(path)
        access = cfg.resolve(context)
    except kubeconfig.ConfigError as e:
        if path and "does not exist" in str(e) and "context" not in str(e):
            raise CliError(f"stat {path}: no such file or directory") from None
        if context:
            raise CliError(f"context was not found for specified context: {context}") from None
        access = None
    if access is not None:
        conn = connection.from_access(access, server=server, insecure=insecure, impersonate=acting)
        cfg_namespace = access.namespace or "default"
    else:
        conn = connection.plain(server or DEFAULT_SERVER, insecure=bool(insecure), impersonate=acting)
    ns_flag = getattr(args, "namespace", None)
    namespace = ns_flag or cfg_namespace
    client = OneShotClient(conn, timeout=timeout, user_agent=USER_AGENT, namespace=namespace)
    cache = discovery.DiskCache(discovery.cache_dir(discovery.cache_root(getattr(args, "cache_dir", None)),
                                                    conn.server))
    return Session(args=args, client=client, resolver=Resolver(client, cache), namespace=namespace,
                   namespace_explicit=bool(ns_flag), kubeconfig_path=path, context=context)


# --- errors ---------------------------------------------------------------------------------


def format_error(exc: BaseException, *, server: str = DEFAULT_SERVER) -> str:
    """The text kubectl prints for ``exc`` (without the trailing newline)."""
    if isinstance(exc, CliError):
        if exc.raw or exc.message.startswith("error: "):
            return exc.message
        return f"error: {exc.message}"
    if isinstance(exc, errors.Invalid):
        return invalid_message(exc)
    if isinstance(exc, errors.Unauthorized):
        return f"error: You must be logged in to the server ({exc.message})"
    if isinstance(exc, errors.ApiError):
        if exc.reason:
            return f"Error from server ({exc.reason}): {exc.message}"
        return f"Error from server: {exc.message}"
    if isinstance(exc, errors.ConnectionFailed):
        return connection_message(exc, server)
    return f"error: {exc}"


def invalid_message(exc: errors.ApiError) -> str:
    details = exc.details
    if not details:
        return f"The request is invalid: {exc.message}"
    if details.get("kind") or details.get("name"):
        head = f'The {details.get("kind", "")} "{details.get("name", "")}" is invalid'
    else:
        head = f"The request is invalid: {exc.message}"
    causes = exc.causes
    if not causes:
        return head
    lines = [f'{c.get("field", "")}: {c.get("message", "")}' for c in causes]
    if len(lines) == 1:
        return f"{head}: {lines[0]}"
    return f"{head}: \n" + "\n".join(f"* {line}" for line in lines)


def connection_message(exc: errors.ConnectionFailed, server: str) -> str:
    host = urlsplit(server).netloc or server
    if _refused(exc):
        return f"The connection to the server {host} was refused - did you specify the right host or port?"
    detail = str(exc)
    prefix = f"{server.rstrip('/')}: "
    if detail.startswith(prefix):
        detail = detail[len(prefix):]
    return f"Unable to connect to the server: {detail}"


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError):
            return True
        os_error = getattr(e, "os_error", None)
        if isinstance(os_error, OSError) and (isinstance(os_error, ConnectionRefusedError)
                                              or os_error.errno == errno.ECONNREFUSED):
            return True
        if isinstance(e, OSError) and e.errno == errno.ECONNREFUSED:
            return True
        e = e.__cause__ or e.__context__
    return "refused" in str(exc).lower()


def warn(message: str) -> None:
    """A ``Warning: ...`` line on stderr, as kubectl prints them."""
    print(f"Warning: {message}", file=sys.stderr)


def source_error(action: str, source: str, exc: errors.ApiError) -> errors.ApiError:
    """kubectl's ``AddSourceToErr``: the server's error, its message naming the manifest."""
    if not source or source == "STDIN":
        source_text = "STDIN"
    else:
        source_text = source
    status: dict[str, Any] = dict(exc.status)
    message = f'error when {action} "{source_text}": {exc.message}'
    status["message"] = message
    new = type(exc)(status, exc.code, exc.reason, message)
    return new
