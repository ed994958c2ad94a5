"""The apiserver's own CustomResourceDefinition controllers, run inside the apiserver process
as Kubernetes runs apiextensions-apiserver's inside kube-apiserver:

* **serving**: every change of a CRD in the watch cache re-installs its served versions in the
  registry table (``served.py``) at once, synchronously with the cache, and drops the kept
  discovery and OpenAPI documents; a CRD that is not ``Established`` serves nothing;
* **naming**: ``status.acceptedNames`` and the ``NamesAccepted`` condition — the requested
  names minus those another CRD of the group already accepted (``"x" is already in use``);
* **establishing**: ``Established`` once the initial names are accepted;
* **finalizer**: a deleted CRD's objects are deleted (their own finalizers honoured), then the
  ``customresourcecleanup.apiextensions.k8s.io`` finalizer is removed and the CRD goes.

The handler only installs and enqueues; ``sync(name)`` re-reads the CRD and writes status
through the REST storage, retried with the workqueue's backoff on error (a conflict included).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from apiserver import discovery, errors
from apiserver.apiextensions import openapi as crd_openapi
from apiserver.apiextensions import served
from apiserver.registry import table
from apiserver.registry.customresourcedefinitions import set_condition
from apiserver.rest import RestStorage
from apiserver.watchcache import CacheEvent, WatchCache
from minik8s import workqueue
from minik8s.api import resources as rs
from minik8s.api.wellknown import apiextensions as api

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver"
# how soon a deleted CRD whose objects are not all gone (they have finalizers) looks again
RECHECK_DELETION = 1.0


class CRDController:
    def __init__(self, rest: RestStorage, cache: WatchCache) -> None:
        self.rest = rest
        self.cache = cache
        self.queue = workqueue.WorkQueue(name="crd")
        self._worker: asyncio.Task[None] | None = None
        self._crds: dict[str, dict[str, Any]] = {}

    @property
    def entry(self) -> table.Entry:
        return table.BY_TYPE[rs.CUSTOMRESOURCEDEFINITIONS]

    async def start(self) -> None:
        for crd in self.cache.listen(self.entry.resource, self._on_event):
            self._install(crd)
            self.queue.add(crd["metadata"]["name"])
        self._worker = asyncio.create_task(self._run(), name="crd-controller")

    async def stop(self) -> None:
        self.queue.shutdown()
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
        for name in list(self._crds):
            table.set_custom(name, ())
        self._crds.clear()
        self._changed()

    # ---- the handler: serve what the cache holds, enqueue ------------------------------------

    def _on_event(self, ev: CacheEvent) -> None:
        name = ev.obj["metadata"]["name"]
        if ev.type == "DELETED":
            self._crds.pop(name, None)
            table.set_custom(name, ())
            self._changed()
        else:
            self._install(ev.obj)
        self.queue.add(name)

    def _install(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self._crds[name] = crd
        table.set_custom(name, served.entries_for(crd))
        self._changed()

    @staticmethod
    def _changed() -> None:
        discovery.invalidate()
        crd_openapi.invalidate()

    # ---- the worker ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                name = await self.queue.get()
            except workqueue.ShutDown:
                return
            try:
                again = await self.sync(str(name))
                self.queue.forget(name)
                if again:
                    self.queue.add_after(name, RECHECK_DELETION)
            except asyncio.CancelledError:
                raise
            except errors.Conflict:
                self.queue.add_rate_limited(name)
            except Exception:
                log.exception("syncing CustomResourceDefinition %s", name)
                self.queue.add_rate_limited(name)
            finally:
                self.queue.done(name)

    async def sync(self, name: str) -> bool:
        """Bring one CRD's status (or its deletion) forward; True to look again later."""
        try:
            crd = await self.rest.get(self.entry, None, name)
        except errors.NotFound:
            return False
        if crd["metadata"].get("deletionTimestamp"):
            return await self._finalize(crd)
        new = copy.deepcopy(crd)
        self._names(new)
        if new.get("status") != crd.get("status"):
            await self.rest.update(self.entry, None, name, new, subresource="status", field_manager=MANAGER)
        return False

    # ---- naming and establishing -------------------------------------------------------------

    def _names(self, crd: dict[str, Any]) -> None:
        spec, status = crd["spec"], crd.setdefault("status", {})
        requested = spec["names"]
        accepted = dict(status.get("acceptedNames") or {})
        resources: set[str] = set()
        kinds: set[str] = set()
        for other in self._crds.values():
            if other["metadata"]["name"] == crd["metadata"]["name"] or other["spec"].get("group") != spec["group"]:
                continue
            names = (other.get("status") or {}).get("acceptedNames") or {}
            resources.update(n for n in [names.get("plural"), names.get("singular"), *(names.get("shortNames") or [])]
                             if n)
            kinds.update(n for n in (names.get("kind"), names.get("listKind")) if n)
        problem: tuple[str, str] | None = None
        new = dict(accepted)

        def take(field: str, taken: set[str], reason: str) -> None:
            nonlocal problem
            want = requested.get(field)
            if want and want != accepted.get(field) and want in taken:
                problem = problem or (reason, f'"{want}" is already in use')
            else:
                new[field] = want

        take("plural", resources, "PluralConflict")
        take("singular", resources, "SingularConflict")
        short = [s for s in requested.get("shortNames") or []
                 if s in resources and s not in (accepted.get("shortNames") or [])]
        if short:
            problem = problem or ("ShortNamesConflict", f'"{short[0]}" is already in use')
        else:
            new["shortNames"] = requested.get("shortNames")
        take("kind", kinds, "KindConflict")
        take("listKind", kinds, "ListKindConflict")
        new["categories"] = requested.get("categories")
        status["acceptedNames"] = {k: val for k, val in new.items() if val not in (None, [])}
        status["acceptedNames"].setdefault("plural", "")
        status["acceptedNames"].setdefault("kind", "")
        if problem is None:
            set_condition(crd, {"type": api.NAMES_ACCEPTED, "status": "True", "reason": "NoConflicts",
                                "message": "no conflicts found"})
        else:
            set_condition(crd, {"type": api.NAMES_ACCEPTED, "status": "False", "reason": problem[0],
                                "message": problem[1]})
        if api.is_true(crd, api.ESTABLISHED):
            return  # once served, a later name conflict does not take it away
        if problem is None:
            set_condition(crd, {"type": api.ESTABLISHED, "status": "True", "reason": "InitialNamesAccepted",
                                "message": "the initial names have been accepted"})
        else:
            set_condition(crd, {"type": api.ESTABLISHED, "status": "False", "reason": "NotAccepted",
                                "message": "not all names are accepted"})

    # ---- deletion ----------------------------------------------------------------------------

    async def _finalize(self, crd: dict[str, Any]) -> bool:
        name = crd["metadata"]["name"]
        if api.CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return False
        spec = crd["spec"]
        resource = f"{spec['names']['plural']}.{spec['group']}"
        entries = table.custom_entries(name)
        await self.cache.wait_current()
        objs, _ = self.cache.snapshot(resource, f"/registry/{resource}/")
        if objs and entries:
            await self._set_terminating(crd, "InstanceDeletionInProgress", "CustomResource deletion is in progress")
            entry = entries[0]
            for obj in objs:
                md = obj["metadata"]
                if md.get("deletionTimestamp"):
                    continue
                try:
                    await self.rest.delete(entry, md.get("namespace"), md["name"], {})
                except errors.NotFound:
                    pass
            await self.cache.wait_current()
            objs, _ = self.cache.snapshot(resource, f"/registry/{resource}/")
        if objs and entries:
            await self._set_terminating(crd, "InstanceDeletionCheck", "could not confirm zero CustomResources "
                                                                      f"remaining: {len(objs)} remaining")
            return True
        crd = await self._set_terminating(crd, "InstanceDeletionCompleted", "removed all instances")
        crd["metadata"]["finalizers"] = [f for f in crd["metadata"].get("finalizers") or []
                                         if f != api.CLEANUP_FINALIZER]
        await self.rest.update(self.entry, None, name, crd, field_manager=MANAGER)
        return False

    async def _set_terminating(self, crd: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
        new = copy.deepcopy(crd)
        if not set_condition(new, {"type": api.TERMINATING, "status": "True", "reason": reason, "message": message}):
            return crd
        res = await self.rest.update(self.entry, None, crd["metadata"]["name"], new, subresource="status",
                                     field_manager=MANAGER)
        return res.body
