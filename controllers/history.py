"""ControllerRevisions of a controller's pod template, shared by the DaemonSet and StatefulSet
controllers (Kubernetes' ``pkg/controller/history``).

:func:`ensure_revision` finds the revision whose data is the owner's current template (an older
one — a rollback — is renumbered to the newest, duplicates go) or creates ``<owner>-<hash>``;
a different template already under that name is a hash collision, counted in the owner's
``status.collisionCount`` so that the next attempt hashes to another name. :func:`trim`
deletes the oldest revisions no pod uses beyond ``revisionHistoryLimit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from controllers import controller_utils as cu
from controllers import daemonset_utils as du
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import CONTROLLERREVISIONS, ResourceType
from minik8s.api.typed import ControllerRevision


def revision_hash(cr: ControllerRevision) -> str:
    return (cu.meta(cr).get("labels") or {}).get(du.HASH_LABEL) or ""


def template_of(cr: ControllerRevision) -> dict[str, Any]:
    """The pod template a revision records (its data without the ``$patch`` directive)."""
    tpl = dict(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
    tpl.pop("$patch", None)
    return tpl


async def ensure_revision(client: Any, rt: ResourceType, owner: Mapping[str, Any],
                          revisions: list[ControllerRevision]) -> tuple[ControllerRevision, list[ControllerRevision]]:
    """(the current template's revision, the other revisions)."""
    md = cu.meta(owner)
    data = du.revision_data(owner)
    current = [r for r in revisions if r.get("data") == data]
    newest = max((r.get("revision") or 0 for r in revisions), default=0)
    if current:
        cur = max(current, key=lambda r: r.get("revision") or 0)
        for dup in current:
            if dup is not cur:
                await delete(client, dup)
        if (cur.get("revision") or 0) < newest:
            cur = typed.controller_revision(await client.patch(CONTROLLERREVISIONS, cu.meta(cur)["name"], {"revision": newest + 1},
                                     namespace=md.get("namespace"), patch_type="merge"))
    else:
        cur = await _create(client, rt, owner, data, newest + 1)
    others = [r for r in revisions if all(r is not c for c in current)
              and cu.meta(r).get("uid") != cu.meta(cur).get("uid")]
    return cur, others


async def _create(client: Any, rt: ResourceType, owner: Mapping[str, Any], data: dict[str, Any],
                  revision: int) -> ControllerRevision:
    md = cu.meta(owner)
    collisions = (owner.get("status") or {}).get("collisionCount") or 0
    tpl = (owner.get("spec") or {}).get("template") or {}
    hash_ = du.compute_hash(tpl, collisions)
    cr: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
          "metadata": {"name": f"{md['name']}-{hash_}", "namespace": md.get("namespace"),
                       "labels": {**((tpl.get("metadata") or {}).get("labels") or {}), du.HASH_LABEL: hash_},
                       "ownerReferences": [cu.new_controller_ref(owner)]},
          "data": data, "revision": revision}
    if md.get("annotations"):
        cr["metadata"]["annotations"] = dict(md["annotations"])
    try:
        return typed.controller_revision(await client.create(CONTROLLERREVISIONS, cr, namespace=md.get("namespace")))
    except errors.AlreadyExists:
        existing = typed.controller_revision(
            await client.get(CONTROLLERREVISIONS, cr["metadata"]["name"], namespace=md.get("namespace")))
        ref = cu.controller_ref(existing)
        if existing.get("data") == data and ref is not None and ref.get("uid") == md.get("uid"):
            return existing
        await client.update_status(rt, {**owner, "status": {**(owner.get("status") or {}),
                                                            "collisionCount": collisions + 1}})
        # Conflict takes a Status (an ApiError answers one): built here, the collision being ours to report
        raise errors.ApiError.from_status({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Conflict",
            "code": 409, "message": f"hash collision on controllerrevision {cr['metadata']['name']}"}) from None


async def delete(client: Any, cr: ControllerRevision) -> None:
    md = cu.meta(cr)
    try:
        await client.delete(CONTROLLERREVISIONS, md["name"], namespace=md.get("namespace"))
    except errors.NotFound:
        pass


async def trim(client: Any, owner: Mapping[str, Any], old: list[ControllerRevision], pods: Sequence[Mapping[str, Any]], keep: AbstractSet[str] = frozenset()) -> None:
    limit = (owner.get("spec") or {}).get("revisionHistoryLimit", 10)
    live = {(cu.meta(p).get("labels") or {}).get(du.HASH_LABEL) for p in pods} | set(keep)
    unused = sorted((r for r in old if revision_hash(r) not in live), key=lambda r: r.get("revision") or 0)
    for r in unused[:max(0, len(unused) - limit)]:
        await delete(client, r)
