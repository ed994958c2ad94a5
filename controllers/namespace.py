"""The namespace controller: empties a namespace being deleted, then lets the apiserver remove it.

As Kubernetes' ``pkg/controller/namespace``. ``DELETE namespaces/x`` only marks the namespace
(deletionTimestamp, phase Terminating) while its ``spec.finalizers`` holds ``kubernetes``.
``sync(name)`` then, for every namespaced resource of the registry and of every established
CustomResourceDefinition (in its preferred version), deletes the collection in the namespace
and lists what is left. Whatever remains (pods in their grace period, objects
behind finalizers) is reported in the namespace's conditions — NamespaceDeletionContentFailure,
NamespaceContentRemaining, NamespaceFinalizersRemaining, with Kubernetes' reasons and
messages — and the namespace is looked at again after an estimate (half the longest remaining
grace period plus a second, as Kubernetes). Once nothing is left, ``PUT
namespaces/x/finalize`` drops ``kubernetes`` from spec.finalizers and the apiserver removes
the namespace.
"""

from __future__ import annotations

import collections
import datetime
import logging
from typing import Any

from controllers import controller_utils as cu
from controllers.base import Controller
from minik8s import errors, timestamps
from minik8s.api import resources, typed
from minik8s.api.resources import NAMESPACES, PODS, ResourceType
from minik8s.api.typed import Namespace, NamespaceCondition, Pod
from minik8s.api.wellknown import apiextensions
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"

# The condition types this controller owns, in Kubernetes' order, with their "all is well" forms.
_OK: dict[str, tuple[str, str]] = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def _group_resource(rt: ResourceType) -> str:
    # Kubernetes prints a GroupResource as "resource.group": "pods." for the core group.
    return f"{rt.plural}.{rt.group}"


class Remaining:
    """What one deletion pass left behind."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.counts: dict[str, int] = {}
        self.finalizers: collections.Counter[str] = collections.Counter()
        self.estimate = 0  # seconds until the slowest remaining pod's grace period ends

    @property
    def empty(self) -> bool:
        return not self.failures and not self.counts


def namespace_conditions(old: list[NamespaceCondition], remaining: Remaining, *, at: str) -> list[NamespaceCondition]:
    """The namespace's conditions after a pass (pure): the owned types set to their failure or
    success form, lastTransitionTime kept when the status did not change, others untouched."""
    failing: dict[str, tuple[str, str]] = {}
    if remaining.failures:
        failing["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(remaining.failures)} remaining: "
            + ", ".join(sorted(remaining.failures)))
    if remaining.counts:
        failing["NamespaceContentRemaining"] = (
            "SomeResourcesRemain",
            "Some resources are remaining: "
            + ", ".join(f"{gr} has {n} resource instances" for gr, n in sorted(remaining.counts.items())))
    if remaining.finalizers:
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: "
            + ", ".join(f"{f} in {n} resource instances" for f, n in sorted(remaining.finalizers.items())))
    out = [c.copy() for c in old]
    for ctype, ok in _OK.items():
        status, (reason, message) = ("True", failing[ctype]) if ctype in failing else ("False", ok)
        cur = next((c for c in out if c.get("type") == ctype), None)
        if cur is None:
            out.append({"type": ctype, "status": status, "lastTransitionTime": at, "reason": reason,
                        "message": message})
            continue
        if cur.get("status") != status:
            cur["lastTransitionTime"] = at
        cur.update({"status": status, "reason": reason, "message": message})
    return out


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.ns_informer = informers.informer(NAMESPACES)
        # the custom resources served now: their objects go with the namespace too
        self.crd_informer = informers.informer(resources.CUSTOMRESOURCEDEFINITIONS)
        self.informers = [self.ns_informer, self.crd_informer]
        self.ns_informer.add_handler(on_add=self._enqueue_if_deleting,
                                     on_update=lambda old, cur: self._enqueue_if_deleting(cur))

    def _enqueue_if_deleting(self, ns: dict[str, Any]) -> None:
        if cu.meta(ns).get("deletionTimestamp"):
            self.enqueue(ns)

    async def sync(self, key: str) -> None:
        cached = self.ns_informer.store.get(key)
        if cached is None or not cu.meta(cached).get("deletionTimestamp"):
            return
        try:
            # The cache may lag the finalize of a previous pass: act on the namespace as stored.
            ns = typed.namespace(await self.client.get(NAMESPACES, key))
        except errors.NotFound:
            return
        if not cu.meta(ns).get("deletionTimestamp") or FINALIZER not in _spec_finalizers(ns):
            return
        remaining = await self._delete_content(key)
        ns = await self._update_conditions(ns, remaining)
        if remaining.failures:
            raise errors.MiniK8sError(f"namespace {key}: " + "; ".join(remaining.failures))
        if not remaining.empty:
            delay = remaining.estimate / 2 + 1
            log.info("namespace %s: content remains (%s); checking again in %.0fs", key,
                     ", ".join(f"{k}={v}" for k, v in sorted(remaining.counts.items())), delay)
            self.queue.add_after(key, delay)
            return
        await self._finalize(ns)

    async def _delete_content(self, namespace: str) -> Remaining:
        remaining = Remaining()
        now = cu.now()
        custom = [types[0] for crd in self.crd_informer.store.list()
                  if (types := apiextensions.served_resource_types(crd))]
        for rt in [*resources.ALL, *custom]:
            if not rt.namespaced:
                continue
            try:
                await self.client.delete_collection(rt, namespace=namespace)
                left = (await self.client.list_all(rt, namespace=namespace)).get("items") or []
            except errors.MiniK8sError as e:
                remaining.failures.append(f"{_group_resource(rt)}: {e}")
                continue
            if not left:
                continue
            remaining.counts[_group_resource(rt)] = len(left)
            for obj in left:
                for f in cu.meta(obj).get("finalizers") or []:
                    remaining.finalizers[f] += 1
                if rt is PODS:
                    remaining.estimate = max(remaining.estimate, _seconds_left(typed.pod(obj), now))
        return remaining

    async def _update_conditions(self, ns: Namespace, remaining: Remaining) -> Namespace:
        status = ns.get("status") or {}
        old = status.get("conditions") or []
        new = namespace_conditions(old, remaining, at=timestamps.format_time(cu.now()))
        if _strip_times(new) == _strip_times(old):
            return ns
        body = {**ns, "status": {**status, "conditions": new}}
        try:
            return typed.namespace(await self.client.update_status(NAMESPACES, body))
        except errors.NotFound:
            return ns

    async def _finalize(self, ns: Namespace) -> None:
        name = cu.meta(ns)["name"]
        for attempt in range(2):
            fins = [f for f in _spec_finalizers(ns) if f != FINALIZER]
            body = {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": fins}}
            try:
                await self.client.request("PUT", NAMESPACES.path(None, name, "finalize"), json=body)
                break
            except errors.NotFound:
                return
            except errors.Conflict:
                # Our own condition write moved the resourceVersion on: once more on a fresh read.
                if attempt:
                    raise
                try:
                    ns = typed.namespace(await self.client.get(NAMESPACES, name))
                except errors.NotFound:
                    return
        log.info("namespace %s: all content deleted; finalized", name)


def _spec_finalizers(ns: Namespace) -> list[str]:
    return (ns.get("spec") or {}).get("finalizers") or []


def _seconds_left(pod: Pod, now: datetime.datetime) -> int:
    deadline = timestamps.parse(cu.meta(pod).get("deletionTimestamp"))
    if deadline is None:
        return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
    return max(0, int((deadline - now).total_seconds()))


def _strip_times(conds: list[NamespaceCondition]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conds]
