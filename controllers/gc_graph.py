"""The garbage collector's dependency graph, read straight from the informer caches.

Kubernetes' GraphBuilder keeps its own owner → dependents graph beside the informers. Here the
informers' stores *are* the graph: every watched store carries two indexes, ``uid`` (an
object under its own uid) and ``ownerUID`` (an object under each of its owners' uids), so

* "does the object with uid U exist (as far as the caches know)" is a uid-index lookup,
* "which objects name U as an owner" is an ownerUID-index lookup,

over every watched resource. Nothing is kept apart from the caches, so the graph can never
drift from them, and a restart rebuilds it by listing. The caches may lag the apiserver: the
collector confirms an owner's absence with a live GET before acting on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, cast

from minik8s.api.resources import ResourceType
from minik8s.api.typed import ObjectMeta, OwnerReference
from minik8s.client.informer import Informer

UID_INDEX = "uid"
OWNER_UID_INDEX = "ownerUID"

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def meta(obj: Mapping[str, Any]) -> ObjectMeta:
    """The metadata of an object of any kind ({} when it has none)."""
    # Every kind's metadata is an ObjectMeta, which the checker cannot know of an object of any kind.
    return cast(ObjectMeta, obj.get("metadata") or {})


def uid_index(obj: dict[str, Any]) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [uid] if uid else []


def owner_uid_index(obj: dict[str, Any]) -> list[str]:
    return [ref["uid"] for ref in owner_refs(obj) if ref.get("uid")]


INDEXERS = {UID_INDEX: uid_index, OWNER_UID_INDEX: owner_uid_index}


def owner_refs(obj: Mapping[str, Any]) -> list[OwnerReference]:
    return meta(obj).get("ownerReferences") or []


def finalizers(obj: Mapping[str, Any]) -> list[str]:
    return meta(obj).get("finalizers") or []


def being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def deleting_dependents(obj: Mapping[str, Any]) -> bool:
    """The owner waits, behind ``foregroundDeletion``, for its blocking dependents to go."""
    return being_deleted(obj) and FOREGROUND_FINALIZER in finalizers(obj)


def orphaning(obj: Mapping[str, Any]) -> bool:
    return being_deleted(obj) and ORPHAN_FINALIZER in finalizers(obj)


@dataclasses.dataclass(frozen=True, slots=True)
class Cached:
    """One object found in a cache, with the resource it belongs to."""

    rt: ResourceType
    obj: dict[str, Any]  # an object of any kind, as the cache holds it

    @property
    def uid(self) -> str:
        return meta(self.obj)["uid"]

    @property
    def name(self) -> str:
        return meta(self.obj)["name"]

    @property
    def namespace(self) -> str | None:
        return meta(self.obj).get("namespace")


class Graph:
    """Owner/dependent queries over a set of informers that carry :data:`INDEXERS`."""

    def __init__(self, informers: list[Informer]) -> None:
        self.informers = informers

    def get(self, uid: str) -> Cached | None:
        for inf in self.informers:
            found = inf.store.by_index(UID_INDEX, uid)
            if found:
                return Cached(inf.rt, found[0])
        return None

    def dependents(self, owner_uid: str) -> list[Cached]:
        out: list[Cached] = []
        for inf in self.informers:
            out.extend(Cached(inf.rt, o) for o in inf.store.by_index(OWNER_UID_INDEX, owner_uid))
        return out

    def has_dependents(self, owner_uid: str) -> bool:
        return any(inf.store.index_keys(OWNER_UID_INDEX, owner_uid) for inf in self.informers)

    def blocking_dependents(self, owner_uid: str) -> list[Cached]:
        """Dependents whose reference to the owner has ``blockOwnerDeletion: true``."""
        return [d for d in self.dependents(owner_uid)
                if any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in owner_refs(d.obj))]
