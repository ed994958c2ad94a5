"""The server's discovery documents for mkctl, cached on disk as kubectl caches them.

kubectl keeps what ``/api`` and ``/apis`` say in ``<cache-dir>/discovery/<host_port>/``
(``--cache-dir``, else ``$KUBECACHEDIR``, else ``~/.kube/cache``): ``servergroups.json`` (an
``APIGroupList``, the core group first with the name ``""``) and one
``<group>/<version>/serverresources.json`` (an ``APIResourceList``; the core group's is
``v1/serverresources.json``) per group-version, each trusted for six hours from when it was
written. mkctl reads and writes the same files in the same form, so either tool may use what
the other fetched, and a warm command makes no discovery request at all.

:func:`fetch` asks the server: the aggregated document (one request per root, converted to the
per-group-version form as client-go converts it: subresources as ``pods/log`` entries with
their response kind), else the plain ``APIVersions``/``APIGroupList``/``APIResourceList``
walk. :class:`DiskCache` loads and stores. Whether a cached answer is stale beyond its age
(a resource it does not know) is the resolver's call: it fetches again on a miss.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from minik8s.client.oneshot import OneShotClient

# kubectl's discovery cache lifetime (cli-runtime's ToDiscoveryClient: 6 hours).
TTL_SECONDS = 6 * 3600

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)

# cli-runtime's overlyCautiousIllegalFileCharacters: what a host may keep in a directory name.
_ILLEGAL = re.compile(r"[^(\w/.)]")


class Documents:
    """What discovery says: the ``APIGroupList`` (core group first) and each group-version's
    ``APIResourceList``, keyed by its groupVersion (``v1``, ``apps/v1``)."""

    __slots__ = ("groups", "resources")

    def __init__(self, groups: dict[str, Any], resources: dict[str, dict[str, Any]]) -> None:
        self.groups = groups
        self.resources = resources


def cache_root(flag: str | None) -> str:
    """``--cache-dir``, else ``$KUBECACHEDIR``, else ``~/.kube/cache`` (kubectl's order)."""
    return flag or os.environ.get("KUBECACHEDIR") or os.path.join(os.path.expanduser("~"), ".kube", "cache")


def cache_dir(root: str, server: str) -> str:
    """``<root>/discovery/127.0.0.1_6443`` for ``https://127.0.0.1:6443``, as kubectl names it."""
    host = server.replace("https://", "", 1).replace("http://", "", 1)
    return os.path.join(root, "discovery", _ILLEGAL.sub("_", host))


class DiskCache:
    """The discovery documents of one server under ``directory``, each trusted for ``ttl`` seconds."""

    def __init__(self, directory: str, *, ttl: float = TTL_SECONDS) -> None:
        self.directory = directory
        self.ttl = ttl

    def _fresh_json(self, path: str) -> Any:
        """The file's JSON if it is younger than the TTL, else None (missing, old or unreadable)."""
        try:
            if time.time() - os.stat(path).st_mtime > self.ttl:
                return None
            with open(path, "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def _resources_path(self, group_version: str) -> str:
        return os.path.join(self.directory, *group_version.split("/"), "serverresources.json")

    def load(self) -> Documents | None:
        """The cached documents, or None unless every one is there and fresh."""
        groups = self._fresh_json(os.path.join(self.directory, "servergroups.json"))
        if not isinstance(groups, dict) or groups.get("kind") != "APIGroupList":
            return None
        resources: dict[str, dict[str, Any]] = {}
        for group in groups.get("groups") or []:
            for v in group.get("versions") or []:
                doc = self._fresh_json(self._resources_path(v["groupVersion"]))
                if not isinstance(doc, dict):
                    return None
                resources[v["groupVersion"]] = doc
        return Documents(groups, resources)

    def store(self, docs: Documents) -> None:
        """Write every document (each atomically, readable by the user's group as kubectl's);
        a cache that cannot be written is no error, the next run asks the server again."""
        try:
            for gv, doc in docs.resources.items():
                _write_json(self._resources_path(gv), doc)
            _write_json(os.path.join(self.directory, "servergroups.json"), docs.groups)
        except OSError:
            pass


def _write_json(path: str, doc: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o660)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o660)  # what kubectl leaves, whatever the umask
            f.write(json.dumps(doc, separators=(",", ":")).encode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


async def fetch(client: OneShotClient) -> Documents:
    """The server's discovery, in the per-group-version form whatever form it answered in."""
    groups: list[dict[str, Any]] = []
    resources: dict[str, dict[str, Any]] = {}
    for root in ("/api", "/apis"):
        resp = await client.request("GET", root, headers={"Accept": AGGREGATED_ACCEPT})
        doc = resp.json()
        if "as=APIGroupDiscoveryList" in resp.headers.get("Content-Type", "") \
                or doc.get("kind") == "APIGroupDiscoveryList":
            for item in doc.get("items") or []:
                group, lists = _from_aggregated(item)
                groups.append(group)
                resources.update(lists)
        elif root == "/api":
            versions = doc.get("versions") or []
            if versions:
                groups.append(_group("", versions, versions[0]))
        else:
            for group in doc.get("groups") or []:
                groups.append(group)
        for group in groups:
            for v in group.get("versions") or []:
                gv = v["groupVersion"]
                if gv not in resources:
                    path = f"/apis/{gv}" if "/" in gv else f"/api/{gv}"
                    resources[gv] = (await client.request("GET", path)).json()
    return Documents({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}, resources)


def _group(name: str, versions: list[str], preferred: str) -> dict[str, Any]:
    def gv(version: str) -> dict[str, str]:
        return {"groupVersion": f"{name}/{version}" if name else version, "version": version}

    return {"name": name, "versions": [gv(v) for v in versions], "preferredVersion": gv(preferred)}


def _from_aggregated(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """One ``APIGroupDiscovery`` as an ``APIGroup`` and its ``APIResourceList``s (client-go's
    conversion: the first version is the preferred one)."""
    name = (item.get("metadata") or {}).get("name") or ""
    versions = [v["version"] for v in item.get("versions") or []]
    lists: dict[str, dict[str, Any]] = {}
    for v in item.get("versions") or []:
        gv = f"{name}/{v['version']}" if name else v["version"]
        out: list[dict[str, Any]] = []
        for r in v.get("resources") or []:
            namespaced = r.get("scope") == "Namespaced"
            main = {"name": r["resource"], "singularName": r.get("singularResource") or "", "namespaced": namespaced,
                    **_kind(r.get("responseKind")), "verbs": list(r.get("verbs") or [])}
            if r.get("shortNames"):
                main["shortNames"] = list(r["shortNames"])
            if r.get("categories"):
                main["categories"] = list(r["categories"])
            out.append(main)
            for s in r.get("subresources") or []:
                out.append({"name": f"{r['resource']}/{s['subresource']}", "singularName": main["singularName"],
                            "namespaced": namespaced, **_kind(s.get("responseKind")),
                            "verbs": list(s.get("verbs") or [])})
        lists[gv] = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
    return _group(name, versions, versions[0] if versions else ""), lists


def _kind(gvk: dict[str, Any] | None) -> dict[str, str]:
    if not gvk:
        return {"kind": ""}
    out = {"kind": gvk.get("kind") or ""}
    if gvk.get("group"):
        out["group"] = gvk["group"]
    if gvk.get("version"):
        out["version"] = gvk["version"]
    return out
