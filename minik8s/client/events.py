"""Recording core/v1 Events about objects, for ``kubectl describe`` and ``kubectl get events``.

``recorder.event(pod, "Normal", "Scheduled", "Successfully assigned ...")`` never blocks and
never raises into its caller: the event goes on a small bounded queue that a background task
drains into the apiserver. A full queue drops the event (with one log line), as Kubernetes'
broadcaster does, because an event is worth less than the work that produced it.

A recorder has one writer by default, as client-go's ``tools/record`` writes one event at a
time (the kubelet's and the controllers' recorders). ``writers=N`` gives it N, each with its own
queue, as kube-scheduler's ``tools/events`` recorder writes each event in a goroutine of its own,
so a scheduler binding hundreds of pods a second records every pod's Scheduled event instead
of dropping most of them. Events about one object always go to the same writer, so everything
below sees them in the order they were recorded.

Each event then goes through Kubernetes' event correlator (client-go's ``EventCorrelate``), in
the writer task, in its order:

1. the aggregator: once one source has said ten different messages with the same type and
   reason about one object within ten minutes, each further one becomes the object's
   ``(combined from similar events): <message>`` Event (a count on one Event, not a new Event
   per message);
2. the logger: an event with the same involved object, type, reason, message and source as one
   already written PATCHes that Event's ``count``, ``lastTimestamp`` and ``message`` instead
   of creating another;
3. the spam filter: a token bucket per source and object (25 events at once, then one per five
   minutes) drops what exceeds it, as for an object whose sync fails forever. A pod's own
   Scheduled, Pulled, Created and Started pass (4 of 25).

Events are named ``{object-name}.{unix-nanoseconds in hex}`` and live in the object's
namespace (``default`` for cluster-scoped objects such as Nodes).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from minik8s import errors, taskgroup
from minik8s.api.resources import EVENTS
from minik8s.timestamps import now_rfc3339

if TYPE_CHECKING:
    from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"

# client-go's tools/record defaults (events_cache.go)
AGGREGATE_MAX_EVENTS = 10  # distinct messages of one reason about one object before they combine
AGGREGATE_INTERVAL_S = 600.0  # ... within this long of the last one
SPAM_BURST = 25  # events one source may send about one object at once
SPAM_QPS = 1.0 / 300.0  # ... then one per five minutes
_COMBINED = "(combined from similar events): "


class _Seen:
    __slots__ = ("name", "namespace", "count")

    def __init__(self, name: str, namespace: str, count: int) -> None:
        self.name, self.namespace, self.count = name, namespace, count


class _Similar:
    """The aggregator's record: the messages seen for one (source, object, type, reason)."""

    __slots__ = ("messages", "last")

    def __init__(self) -> None:
        self.messages: set[str] = set()
        self.last = 0.0


