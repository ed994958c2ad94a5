"""Which resource a user means: ``po``, ``pods``, ``Pod``, ``deploy``, ``deployment.apps``,
``deployments.v1.apps`` or ``TYPE/NAME``, resolved against the server's discovery.

kubectl's RESTMapper does this from ``/api`` and ``/apis``; so does :class:`Resolver`, from the
documents of :mod:`minik8s.cli.discovery`: kubectl's disk cache when it is fresh, else the
server (aggregated discovery, or the plain walk), and the server again when a name is not
found in what came from the cache (a resource added since, e.g. a CRD), as kubectl's deferred
mapper does. Discovery is read once per run and kept for the rest of it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from minik8s.api.resources import ResourceType
from minik8s.cli import discovery
from minik8s.cli.exits import CliError

if TYPE_CHECKING:
    from minik8s.client.oneshot import OneShotClient


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    """One served resource: its identity (``rt``) and what discovery says it supports."""

    rt: ResourceType
    verbs: tuple[str, ...]
    subresources: frozenset[str]
    categories: tuple[str, ...]
    preferred: bool  # in its group's preferred version

    @property
    def kind_group(self) -> str:
        """``deployment.apps`` or ``pod``: how kubectl names objects of it in its output."""
        kind = self.rt.kind.lower()
        return f"{kind}.{self.rt.group}" if self.rt.group else kind


def kind_group(rt: ResourceType) -> str:
    kind = rt.kind.lower()
    return f"{kind}.{rt.group}" if rt.group else kind


class Resolver:
    """Discovery for one run: ``resolve(name)`` and the list of everything served."""

    def __init__(self, client: OneShotClient, cache: discovery.DiskCache | None = None) -> None:
        self._client = client
        self._cache = cache
        self._resources: list[Resource] | None = None
        self._from_cache = False  # what we hold came from the disk cache, not this run's server
        self._ask_server = False

    async def all(self) -> list[Resource]:
        if self._resources is None:
            self._resources = await self._discover()
        return self._resources

    def invalidate(self) -> None:
        """Forget what discovery said: the next lookup asks the server (and rewrites the cache)."""
        self._resources = None
        self._ask_server = True

    async def resolve(self, name: str) -> Resource:
        """The resource ``name`` means; CliError as kubectl words it when none matches."""
        found = await self.find(name)
        if found is None:
            raise CliError(f'the server doesn\'t have a resource type "{name}"')
        return found

    async def find(self, name: str) -> Resource | None:
        found = _find(await self.all(), name)
        if found is None and self._from_cache:
            self.invalidate()
            found = _find(await self.all(), name)
        return found

    async def for_kind(self, api_version: str, kind: str) -> Resource | None:
        found = _for_kind(await self.all(), api_version, kind)
        if found is None and self._from_cache:
            self.invalidate()
            found = _for_kind(await self.all(), api_version, kind)
        return found

    async def in_category(self, category: str) -> list[Resource]:
        return [r for r in await self.all() if r.preferred and category in r.categories]

    async def _discover(self) -> list[Resource]:
        docs = None if self._cache is None or self._ask_server else self._cache.load()
        self._from_cache = docs is not None
        if docs is None:
            docs = await discovery.fetch(self._client)
            if self._cache is not None:
                self._cache.store(docs)
        return resources_of(docs)


def _find(resources: list[Resource], name: str) -> Resource | None:
    lname = name.lower()
    resource, group, version = lname, None, None
    if "." in lname:
        first, rest = lname.split(".", 1)
        # ``deployments.v1.apps`` names a version too; ``deployment.apps`` only a group.
        if "." in rest and rest.split(".", 1)[0].startswith("v") and rest.split(".", 1)[0][1:2].isdigit():
            version, group = rest.split(".", 1)
        else:
            group = rest
        resource = first
    candidates = [r for r in resources if group is None or r.rt.group == group]
    if version is not None:
        candidates = [r for r in candidates if r.rt.version == version]
    else:
        candidates = [r for r in candidates if r.preferred]
    for match in (
        lambda r: r.rt.plural == resource,
        lambda r: r.rt.singular_name == resource,
        lambda r: resource in r.rt.short_names,
        lambda r: r.rt.kind.lower() == resource,
    ):
        for r in candidates:
            if match(r):
                return r
    return None


def _for_kind(resources: list[Resource], api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    for r in resources:
        if r.rt.group == group and r.rt.version == version and r.rt.kind == kind:
            return r
    return None


def resources_of(docs: discovery.Documents) -> list[Resource]:
    """Every served resource the documents list (subresources folded into their resource)."""
    out: list[Resource] = []
    for group in docs.groups.get("groups") or []:
        name = group.get("name") or ""
        preferred = (group.get("preferredVersion") or {}).get("version")
        for v in group.get("versions") or []:
            doc = docs.resources.get(v["groupVersion"]) or {}
            subs: dict[str, set[str]] = {}
            for r in doc.get("resources") or []:
                if "/" in r["name"]:
                    base, sub = r["name"].split("/", 1)
                    subs.setdefault(base, set()).add(sub)
            for r in doc.get("resources") or []:
                if "/" in r["name"]:
                    continue
                rt = ResourceType(name, v["version"], r["kind"], r["name"], bool(r.get("namespaced")),
                                  tuple(r.get("shortNames") or ()), tuple(r.get("categories") or ()),
                                  r.get("singularName") or "")
                out.append(Resource(rt, tuple(r.get("verbs") or ()), frozenset(subs.get(r["name"], ())),
                                    tuple(r.get("categories") or ()), v["version"] == preferred))
    return out


def split_type_name_args(args: list[str]) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """kubectl's two argument shapes: ``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME...``.

    Returns (types, type/name pairs, names); mixing the shapes is an error, as in kubectl.
    """
    if not args:
        return [], [], []
    if any("/" in a for a in args):
        pairs = []
        for a in args:
            if "/" not in a:
                raise CliError("there is no need to specify a resource type as a separate argument when "
                               "passing arguments in resource/name form (e.g. 'mkctl get resource/<resource_name>' "
                               "instead of 'mkctl get resource resource/<resource_name>'")
            t, _, n = a.partition("/")
            if not t or not n:
                raise CliError("arguments in resource/name form must have a single resource and name")
            pairs.append((t, n))
        return [], pairs, []
    types = [t for t in args[0].split(",") if t]
    return types, [], args[1:]
