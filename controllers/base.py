"""The skeleton every controller of the controller-manager shares.

A controller (Kubernetes' shape, ``pkg/controller/replicaset/replica_set.go``):

* its constructor takes the REST client and the process' ``SharedInformerFactory``, asks the
  factory for the informers it reads, and registers handlers that only enqueue keys;
* :meth:`Controller.run` waits until those informers have listed, then runs ``workers``
  workers until cancelled;
* each worker takes a key, awaits :meth:`Controller.sync`, forgets the key on success and
  re-adds it rate limited when ``sync`` raised (dropping it after ``max_retries`` if the
  controller sets one), and always marks it done.

Subclasses implement ``sync(key)`` (level-triggered, reading caches) and list the informers to
wait for in ``self.informers``. Tests call ``sync`` directly.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from minik8s import errors, taskgroup
from minik8s.api.resources import object_key
from minik8s.client.informer import Informer
from minik8s.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)


class Controller(abc.ABC):
    """Queue + workers around an abstract ``sync(key)``."""

    #: the name used in logs, the workqueue and ``--controllers``
    name: str = "controller"
    #: after this many failed syncs in a row a key is dropped (None: retry forever)
    max_retries: int | None = None

    def __init__(self, *, queue: WorkQueue | None = None) -> None:
        """``queue`` is for tests (e.g. one on a fake clock)."""
        self.queue = queue or WorkQueue(name=self.name)
        self.informers: list[Informer] = []

    # -- enqueueing (handlers call these) -----------------------------------------------------

    def enqueue(self, obj: Mapping[str, Any]) -> None:
        self.queue.add(object_key(obj))

    def enqueue_key(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_after(self, obj: Mapping[str, Any], delay: float) -> None:
        self.queue.add_after(object_key(obj), delay)

    def enqueue_rate_limited(self, obj: Mapping[str, Any]) -> None:
        self.queue.add_rate_limited(object_key(obj))

    # -- running ------------------------------------------------------------------------------

    @abc.abstractmethod
    async def sync(self, key: str) -> None:
        """Bring the world in line with the object ``key``; raise to be retried."""

    async def wait_for_caches(self, informers: Iterable[Informer] | None = None) -> None:
        infs = list(self.informers if informers is None else informers)
        log.info("%s: waiting for caches to sync", self.name)
        await asyncio.gather(*(inf.wait_synced() for inf in infs))
        log.info("%s: caches are synced", self.name)

    async def run(self, workers: int) -> None:
        """Wait for caches, then process keys with ``workers`` workers until cancelled."""
        await self.wait_for_caches()
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name} worker {i}") for i in range(max(1, workers))]
        log.info("%s: started %d workers", self.name, len(tasks))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            await taskgroup.cancel_and_wait(tasks)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.process(cast(str, key))  # this queue holds object keys only
            finally:
                self.queue.done(key)

    async def process(self, key: str) -> None:
        """One sync of ``key`` with the retry policy applied (the worker's body)."""
        try:
            await self.sync(key)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._handle_error(key, e)
        else:
            self.queue.forget(key)

    def _handle_error(self, key: str, e: Exception) -> None:
        retries = self.queue.num_requeues(key)
        if self.max_retries is not None and retries >= self.max_retries:
            log.warning("%s: dropping %s out of the queue after %d retries: %s", self.name, key, retries, e)
            self.queue.forget(key)
            return
        if isinstance(e, errors.Conflict):
            # Expected with optimistic concurrency: the cache was behind; the next sync sees more.
            log.debug("%s: conflict syncing %s, requeued: %s", self.name, key, e)
        elif isinstance(e, errors.MiniK8sError):
            log.info("%s: error syncing %s, requeued: %s", self.name, key, e)
        else:
            log.exception("%s: unexpected error syncing %s, requeued", self.name, key)
        self.queue.add_rate_limited(key)


def tombstone_safe(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """Informers here hand ``on_delete`` the last known object (never a tombstone wrapper), but
    keep the call sites shaped as Kubernetes' so that a future wrapper is handled in one place."""
    if obj is None:
        return None
    return obj.get("obj") if obj.get("kind") == "DeletedFinalStateUnknown" else obj