class _Bucket:
    """One source and object's token bucket (client-go's passive token-bucket rate limiter)."""

    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class EventRecorder:
    """Fire-and-forget Event writer for one component (``source.component``) on one host."""

    def __init__(self, client: ApiClient, *, component: str, host: str | None = None,
                 queue_size: int = 1000, cache_size: int = 4096, clock: Callable[[], float] = time.monotonic,
                 writers: int = 1) -> None:
        """``clock`` (seconds, for tests): what the aggregator's interval and the spam filter's
        refill are measured by. ``writers``: how many events are written at once (each writer's
        queue holds ``queue_size``)."""
        if writers < 1:
            raise ValueError("writers must be at least 1")
        self.client = client
        self.component = component
        self.host = host
        self._queues: list[asyncio.Queue[tuple[Mapping[str, Any], str, str, str, str | None]]] = []
        self._queue_size = queue_size
        self._writers = writers
        self._tasks: list[asyncio.Task[Any]] = []
        self._seen: collections.OrderedDict[tuple[Any, ...], _Seen] = collections.OrderedDict()
        self._similar: collections.OrderedDict[tuple[Any, ...], _Similar] = collections.OrderedDict()
        self._buckets: collections.OrderedDict[tuple[Any, ...], _Bucket] = collections.OrderedDict()
        self._clock = clock
        self._cache_size = cache_size
        self._dropping = False
        self._failing = False
        self._closed = False

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str, *, field_path: str | None = None) -> None:
        """Record an event about ``obj`` (a Kubernetes object dict with kind and apiVersion)."""
        if self._closed:
            return
        try:
            if not self._queues:
                loop = asyncio.get_running_loop()  # the writer tasks need one; without it, drop
                self._queues = [asyncio.Queue(self._queue_size) for _ in range(self._writers)]
                self._tasks = [loop.create_task(self._drain(queue), name=f"events {self.component}")
                               for queue in self._queues]
            queue = self._queues[0]
            if self._writers > 1:  # by the object: its events stay in order on one writer
                md = obj.get("metadata") or {}
                queue = self._queues[hash((md.get("namespace"), md.get("name"))) % self._writers]
            queue.put_nowait((obj, type_, reason, message, field_path))
            self._dropping = False
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("event queue full; dropping events (first dropped: %s %s)", reason, message)
                self._dropping = True
        except Exception:
            log.debug("event %s dropped", reason, exc_info=True)

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or given up on)."""
        for queue in self._queues:
            await queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop the writer tasks."""
        self._closed = True
        await self.flush()
        await taskgroup.cancel_and_wait(self._tasks)

    async def _drain(self, queue: asyncio.Queue[tuple[Mapping[str, Any], str, str, str, str | None]]) -> None:
        while True:
            item = await queue.get()
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
                queue.task_done()

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
        subject = (involved.get("kind"), involved.get("namespace"), involved.get("name"), involved.get("uid"),
                   involved.get("apiVersion"))
        # The aggregator: past ten different messages of one reason, they combine into one Event.
        message, aggregated = self._aggregate((*subject, type_, reason), message)
        # The correlator's key: everything that makes two events "the same", but not the
        # object's resourceVersion, which changes between otherwise identical events (for a
        # combined Event, its aggregate: the source, object, type and reason).
        key = (*subject, None if aggregated else field_path, type_, reason, None if aggregated else message,
               self.component, self.host)
        now = now_rfc3339()
        seen = self._seen.get(key)
        if seen is not None:
            seen.count += 1  # counted even when the spam filter drops it, as client-go counts it
            self._seen.move_to_end(key)
        if not self._accept(subject):
            return
        if seen is not None:
            try:
                # client-go's patch carries the message too: a combined Event shows the latest
                await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": now,
                                                            "message": message}, namespace=seen.namespace)
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

    def _aggregate(self, similar: tuple[Any, ...], message: str) -> tuple[str, bool]:
        """client-go's EventAggregate: the message to write, and whether it is the combined one.
        ``similar``: the object, type and reason (the source is this recorder's)."""
        now = self._clock()
        record = self._similar.get(similar)
        if record is None or now - record.last > AGGREGATE_INTERVAL_S:
            record = self._similar[similar] = _Similar()
        self._similar.move_to_end(similar)
        while len(self._similar) > self._cache_size:
            self._similar.popitem(last=False)
        record.messages.add(message)
        record.last = now
        if len(record.messages) < AGGREGATE_MAX_EVENTS:
            return message, False
        record.messages.pop()
        return _COMBINED + message, True

    def _accept(self, subject: tuple[Any, ...]) -> bool:
        """client-go's EventSourceObjectSpamFilter: a token from the object's bucket, if any."""
        now = self._clock()
        bucket = self._buckets.get(subject)
        if bucket is None:
            bucket = self._buckets[subject] = _Bucket(float(SPAM_BURST), now)
        else:
            bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (now - bucket.at) * SPAM_QPS)
            bucket.at = now
        self._buckets.move_to_end(subject)
        while len(self._buckets) > self._cache_size:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True
