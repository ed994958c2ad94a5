"""API discovery: the bodies of ``/api``, ``/apis``, ``/api/v1``, ``/apis/{g}`` and ``/apis/{g}/{v}``.

Clients learn what the server serves from these before anything else (``kubectl api-resources``,
short names like ``po``, ``kubectl get all`` through the ``all`` category, ``deployments/scale``).
Two forms exist, as in Kubernetes:

* the aggregated form, ``apidiscovery.k8s.io/v2`` (or ``v2beta1``) ``APIGroupDiscoveryList``,
  served on ``/api`` and ``/apis`` when the Accept header asks for it — one request tells all;
* the plain form: ``APIVersions`` / ``APIGroupList`` / ``APIGroup``, then one ``APIResourceList``
  per group-version.

Everything is computed from the one registry table (``apiserver/registry/table.py``), so each
body is built once and kept as bytes, until custom resources come or go (:func:`invalidate`). The builders take the entries as an
argument so they can be exercised without the whole registry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")


def aggregated_content_type(version: str) -> str:
    return f"application/json;g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}"


# ---------------------------------------------------------------------------------------------
# Content negotiation


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """The media ranges of an Accept header, highest q first, ties in the client's order."""
    out: list[tuple[float, int, str, dict[str, str]]] = []
    for i, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for p in pieces[1:]:
            k, sep, v = p.partition("=")
            if sep:
                params[k.strip().lower()] = v.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q <= 0:
            continue
        out.append((-q, i, pieces[0].lower(), params))
    out.sort()
    return [(mt, params) for _, _, mt, params in out]


def choose_discovery_format(accept_header: str | None) -> str | None:
    """The Content-Type to answer ``/api`` or ``/apis`` with: the aggregated discovery type the
    client prefers, or None for the plain APIVersions/APIGroupList form.

    kubectl 1.32 asks for v2, then v2beta1, then plain JSON; an older kubectl only for v2beta1;
    the Python client for plain JSON.
    """
    if not accept_header:
        return None
    for media_type, params in _media_ranges(accept_header):
        if media_type not in ("application/json", "application/*", "*/*"):
            continue
        if (params.get("g") == AGGREGATED_GROUP and params.get("as") == AGGREGATED_KIND
                and params.get("v") in AGGREGATED_VERSIONS):
            return aggregated_content_type(params["v"])
        if "g" not in params and "as" not in params:
            return None  # plain JSON is preferred over any aggregated form listed later
    return None


# ---------------------------------------------------------------------------------------------
# Builders (pure functions of the table entries)


def group_versions(entries: Sequence[Any]) -> dict[str, list[str]]:
    """Group → its versions, in the entries' order (the core group is "")."""
    out: dict[str, list[str]] = {}
    for e in entries:
        vs = out.setdefault(e.type.group, [])
        if e.type.version not in vs:
            vs.append(e.type.version)
    return out


def _sub_gvk(entry: Any, sub: Any) -> tuple[str, str, str]:
    """Group, version and kind a subresource speaks: the parent's unless it names its own
    (``scale`` speaks autoscaling/v1 Scale, ``eviction`` policy/v1 Eviction)."""
    kind = sub.kind or entry.type.kind
    if sub.group:
        return sub.group, sub.version, kind
    return entry.type.group, entry.type.version, kind


def api_resources(entries: Sequence[Any], group: str, version: str) -> list[dict[str, Any]]:
    """The ``APIResource`` list of one group-version: each resource, then its subresources."""
    out: list[dict[str, Any]] = []
    for e in entries:
        rt = e.type
        if (rt.group, rt.version) != (group, version):
            continue
        res: dict[str, Any] = {
            "name": rt.plural, "singularName": rt.singular_name, "namespaced": rt.namespaced,
            "kind": rt.kind, "verbs": list(e.verbs),
        }
        if rt.short_names:
            res["shortNames"] = list(rt.short_names)
        if rt.categories:
            res["categories"] = list(rt.categories)
        out.append(res)
        for sub in e.subresources:
            g, v, kind = _sub_gvk(e, sub)
            s: dict[str, Any] = {"name": f"{rt.plural}/{sub.name}", "singularName": "",
                                 "namespaced": rt.namespaced, "kind": kind, "verbs": list(sub.verbs)}
            if (g, v) != (rt.group, rt.version):
                s["group"], s["version"] = g, v
            out.append(s)
    return out


