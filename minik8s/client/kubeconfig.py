"""Kubeconfig files: read (for every component and ``mkctl``) and write (for ``minik8s up``).

The format is kubectl's: ``clusters``, ``users``, ``contexts``, ``current-context``, each
entry ``{name, cluster|user|context}``. :func:`load` honours ``$KUBECONFIG`` (a path list,
merged as kubectl does: the first file to define a name wins) and falls back to
``~/.kube/config``. :meth:`KubeConfig.resolve` turns a context into the plain connection
settings :mod:`minik8s.client.connection` turns into a client's, with relative file paths taken from
the directory of the file that named them, as kubectl does.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any

# A cluster's other apiservers (the same name as minik8s.client.connection.SERVERS_EXTENSION).
SERVERS_EXTENSION = "minik8s.io/servers"


class ConfigError(ValueError):
    """Raised when a kubeconfig is missing, malformed, or names a context/cluster/user it lacks."""


@dataclasses.dataclass(slots=True)
class ClusterAccess:
    """Everything needed to reach one cluster as one user, as a context resolves to."""

    server: str
    namespace: str = "default"
    token: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    context: str = ""
    # the user's ``as``, ``as-groups``, ``as-uid``, ``as-user-extra``: whom requests act as
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    impersonate_extra: dict[str, list[str]] | None = None
    # the cluster's other apiservers, tried in turn when ``server`` cannot be reached
    # (its ``minik8s.io/servers`` extension, which kubectl ignores)
    other_servers: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True)
class KubeConfig:
    """A parsed (possibly merged) kubeconfig. Entries remember the directory they came from."""

    clusters: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    users: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    current_context: str = ""
    # name -> directory of the file defining it, for relative certificate paths
    _dirs: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)

    def merge(self, doc: dict[str, Any], *, base_dir: str) -> None:
        """Add a file's entries; names already present keep their first definition."""
        for section, field, target in (("clusters", "cluster", self.clusters), ("users", "user", self.users),
                                       ("contexts", "context", self.contexts)):
            for entry in doc.get(section) or []:
                name = entry.get("name")
                if name and name not in target:
                    target[name] = entry.get(field) or {}
                    self._dirs[(section, name)] = base_dir
        if not self.current_context and doc.get("current-context"):
            self.current_context = doc["current-context"]

    def resolve(self, context: str | None = None) -> ClusterAccess:
        name = context or self.current_context
        if not name:
            raise ConfigError("no context chosen: the kubeconfig has no current-context")
        if name not in self.contexts:
            raise ConfigError(f'context "{name}" does not exist')
        ctx = self.contexts[name]
        cluster_name, user_name = ctx.get("cluster", ""), ctx.get("user", "")
        if cluster_name not in self.clusters:
            raise ConfigError(f'cluster "{cluster_name}" of context "{name}" does not exist')
        cluster = self.clusters[cluster_name]
        user = self.users.get(user_name, {}) if user_name else {}
        cdir = self._dirs.get(("clusters", cluster_name), "")
        udir = self._dirs.get(("users", user_name), "")
        server = cluster.get("server")
        if not server:
            raise ConfigError(f'cluster "{cluster_name}" has no server')
        token = user.get("token")
        token_file = _abs(user.get("tokenFile"), udir)
        if not token and token_file:
            with open(token_file) as f:
                token = f.read().strip()
        return ClusterAccess(
            server=server,
            namespace=ctx.get("namespace") or "default",
            token=token,
            username=user.get("username"),
            password=user.get("password"),
            ca_file=_abs(cluster.get("certificate-authority"), cdir),
            ca_data=_b64(cluster.get("certificate-authority-data")),
            cert_file=_abs(user.get("client-certificate"), udir),
            key_file=_abs(user.get("client-key"), udir),
            cert_data=_b64(user.get("client-certificate-data")),
            key_data=_b64(user.get("client-key-data")),
            insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
            tls_server_name=cluster.get("tls-server-name"),
            context=name,
            impersonate_user=user.get("as") or None,
            impersonate_groups=tuple(user.get("as-groups") or ()),
            impersonate_uid=user.get("as-uid") or None,
            impersonate_extra={k: list(v or []) for k, v in (user.get("as-user-extra") or {}).items()} or None,
            other_servers=_other_servers(cluster, cluster_name),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": n, "cluster": c} for n, c in self.clusters.items()],
            "users": [{"name": n, "user": u} for n, u in self.users.items()],
            "contexts": [{"name": n, "context": c} for n, c in self.contexts.items()],
            "current-context": self.current_context,
        }


def _other_servers(cluster: dict[str, Any], name: str) -> tuple[str, ...]:
    """The URLs of a cluster's ``minik8s.io/servers`` extension (``{servers: [URL, ...]}``)."""
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == SERVERS_EXTENSION:
            urls = (ext.get("extension") or {}).get("servers") if isinstance(ext.get("extension"), dict) else None
            if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
                raise ConfigError(f'cluster "{name}": extension {SERVERS_EXTENSION} must be '
                                  '{"servers": [URL, ...]}')
            return tuple(urls)
    return ()


