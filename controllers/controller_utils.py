"""What every workload controller shares, as Kubernetes' ``pkg/controller/controller_utils.go``.

* Pod predicates (active, ready, available) on the typed views of :mod:`minik8s.api.typed`
  (the JSON dicts the informers hold, typed at the boundary, not copied).
* Controller references: reading them, building one, and the ``controllerUID`` index that files
  each object under its controller's uid (orphans under ``orphan/<namespace>``) so a sync finds
  its dependents without scanning the namespace.
* :class:`ControllerRefManager`: claims objects for an owner: adopts matching orphans (a
  strategic merge patch adding a controller ownerReference), releases owned objects whose
  labels stopped matching, and leaves objects of other controllers alone.
* :func:`slow_start_batch`: bulk calls in batches of 1, 2, 4, ... that stop at the first
  failing batch, so a quota error costs one call instead of hundreds.

The informers feeding these are shared; nothing here mutates a cached object.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from minik8s import errors, labels, timestamps
from minik8s.api import typed
from minik8s.api.resources import ResourceType
from minik8s.client.cache import Store
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

CONTROLLER_UID_INDEX = "controllerUID"

# Any API object: a typed view (a Pod, a ReplicaSet, ...) or a plain dict from a store.
_Obj = TypeVar("_Obj", bound=Mapping[str, Any])

# Kubernetes' pod-deletion-cost annotation: lower cost is deleted first.
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


# -- time -----------------------------------------------------------------------------------

def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- pods -----------------------------------------------------------------------------------

def meta(obj: Mapping[str, Any]) -> typed.ObjectMeta:
    """``obj``'s metadata (every kind's is an ObjectMeta), or an empty one."""
    md: typed.ObjectMeta | None = obj.get("metadata")  # typed by annotation: no call on this hot path
    return md or {}


def pod_ready_condition(pod: typed.Pod) -> typed.PodCondition | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_pod_ready(pod: typed.Pod) -> bool:
    cond = pod_ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: typed.Pod, min_ready_seconds: int, at: datetime.datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (Kubernetes' podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = timestamps.parse((pod_ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) < at


def is_pod_active(pod: typed.Pod) -> bool:
    """Not finished and not being deleted: the pods a ReplicaSet counts."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


def filter_active_pods(pods: Iterable[typed.Pod]) -> list[typed.Pod]:
    return [p for p in pods if is_pod_active(p)]


# -- controller references ----------------------------------------------------------------

