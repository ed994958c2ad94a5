"""In-process watch fan-out for a storage backend.

Place in the picture: a backend (``sqlite.py``) has one writer; after each commit it hands the
committed events, in revision order, to :meth:`WatchHub.publish` on the event loop. Every
watcher holds a :class:`Subscription` with its own bounded queue.

Guarantees:

* A publisher never waits on a watcher: ``publish`` only does ``put_nowait``. A subscription
  whose queue is full is cut off; its reader first gets every event it had already been given
  (they are contiguous) and then :class:`WatchOverflow`, so it can watch again from the last
  revision it saw.
* ``subscribe`` is atomic with respect to ``publish`` (both run on the loop): a subscription
  receives exactly the events with revision > ``hub.revision`` at the moment it subscribed.
  The backend replays history up to that revision from disk, so there is no gap and no
  duplicate between replay and live events.
* ``close`` ends every subscription; readers see the end after draining what was queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from apiserver.storage.interface import StorageError, WatchEvent


class WatchOverflow(StorageError):
    """Raised by a watch iterator whose consumer fell too far behind the writers."""


class Subscription:
    """One watcher's queue: events under ``prefix`` with revision > ``after``."""

    __slots__ = ("prefix", "after", "_queue", "_error", "_closed")

    def __init__(self, prefix: str, after: int, *, queue_size: int) -> None:
        self.prefix = prefix
        self.after = after
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue(queue_size)
        self._error: StorageError | None = None
        self._closed = False

    def offer(self, event: WatchEvent) -> bool:
        """Queue an event; False when the queue is full (the subscription is then cut off)."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._error = WatchOverflow(
                f"watch on {self.prefix!r} fell behind: more than {self._queue.maxsize} events "
                f"queued; restart the watch from the last revision received"
            )
            return False
        return True

    async def put(self, event: WatchEvent) -> None:
        """Queue an event, waiting for room: for a replay the reader pulls at its own pace
        (live events go through :meth:`offer`, which never waits)."""
        await self._queue.put(event)

    def fail(self, error: StorageError) -> None:
        """End the subscription with ``error``: its reader gets what was queued, then the error."""
        if self._error is None:
            self._error = error
        self.end()

    def end(self) -> None:
        self._closed = True
        # Wake a reader blocked on an empty queue; a full queue has no blocked reader.
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            pass

    async def next(self) -> WatchEvent | None:
        """The next event; None once the hub closed; raises WatchOverflow when cut off."""
        while True:
            # No await between the emptiness check and get(): nothing can slip in between.
            if self._queue.empty():
                if self._error is not None:
                    raise self._error
                if self._closed:
                    return None
            event = await self._queue.get()
            if event is not None:
                return event


class WatchHub:
    """Fans committed events out to subscriptions. Loop-only: not thread-safe."""

    def __init__(self, *, revision: int, queue_size: int) -> None:
        self._revision = revision
        self._queue_size = queue_size
        self._subs: set[Subscription] = set()
        self._closed = False

    @property
    def revision(self) -> int:
        """The newest revision published (every event up to it has been handed out)."""
        return self._revision

    def subscribe(self, prefix: str, *, after: int) -> Subscription:
        sub = Subscription(prefix, after, queue_size=self._queue_size)
        if self._closed:
            sub.end()
        else:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, events: Iterable[WatchEvent], revision: int) -> None:
        """Hand out committed events (in revision order) and advance to ``revision``."""
        overflowed: list[Subscription] = []
        for event in events:
            key = event.kv.key
            rev = event.kv.mod_revision
            for sub in self._subs:
                if rev > sub.after and key.startswith(sub.prefix) and sub._error is None:
                    if not sub.offer(event):
                        overflowed.append(sub)
        for sub in overflowed:
            self._subs.discard(sub)
        if revision > self._revision:
            self._revision = revision

    def close(self) -> None:
        self._closed = True
        for sub in self._subs:
            sub.end()
        self._subs.clear()
