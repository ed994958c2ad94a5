"""Pod workers: one asyncio task per pod uid, so a pod's syncs never overlap and pods never wait
on each other.

Triggers (an informer event, a runtime change seen by the PLEG, a probe result, a timer) only
mark a pod dirty; its worker runs ``sync(uid)`` once per burst of triggers, level-triggered
(the sync re-reads the world). ``sync`` returns when to look again (seconds), ``None`` for
"only when something happens", or :data:`DONE` when the pod is torn down and its worker can
end. A sync that raises is retried with back-off (1 s doubling to 60 s). A failing pod is
reported once per streak, not once per retry: an API or connection error (the apiserver busy or
away) in one line, anything else (a bug) with its traceback; the retries log at debug, and the
pod's recovery is logged when the streak ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from minik8s import errors, taskgroup

__all__ = ["PodWorkers", "DONE"]

log = logging.getLogger(__name__)


class _Done:
    def __repr__(self) -> str:
        return "DONE"


DONE = _Done()
SyncResult = float | None | _Done

_ERROR_BACKOFF_BASE, _ERROR_BACKOFF_CAP = 1.0, 60.0


class _Worker:
    __slots__ = ("dirty", "task", "timer", "failures")

    def __init__(self) -> None:
        self.dirty = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.failures = 0


class PodWorkers:
    def __init__(self, sync: Callable[[str], Awaitable[SyncResult]], *, resync: float = 0.0,
                 name: str = "") -> None:
        self._sync = sync
        self._resync = resync
        self._name = name
        self._workers: dict[str, _Worker] = {}
        self._closed = False

    def __contains__(self, uid: str) -> bool:
        return uid in self._workers

    def uids(self) -> list[str]:
        return list(self._workers)

    def update(self, uid: str) -> None:
        """Ask for a sync of ``uid`` soon (starting its worker if it has none)."""
        if self._closed:
            return
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker()
            worker.task = asyncio.get_running_loop().create_task(
                self._run(uid, worker), name=f"pod worker {self._name} {uid}")
        worker.dirty.set()

    def update_after(self, uid: str, delay: float) -> None:
        worker = self._workers.get(uid)
        if worker is None:
            return
        if worker.timer is not None:
            worker.timer.cancel()
        worker.timer = asyncio.get_running_loop().call_later(delay, worker.dirty.set)

    async def _run(self, uid: str, worker: _Worker) -> None:
        try:
            while True:
                await worker.dirty.wait()
                worker.dirty.clear()
                if worker.timer is not None:
                    worker.timer.cancel()
                    worker.timer = None
                try:
                    result = await self._sync(uid)
                    if worker.failures:
                        log.info("sync of pod %s succeeded after %d failed attempt(s)", uid, worker.failures)
                    worker.failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    result = min(_ERROR_BACKOFF_CAP, _ERROR_BACKOFF_BASE * 2 ** worker.failures)
                    if worker.failures:
                        log.debug("sync of pod %s failed again (attempt %d, retrying in %.0fs): %s",
                                  uid, worker.failures + 1, result, e)
                    elif isinstance(e, errors.MiniK8sError):
                        log.warning("sync of pod %s failed (retrying in %.0fs): %s", uid, result, e)
                    else:
                        log.exception("sync of pod %s failed (retrying in %.0fs)", uid, result)
                    worker.failures += 1
                if result is DONE:
                    if not worker.dirty.is_set():
                        return
                    continue  # a trigger arrived during the teardown: look once more
                delay = result if isinstance(result, (int, float)) else None
                if self._resync > 0:
                    delay = self._resync if delay is None else min(delay, self._resync)
                if delay is not None:
                    self.update_after(uid, delay)
        finally:
            if self._workers.get(uid) is worker:
                del self._workers[uid]
            if worker.timer is not None:
                worker.timer.cancel()

    async def close(self) -> None:
        self._closed = True
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        await taskgroup.cancel_and_wait(tasks)
