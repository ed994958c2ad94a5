"""The garbage collector: deletes dependents whose owners are gone, and carries out the
``orphan`` and ``foregroundDeletion`` finalizers the apiserver records for propagationPolicy.

As Kubernetes' ``pkg/controller/garbagecollector``. It watches every resource that can be an
owner or a dependent (all of ``resources.ALL`` but Events, which Kubernetes' collector ignores
too: they are many, short-lived and expire on their own; and the resource of every established
CustomResourceDefinition, in its preferred version, from the moment it is served) and reads the owner → dependents
graph from their caches (:mod:`controllers.gc_graph`). Queue keys are object **uids**, because
ownerReferences name owners by uid. ``sync(uid)`` looks at one object:

* being deleted with ``orphan``: remove the ownerReference to it from every dependent, then
  remove the finalizer (``kubectl delete --cascade=orphan``);
* being deleted with ``foregroundDeletion``: make every dependent look at its owners again
  (they delete themselves, see below), and remove the finalizer once no dependent with
  ``blockOwnerDeletion: true`` is left (``--cascade=foreground``);
* otherwise, as a dependent: each owner is *solid* (exists), *dangling* (absent — confirmed
  with a live GET, as the caches may lag) or *waiting* (being deleted in the foreground). With
  a solid owner, references to dangling and waiting owners are removed; with none, the object
  is deleted (Foreground when a waiting owner waits on it and it has dependents of its own, so
  the wait reaches down the whole chain; else Background), with a uid precondition so that a
  re-created namesake is never hit.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import Any, Literal

from controllers import gc_graph as g
from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import resources
from minik8s.api.resources import ResourceType
from minik8s.api.typed import OwnerReference
from minik8s.api.wellknown import apiextensions
from minik8s.client.events import WARNING, EventRecorder
from minik8s.client.informer import Informer, SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

# Kubernetes' collector ignores events by default (``--enable-garbage-collector`` ignored list).
DEFAULT_IGNORED: frozenset[ResourceType] = frozenset({resources.EVENTS})
# Uids of owners confirmed absent: uids are never reused, so the answer never goes stale.
_ABSENT_CACHE_SIZE = 10000
_CONFLICT_RETRIES = 3


class GarbageCollector(Controller):
    name = "garbagecollector"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 ignored: frozenset[ResourceType] = DEFAULT_IGNORED, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="garbage-collector-controller")
        self.informers = [informers.informer(rt, indexers=g.INDEXERS) for rt in resources.ALL if rt not in ignored]
        self.graph = g.Graph(self.informers)  # the same list: custom resources join it as they come
        self._absent: collections.OrderedDict[str, None] = collections.OrderedDict()
        for inf in self.informers:
            inf.add_handler(on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete)
        self._factory = informers
        self._crds = informers.informer(resources.CUSTOMRESOURCEDEFINITIONS, indexers=g.INDEXERS)
        self._custom: dict[str, Informer] = {}  # CRD name -> the informer of its resource
        self._crds.add_handler(on_add=self._watch_custom, on_update=lambda old, cur: self._watch_custom(cur),
                               on_delete=self._unwatch_custom)

    # -- custom resources: watched while their CRD is established ------------------------------

    def _watch_custom(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        types = apiextensions.served_resource_types(crd)
        current = self._custom.get(name)
        if current is not None and types and current.rt == types[0]:
            return
        if current is not None:
            self._unwatch_custom(crd)
        if not types:
            return
        inf = self._factory.informer(types[0], indexers=g.INDEXERS)
        inf.add_handler(on_add=self._on_add, on_update=self._on_update, on_delete=self._on_delete)
        self._custom[name] = inf
        self.informers.append(inf)
        self._factory.start()

    def _unwatch_custom(self, crd: dict[str, Any] | None) -> None:
        crd = tombstone_safe(crd)
        inf = self._custom.pop(g.meta(crd or {}).get("name", ""), None)
        if inf is not None:
            self.informers.remove(inf)
            self._factory.remove(inf)

    def _custom_type(self, api_version: str, kind: str) -> ResourceType | None:
        """The served custom resource of ``kind`` in ``api_version``, from the CRDs' cache."""
        group, _, version = api_version.rpartition("/")
        for crd in self._crds.store.list():
            for rt in apiextensions.served_resource_types(crd):
                if (rt.group, rt.version, rt.kind) == (group, version, kind):
                    return rt
        return None

    # -- handlers: map changes to the uids that must be looked at ------------------------------

    def _enqueue_uid(self, uid: str | None) -> None:
        if uid:
            self.enqueue_key(uid)

    def _on_add(self, obj: dict[str, Any]) -> None:
        if g.owner_refs(obj) or g.orphaning(obj) or g.deleting_dependents(obj):
            self._enqueue_uid(g.meta(obj).get("uid"))

    def _on_update(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = g.meta(old), g.meta(cur)
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return  # a resync
        old_owners = {r.get("uid") for r in g.owner_refs(old)}
        new_owners = {r.get("uid") for r in g.owner_refs(cur)}
        deletion_changed = (g.being_deleted(old) != g.being_deleted(cur)
                            or g.finalizers(old) != g.finalizers(cur))
        if old_owners != new_owners or deletion_changed:
            self._enqueue_uid(cmd.get("uid"))
        # An owner waiting in the foreground is unblocked when a dependent lets go of it.
        for uid in old_owners - new_owners:
            self._enqueue_uid(uid)

    def _on_delete(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is None:
            return
        uid = g.meta(obj).get("uid")
        if uid:
            for dep in self.graph.dependents(uid):
                self._enqueue_uid(dep.uid)
        # Owners deleting in the foreground may have been waiting for this one.
        for ref in g.owner_refs(obj):
            self._enqueue_uid(ref.get("uid"))

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        item = self.graph.get(key)
        if item is None:
            return  # gone: its dependents were enqueued by the delete handler
        if g.orphaning(item.obj):
            await self._orphan_dependents(item)
            return
        if g.deleting_dependents(item.obj):
            await self._process_deleting_dependents(item)
            return
        if g.being_deleted(item.obj) or not g.owner_refs(item.obj):
            return
        await self._attempt_to_delete(item)

    async def _attempt_to_delete(self, item: g.Cached) -> None:
        solid, dangling, waiting = await self._classify(item)
        if solid:
            stale = {r["uid"] for r in dangling + waiting}
            if stale:
                log.info("garbagecollector: removing dangling owner references %s from %s %s",
                         sorted(stale), item.rt.kind, _key(item))
                await self._remove_owner_refs(item, stale)
            return
        fins = g.finalizers(item.obj)
        if waiting and self.graph.has_dependents(item.uid):
            policy = "Foreground"
        elif g.ORPHAN_FINALIZER in fins:
            policy = "Orphan"
        elif g.FOREGROUND_FINALIZER in fins:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbagecollector: deleting %s %s (owners gone), propagationPolicy=%s", item.rt.kind,
                 _key(item), policy)
        try:
            await self.client.delete(item.rt, item.name, namespace=item.namespace, propagation_policy=policy,
                                     preconditions={"uid": item.uid})
        except errors.NotFound:
            pass
        except errors.Conflict:
            # The uid precondition failed: a new object took the name; it is not ours to delete.
            pass

    async def _classify(self, item: g.Cached
                        ) -> tuple[list[OwnerReference], list[OwnerReference], list[OwnerReference]]:
        """The item's ownerReferences split into solid, dangling and waiting owners."""
        solid: list[OwnerReference] = []
        dangling: list[OwnerReference] = []
        waiting: list[OwnerReference] = []
        for ref in g.owner_refs(item.obj):
            uid = ref.get("uid") or ""
            cached = self.graph.get(uid)
            if cached is not None:
                (waiting if g.deleting_dependents(cached.obj) else solid).append(ref)
                continue
            if uid in self._absent:
                dangling.append(ref)
                continue
            owner = await self._live_owner(item, ref)
            if owner is _UNKNOWN:
                solid.append(ref)  # never delete on what cannot be verified
            elif owner is None:
                self._remember_absent(uid)
                dangling.append(ref)
            else:
                (waiting if g.deleting_dependents(owner) else solid).append(ref)
        return solid, dangling, waiting

    async def _live_owner(self, item: g.Cached, ref: OwnerReference) -> dict[str, Any] | None | _Unknown:
        """The owner as the apiserver has it now; None if absent (or another object by that
        name); ``_UNKNOWN`` for a kind this cluster does not serve."""
        rt: ResourceType | None
        try:
            rt = resources.for_kind(ref.get("apiVersion") or "", ref.get("kind") or "")
        except KeyError:
            rt = self._custom_type(ref.get("apiVersion") or "", ref.get("kind") or "")
        if rt is None:
            log.warning("garbagecollector: %s %s has an owner of unknown kind %s/%s; leaving it",
                        item.rt.kind, _key(item), ref.get("apiVersion"), ref.get("kind"))
            return _UNKNOWN
        if rt.namespaced and not item.rt.namespaced:
            # A cluster-scoped object cannot be owned by a namespaced one: the reference is void.
            self.recorder.event(_with_kind(item), WARNING, "OwnerRefInvalidNamespace",
                                f"ownerRef {ref} does not exist in namespace \"\"")
            return None
        try:
            owner = await self.client.get(rt, ref.get("name") or "",
                                          namespace=item.namespace if rt.namespaced else None)
        except errors.NotFound:
            return None
        if g.meta(owner).get("uid") != ref.get("uid"):
            return None
        return owner

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > _ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    # -- owners being deleted --------------------------------------------------------------------

    async def _orphan_dependents(self, owner: g.Cached) -> None:
        deps = self.graph.dependents(owner.uid)
        if deps:
            log.info("garbagecollector: orphaning %d dependents of %s %s", len(deps), owner.rt.kind, _key(owner))
        results = await asyncio.gather(*(self._remove_owner_refs(d, {owner.uid}) for d in deps),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        await self._remove_finalizer(owner, g.ORPHAN_FINALIZER)

    async def _process_deleting_dependents(self, owner: g.Cached) -> None:
        blocking = self.graph.blocking_dependents(owner.uid)
        if not blocking:
            await self._remove_finalizer(owner, g.FOREGROUND_FINALIZER)
            return
        # Each dependent decides for itself (it may have another, solid owner); its deletion
        # or release requeues this owner through the handlers.
        for dep in self.graph.dependents(owner.uid):
            if not g.being_deleted(dep.obj) or g.deleting_dependents(dep.obj):
                self._enqueue_uid(dep.uid)
        log.debug("garbagecollector: %s %s waits for %d blocking dependents", owner.rt.kind, _key(owner),
                  len(blocking))

    # -- writes ------------------------------------------------------------------------------------

    async def _remove_owner_refs(self, item: g.Cached, uids: set[str]) -> None:
        obj = item.obj
        for attempt in range(_CONFLICT_RETRIES):
            refs = [r for r in g.owner_refs(obj) if r.get("uid") not in uids]
            if len(refs) == len(g.owner_refs(obj)):
                return
            patch = {"metadata": {"ownerReferences": refs or None,
                                  "resourceVersion": g.meta(obj)["resourceVersion"]}}
            try:
                await self.client.patch(item.rt, item.name, patch, namespace=item.namespace)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                if attempt == _CONFLICT_RETRIES - 1:
                    raise
                fresh = await self._fresh(item)
                if fresh is None:
                    return
                obj = fresh

    async def _remove_finalizer(self, item: g.Cached, finalizer: str) -> None:
        obj = item.obj
        for attempt in range(_CONFLICT_RETRIES):
            fins = g.finalizers(obj)
            if finalizer not in fins:
                return
            rest = [f for f in fins if f != finalizer]
            patch = {"metadata": {"finalizers": rest or None,
                                  "resourceVersion": g.meta(obj)["resourceVersion"]}}
            try:
                await self.client.patch(item.rt, item.name, patch, namespace=item.namespace)
                log.info("garbagecollector: removed finalizer %s from %s %s", finalizer, item.rt.kind, _key(item))
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                if attempt == _CONFLICT_RETRIES - 1:
                    raise
                fresh = await self._fresh(item)
                if fresh is None:
                    return
                obj = fresh

    async def _fresh(self, item: g.Cached) -> dict[str, Any] | None:
        """The object as stored now (the cache lags our own writes); None if it is gone."""
        try:
            obj = await self.client.get(item.rt, item.name, namespace=item.namespace)
        except errors.NotFound:
            return None
        return obj if g.meta(obj).get("uid") == item.uid else None


class _Unknown(enum.Enum):
    """The answer about an owner of a kind this cluster does not serve (a sentinel the checker narrows)."""

    UNKNOWN = enum.auto()


_UNKNOWN: Literal[_Unknown.UNKNOWN] = _Unknown.UNKNOWN


def _key(item: g.Cached) -> str:
    return f"{item.namespace}/{item.name}" if item.namespace else item.name


def _with_kind(item: g.Cached) -> dict[str, Any]:
    return {**item.obj, "kind": item.rt.kind, "apiVersion": item.rt.api_version}
