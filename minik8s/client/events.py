"""Recording core/v1 Events about objects, for ``kubectl describe`` and ``kubectl get events``.

``recorder.event(pod, "Normal", "Scheduled", "Successfully assigned ...")`` never blocks and
never raises into its caller: the event goes on a small bounded queue that one background task
drains into the apiserver. A full queue drops the event (with one log line), as Kubernetes'
broadcaster does, because an event is worth less than the work that produced it.

Repeats are aggregated as Kubernetes' event correlator does: an event with the same involved
object, type, reason, message and source as one already written PATCHes that Event's
``count`` and ``lastTimestamp`` instead of creating another. Events are named
``{object-name}.{unix-nanoseconds in hex}`` and live in the object's namespace (``default``
for cluster-scoped objects such as Nodes).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from minik8s import errors, taskgroup
from minik8s.api.resources import EVENTS
from minik8s.timestamps import now_rfc3339

if TYPE_CHECKING:
    from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"


class _Seen:
    __slots__ = ("name", "namespace", "count")

    def __init__(self, name: str, namespace: str, count: int) -> None:
        self.name, self.namespace, self.count = name, namespace, count


class EventRecorder:
    """Fire-and-forget Event writer for one component (``source.component``) on one host."""

    def __init__(self, client: ApiClient, *, component: str, host: str | None = None,
                 queue_size: int = 1000, cache_size: int = 4096) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], str, str, str, str | None]] | None = None
        self._queue_size = queue_size
        self._task: asyncio.Task[Any] | None = None
        self._seen: collections.OrderedDict[tuple[Any, ...], _Seen] = collections.OrderedDict()
        self._cache_size = cache_size
        self._dropping = False
        self._failing = False
        self._closed = False

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *, field_path: str | None = None) -> None:
        """Record an event about ``obj`` (a Kubernetes object dict with kind and apiVersion)."""
        if self._closed:
            return
        try:
            if self._queue is None:
                asyncio.get_running_loop()  # the writer task needs one; without it, drop
                self._queue = asyncio.Queue(self._queue_size)
                self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"events {self.component}")
            self._queue.put_nowait((obj, type_, reason, message, field_path))
            self._dropping = False
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("event queue full; dropping events (first dropped: %s %s)", reason, message)
                self._dropping = True
        except Exception:
            log.debug("event %s dropped", reason, exc_info=True)

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or given up on)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop the writer task."""
        self._closed = True
        await self.flush()
        if self._task is not None:
            await taskgroup.cancel_and_wait([self._task])

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                await self._write(*item)
                if self._failing:
                    log.info("writing events works again")
                    self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if not self._failing:
                    log.warning("could not write event %s: %s", item[2], e)
                    self._failing = True
                else:
                    log.debug("could not write event %s: %s", item[2], e)
            finally:
                self._queue.task_done()

    async def _write(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, field_path: str | None) -> None:
        md = obj.get("metadata") or {}
        involved = {
            "kind": obj.get("kind"),
            "namespace": md.get("namespace"),
            "name": md.get("name"),
            "uid": md.get("uid"),
            "apiVersion": obj.get("apiVersion"),
            "resourceVersion": md.get("resourceVersion"),
        }
        if field_path:
            involved["fieldPath"] = field_path
        involved = {k: v for k, v in involved.items() if v}
        namespace = md.get("namespace") or "default"
        # The correlator's key: everything that makes two events "the same", but not the
        # object's resourceVersion, which changes between otherwise identical events.
        key = (involved.get("kind"), involved.get("namespace"), involved.get("name"), involved.get("uid"),
               involved.get("apiVersion"), field_path, type_, reason, message, self.component, self.host)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            seen.count += 1
            self._seen.move_to_end(key)
            try:
                await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": now},
                                        namespace=seen.namespace)
                return
            except errors.NotFound:
                pass  # deleted (expired) meanwhile: write it afresh below
        name = f"{md.get('name') or 'unknown'}.{time.time_ns():x}"
        count = seen.count if seen is not None else 1
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": count,
            "reportingComponent": self.component,
            "reportingInstance": self.host or "",
        }
        await self.client.create(EVENTS, body, namespace=namespace)
        self._seen[key] = _Seen(name, namespace, count)
        self._seen.move_to_end(key)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)
