"""The TTL-after-finished controller: deletes a finished Job ``ttlSecondsAfterFinished`` seconds
after it finished, as Kubernetes' ``pkg/controller/ttlafterfinished``.

Handlers enqueue Jobs that are finished and carry a TTL. ``sync(key)`` computes the expiry from
the time the Complete or Failed condition became True; before it, the key comes back when it is
due; at it, the Job is read again from the apiserver (the cache may be stale: the TTL may have
been changed or removed) and deleted in the foreground, with its uid and resourceVersion as
preconditions so that a Job changed meanwhile is not deleted by mistake.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from controllers import controller_utils as cu
from controllers import job_utils as ju
from controllers.base import Controller
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import JOBS, split_key
from minik8s.api.typed import Job
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def _needs_cleanup(job: Job) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and ju.is_finished(job) \
        and not cu.meta(job).get("deletionTimestamp")


def time_left(job: Job, at: datetime.datetime) -> float | None:
    """Seconds until the Job expires (<= 0: expired); None when it has no TTL or is not finished."""
    if not _needs_cleanup(job):
        return None
    finished = ju.finish_time(job)
    if finished is None:
        return None
    ttl = (job.get("spec") or {})["ttlSecondsAfterFinished"]
    return (finished + datetime.timedelta(seconds=ttl) - at).total_seconds()


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *,
                 clock: Callable[[], datetime.datetime] = cu.now, **kwargs: Any) -> None:
        """``clock`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.job_informer = informers.informer(JOBS)
        self.informers = [self.job_informer]
        self.job_informer.add_handler(on_add=self._maybe, on_update=lambda old, cur: self._maybe(cur))

    def _maybe(self, obj: dict[str, Any]) -> None:
        if _needs_cleanup(typed.job(obj)):
            self.enqueue(obj)

    async def sync(self, key: str) -> None:
        obj = self.job_informer.store.get(key)
        if obj is None:
            return
        left = time_left(typed.job(obj), self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        ns, name = split_key(key)
        try:
            fresh = typed.job(await self.client.get(JOBS, name, namespace=ns))
        except errors.NotFound:
            return
        left = time_left(fresh, self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        md = cu.meta(fresh)
        log.info("cleaning up job %s: ttlSecondsAfterFinished passed", key)
        try:
            await self.client.delete(JOBS, name, namespace=ns, propagation_policy="Foreground",
                                     preconditions={"uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")})
        except errors.NotFound:
            return