def api_resource_list(entries: Sequence[Any], group: str, version: str) -> dict[str, Any]:
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": api_resources(entries, group, version)}


def api_versions(entries: Sequence[Any], *, server_address: str) -> dict[str, Any]:
    """``/api``: the core group's versions and where to reach the server."""
    return {
        "kind": "APIVersions",
        "versions": group_versions(entries).get("", []),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _api_group(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group(entries: Sequence[Any], group: str) -> dict[str, Any] | None:
    """``/apis/{group}``: one named group, or None when the group is not served."""
    versions = group_versions(entries).get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)}


def api_group_list(entries: Sequence[Any]) -> dict[str, Any]:
    """``/apis``: every named group (the core group lives at ``/api`` instead)."""
    groups = [_api_group(g, vs) for g, vs in group_versions(entries).items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _discovery_resource(e: Any) -> dict[str, Any]:
    rt = e.type
    res: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular_name,
        "verbs": list(e.verbs),
    }
    if rt.short_names:
        res["shortNames"] = list(rt.short_names)
    if rt.categories:
        res["categories"] = list(rt.categories)
    subs = []
    for sub in e.subresources:
        g, v, kind = _sub_gvk(e, sub)
        subs.append({"subresource": sub.name, "responseKind": {"group": g, "version": v, "kind": kind},
                     "verbs": list(sub.verbs)})
    if subs:
        res["subresources"] = subs
    return res


def aggregated_discovery(entries: Sequence[Any], *, core: bool, version: str = "v2") -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core=True``: the core group, named ``""``)
    or ``/apis`` (every named group)."""
    items = []
    for group, versions in group_versions(entries).items():
        if (group == "") != core:
            continue
        items.append({
            "metadata": {"name": group, "creationTimestamp": None},
            "versions": [
                {"version": v,
                 "resources": [_discovery_resource(e) for e in entries
                               if (e.type.group, e.type.version) == (group, v)],
                 "freshness": "Current"}
                for v in versions
            ],
        })
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {}, "items": items}


# ---------------------------------------------------------------------------------------------
# Cached bodies of the served registry


def _entries() -> Sequence[Any]:
    # Imported late: the table pulls in every strategy, which need not be importable to build or
    # test the pure functions above.
    from apiserver.registry import table
    return table.all_entries()


def invalidate() -> None:
    """Forget the kept bodies: the served resources changed (a CRD was established or went)."""
    for fn in (api_body, apis_body, group_body, resource_list_body):
        fn.cache_clear()


def _dump(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


@functools.cache
def api_body(content_type: str | None = None, *, server_address: str = "127.0.0.1:6443") -> bytes:
    """``GET /api``: aggregated (when ``content_type`` is one :func:`choose_discovery_format`
    returned) or APIVersions."""
    if content_type:
        return _dump(aggregated_discovery(_entries(), core=True, version=_version_of(content_type)))
    return _dump(api_versions(_entries(), server_address=server_address))


@functools.cache
def apis_body(content_type: str | None = None) -> bytes:
    """``GET /apis``: aggregated or APIGroupList."""
    if content_type:
        return _dump(aggregated_discovery(_entries(), core=False, version=_version_of(content_type)))
    return _dump(api_group_list(_entries()))


@functools.cache
def group_body(group: str) -> bytes | None:
    """``GET /apis/{group}``: the APIGroup, or None (404) when not served."""
    body = api_group(_entries(), group)
    return None if body is None else _dump(body)


@functools.cache
def resource_list_body(group: str, version: str) -> bytes | None:
    """``GET /api/v1`` (group ``""``) or ``/apis/{group}/{version}``: the APIResourceList, or
    None (404) when the group-version is not served."""
    if version not in group_versions(_entries()).get(group, []):
        return None
    return _dump(api_resource_list(_entries(), group, version))


def _version_of(content_type: str) -> str:
    for p in content_type.split(";"):
        k, _, v = p.strip().partition("=")
        if k == "v" and v in AGGREGATED_VERSIONS:
            return v
    return "v2"