def controller_ref(obj: Mapping[str, Any]) -> typed.OwnerReference | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Mapping[str, Any]) -> typed.OwnerReference:
    """An ownerReference naming ``owner`` as controller that blocks its foreground deletion."""
    md = meta(owner)
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"],
            "uid": md["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_uid_index(obj: Mapping[str, Any]) -> list[str]:
    """Index function: the controller's uid, or ``orphan/<namespace>`` for an orphan."""
    ref = controller_ref(obj)
    if ref is not None:
        return [ref.get("uid") or ""]
    return [f"orphan/{meta(obj).get('namespace') or ''}"]


def owned_or_orphaned(store: Store, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Objects of ``store`` (indexed by :func:`controller_uid_index`) controlled by ``owner``
    plus the orphans of its namespace: everything a claim must look at."""
    md = meta(owner)
    return (store.by_index(CONTROLLER_UID_INDEX, md.get("uid") or "")
            + store.by_index(CONTROLLER_UID_INDEX, f"orphan/{md.get('namespace') or ''}"))


class ControllerRefManager:
    """Claims objects of one resource for one owner (Kubernetes' BaseControllerRefManager).

    ``can_adopt`` is called at most once per claim, before the first adoption: it re-reads the
    owner from the apiserver so that an owner being deleted never adopts (a cache may lag).
    """

    def __init__(self, client: ApiClient, rt: ResourceType, owner: Mapping[str, Any], selector: labels.Selector,
                 *, can_adopt: Callable[[], Awaitable[None]]) -> None:
        self.client, self.rt, self.owner, self.selector = client, rt, owner, selector
        self._can_adopt = can_adopt
        self._adopt_checked: Exception | None | bool = False

    async def claim(self, objs: Iterable[_Obj]) -> list[_Obj]:
        """The objects the owner controls after adopting and releasing; raises the first
        error that is not a NotFound (the object is gone: nothing to claim)."""
        claimed: list[_Obj] = []
        first_error: Exception | None = None
        owner_md = meta(self.owner)
        for obj in objs:
            try:
                if await self._claim_one(obj, owner_md):
                    claimed.append(obj)
            except errors.NotFound:
                continue
            except errors.MiniK8sError as e:
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return claimed

    async def _claim_one(self, obj: Mapping[str, Any], owner_md: typed.ObjectMeta) -> bool:
        md = meta(obj)
        ref = controller_ref(obj)
        if ref is not None:
            if ref.get("uid") != owner_md.get("uid"):
                return False  # another controller's
            if self.selector.matches(md.get("labels")):
                return True
            if owner_md.get("deletionTimestamp"):
                return False  # an owner going away releases nothing: the GC handles it
            await self._release(obj)
            return False
        # An orphan.
        if owner_md.get("deletionTimestamp") or not self.selector.matches(md.get("labels")):
            return False
        if md.get("deletionTimestamp"):
            return False
        await self._adopt(obj)
        return True

    async def _adopt(self, obj: Mapping[str, Any]) -> None:
        if self._adopt_checked is False:
            try:
                await self._can_adopt()
                self._adopt_checked = None
            except Exception as e:  # remembered: every later adoption of this claim fails alike
                self._adopt_checked = e
        if isinstance(self._adopt_checked, Exception):
            raise self._adopt_checked
        md = meta(obj)
        patch = {"metadata": {"ownerReferences": [new_controller_ref(self.owner)], "uid": md.get("uid")}}
        await self.client.patch(self.rt, md["name"], patch, namespace=md.get("namespace"),
                                patch_type="strategic")
        log.info("%s %s/%s adopted by %s %s", self.rt.kind, md.get("namespace"), md["name"],
                 self.owner.get("kind"), meta(self.owner).get("name"))

    async def _release(self, obj: Mapping[str, Any]) -> None:
        md = meta(obj)
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": meta(self.owner)["uid"]}],
                              "uid": md.get("uid")}}
        try:
            await self.client.patch(self.rt, md["name"], patch, namespace=md.get("namespace"),
                                    patch_type="strategic")
        except errors.Invalid:
            # Kubernetes ignores a 422 here: the object is being deleted or already released.
            return
        log.info("%s %s/%s released by %s %s", self.rt.kind, md.get("namespace"), md["name"],
                 self.owner.get("kind"), meta(self.owner).get("name"))


def recheck_owner(client: ApiClient, rt: ResourceType, owner: Mapping[str, Any]) -> Callable[[], Awaitable[None]]:
    """A ``can_adopt`` for :class:`ControllerRefManager`: the owner, read live, must be the
    same object (uid) and not being deleted."""
    async def check() -> None:
        md = meta(owner)
        fresh = await client.get(rt, md["name"], namespace=md.get("namespace"))
        fmd = meta(fresh)
        if fmd.get("uid") != md.get("uid"):
            raise errors.MiniK8sError(
                f"original {rt.kind} {md.get('namespace')}/{md['name']} is gone: got uid {fmd.get('uid')}, "
                f"wanted {md.get('uid')}")
        if fmd.get("deletionTimestamp"):
            raise errors.MiniK8sError(
                f"{rt.kind} {md.get('namespace')}/{md['name']} has just been deleted at {fmd['deletionTimestamp']}")
    return check


# -- bulk calls -----------------------------------------------------------------------------

async def slow_start_batch(count: int, initial_batch_size: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in concurrent batches doubling from ``initial_batch_size``;
    stop after the first batch with a failure. Returns (successes, first error)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for r in failures:
            if isinstance(r, asyncio.CancelledError):
                raise r
        successes += batch - len(failures)
        if failures:
            first = failures[0]
            if not isinstance(first, Exception):
                raise first
            return successes, first
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def pod_from_template(template: Mapping[str, Any], owner: Mapping[str, Any]) -> dict[str, Any]:
    """A new pod for ``owner`` from its template (labels, annotations, finalizers, spec),
    named by the apiserver from ``{owner-name}-``: a create body, which the callers (Job,
    DaemonSet, StatefulSet) go on editing as JSON."""
    tmeta = meta(template)
    omd = meta(owner)
    md: typed.ObjectMeta = {"generateName": f"{omd['name']}-"}
    if (namespace := omd.get("namespace")) is not None:
        md["namespace"] = namespace
    md["ownerReferences"] = [new_controller_ref(owner)]
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    if tmeta.get("annotations"):
        md["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        md["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}