def default_paths() -> list[str]:
    """``$KUBECONFIG`` split on the path separator, else ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    paths = [p for p in env.split(os.pathsep) if p]
    return paths or [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def load(path: str | None = None) -> KubeConfig:
    """Read a kubeconfig: ``path``, else ``$KUBECONFIG`` (merged), else ``~/.kube/config``."""
    paths = [path] if path else default_paths()
    cfg = KubeConfig()
    found = False
    for p in paths:
        try:
            with open(p) as f:
                text = f.read()
        except FileNotFoundError:
            if path:  # the caller named it: its absence is an error, not a fallback
                raise ConfigError(f"kubeconfig {p} does not exist") from None
            continue
        doc = _parse(text, p)
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {p} is not a mapping")
        found = True
        cfg.merge(doc, base_dir=os.path.dirname(os.path.abspath(p)))
    if not found:
        raise ConfigError(f"no kubeconfig found (looked at {', '.join(paths)})")
    return cfg


def _parse(text: str, path: str) -> Any:
    """The YAML document: plain block-style files without PyYAML (its import is most of a
    kubeconfig's reading time), everything else with it."""
    from minik8s.client import blockyaml

    doc = blockyaml.load(text)
    if doc is not None:
        return doc
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"kubeconfig {path} is not valid YAML: {e}") from None


def write(
    path: str,
    server: str,
    *,
    context: str = "minik8s",
    namespace: str = "default",
    token: str | None = None,
    ca_file: str | None = None,
    ca_data: bytes | None = None,
    client_cert_data: bytes | None = None,
    client_key_data: bytes | None = None,
    insecure_skip_tls_verify: bool = False,
    set_current: bool = True,
    other_servers: tuple[str, ...] | list[str] | None = None,
) -> None:
    """Add (or replace) cluster, user and context ``context`` in the kubeconfig at ``path``,
    keeping every other entry, and make it current. Written atomically with mode 0600, since
    it may hold a token or a client key.

    ``ca_data`` (PEM) is embedded as ``certificate-authority-data`` and the client
    certificate and key as ``client-certificate-data``/``client-key-data``, as ``kubeadm``
    and k3s write theirs: the file alone carries everything needed to connect. ``other_servers``
    (a highly available control plane's other apiservers) go to the cluster's
    ``minik8s.io/servers`` extension: ``server`` stays the one kubectl uses. None keeps the
    extensions of the cluster entry being replaced (the apiserver rewriting its admin kubeconfig
    keeps the failover list ``join --control-plane`` wrote)."""
    import yaml

    doc: dict[str, Any] = {}
    try:
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
    except FileNotFoundError:
        pass
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    cluster: dict[str, Any] = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = os.path.abspath(ca_file)
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    if insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    old = next((e.get("cluster") or {} for e in (doc.get("clusters") or []) if e.get("name") == context), {})
    extensions = [e for e in (old.get("extensions") or []) if other_servers is None or e.get("name") != SERVERS_EXTENSION]
    if other_servers:
        extensions.append({"name": SERVERS_EXTENSION, "extension": {"servers": list(other_servers)}})
    if extensions:
        cluster["extensions"] = extensions
    user: dict[str, Any] = {"token": token} if token else {}
    if client_cert_data and client_key_data:
        user["client-certificate-data"] = base64.b64encode(client_cert_data).decode()
        user["client-key-data"] = base64.b64encode(client_key_data).decode()
    ctx = {"cluster": context, "user": context, "namespace": namespace}
    for section, field, value in (("clusters", "cluster", cluster), ("users", "user", user),
                                  ("contexts", "context", ctx)):
        entries = [e for e in (doc.get(section) or []) if e.get("name") != context]
        entries.append({"name": context, field: value})
        doc[section] = entries
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    doc.setdefault("preferences", {})
    if set_current or not doc.get("current-context"):
        doc["current-context"] = context
    save(path, doc)


def save(path: str, doc: dict[str, Any]) -> None:
    """Write a kubeconfig document to ``path`` as kubectl does, and durably: a private (0600)
    temporary file beside it, synced, then renamed over it, so a crash never leaves half a file
    (the one writer of kubeconfig files: ``minik8s up``/``join`` and ``mkctl config``)."""
    import yaml  # local: reading a kubeconfig (every mkctl command) needs neither

    from minik8s.files import write_private

    # the directory (~/.kube, say) as kubectl makes it, not private: only the file is
    write_private(path, yaml.safe_dump(doc, default_flow_style=False, sort_keys=False).encode(), dir_mode=0o777)


def _abs(p: str | None, base_dir: str) -> str | None:
    if not p:
        return None
    p = os.path.expanduser(p)
    return p if os.path.isabs(p) or not base_dir else os.path.join(base_dir, p)


def _b64(data: str | None) -> bytes | None:
    return base64.b64decode(data) if data else None
