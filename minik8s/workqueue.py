"""The rate-limited work queue between informer handlers and a controller's workers.

Handlers ``add`` keys; workers loop ``key = await q.get()`` → reconcile → ``q.forget(key)`` on
success or ``q.add_rate_limited(key)`` on error → always ``q.done(key)``. As client-go's
workqueue, it guarantees:

* **Fair**: keys are processed in the order they were first added (FIFO).
* **Stingy**: a key added many times before a worker picks it up is processed once.
* **Exclusive**: a key is never processed by two workers at once. A key re-added while being
  processed is parked (the *dirty* set) and queued again when ``done`` is called for it.
* **Many producers, many consumers**: any number of tasks may add and get concurrently.
* **Shutdown**: after ``shutdown()`` adds are ignored, keys already queued are still handed out,
  and ``get`` raises :class:`ShutDown` once the queue is empty. Delayed keys are dropped.

``add_after`` holds a key back for a delay (a key already waiting keeps the earlier time);
``add_rate_limited`` delays it by the rate limiter's verdict: per key exponential backoff,
5 ms doubling to 1000 s, and an overall token bucket (10/s, burst 100) — client-go's default
controller rate limiter. ``forget`` resets a key's backoff.

Time comes from a clock (``now`` + ``call_later``) that tests replace, keyword-only, with
:class:`FakeClock`, so backoff can be checked without waiting.

A named queue is measured as client-go's are, per ``name`` label: ``workqueue_adds_total``,
``workqueue_depth``, ``workqueue_queue_duration_seconds`` (added → handed out),
``workqueue_work_duration_seconds`` (handed out → done), ``workqueue_retries_total``,
``workqueue_unfinished_work_seconds`` and ``workqueue_longest_running_processor_seconds``.
The queue keeps plain counters, timestamps and bucket counts (no locks, no metric objects on
its path); :class:`QueueMetricsCollector` turns them into samples when ``/metrics`` is scraped.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import heapq
import itertools
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Protocol


class ShutDown(Exception):
    """Raised by ``get`` when the queue is shut down and drained."""


class Clock(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | _FakeTimer: ...


class RealClock:
    """Monotonic time and the running event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)


class _FakeTimer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told (for tests): ``step(seconds)`` fires due timers."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[_FakeTimer] = []

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _FakeTimer:
        timer = _FakeTimer(self._now + max(delay, 0.0), callback)
        self._timers.append(timer)
        return timer

    def step(self, seconds: float) -> None:
        self._now += seconds
        due = [t for t in self._timers if t.when <= self._now and not t.cancelled]
        self._timers = [t for t in self._timers if t.when > self._now and not t.cancelled]
        for t in sorted(due, key=lambda t: t.when):
            t.callback()

    def has_waiters(self) -> bool:
        return any(not t.cancelled for t in self._timers)


# -- rate limiters ------------------------------------------------------------------------

class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds to wait before ``item`` may be retried; counts one more failure."""

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` per item, capped at ``max_delay``."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay, self.max_delay = base_delay, max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 62:  # 2**exp would dwarf any cap; avoid building huge ints
            return self.max_delay
        return min(self.base_delay * (1 << exp), self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """One token bucket for all items (golang's rate.Limiter reservation semantics): ``qps``
    tokens a second up to ``burst``; a reservation beyond the tokens waits for its turn."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        self.qps, self.burst = qps, burst
        self._clock = clock or RealClock()
        self._tokens = float(burst)
        self._last = self._clock.now()

    def when(self, item: Hashable) -> float:
        now = self._clock.now()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for (all of them count the failure)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(lim.when(item) for lim in self.limiters)

    def forget(self, item: Hashable) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)


def default_controller_rate_limiter(
    *, clock: Clock | None = None, overall_qps: float | None = 10.0, overall_burst: int = 100,
) -> RateLimiter:
    """client-go's DefaultControllerRateLimiter; ``overall_qps=None`` drops the shared bucket."""
    per_item = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    if overall_qps is None:
        return per_item
    return MaxOfRateLimiter(per_item, BucketRateLimiter(overall_qps, overall_burst, clock=clock))


# -- metrics ------------------------------------------------------------------------------

#: client-go's workqueue latency buckets: 10 ns to 10 s, a decade each.
DURATION_BUCKETS = tuple(1e-8 * 10 ** i for i in range(10))


class _Histogram:
    """Bucket counts, sum and count of observations (a Prometheus histogram without locks:
    the queue lives on one event loop)."""

    __slots__ = ("counts", "total", "n")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.n += 1

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        acc = 0
        for bound, c in zip((*DURATION_BUCKETS, float("inf")), self.counts):
            acc += c
            out.append(("+Inf" if bound == float("inf") else repr(bound), acc))
        return out


class _QueueMetrics:
    """What a named queue counts for ``/metrics``."""

    __slots__ = ("adds", "retries", "added_at", "started_at", "queue_duration", "work_duration")

    def __init__(self) -> None:
        self.adds = 0
        self.retries = 0
        self.added_at: dict[Hashable, float] = {}
        self.started_at: dict[Hashable, float] = {}
        self.queue_duration = _Histogram()
        self.work_duration = _Histogram()


_named_queues: weakref.WeakSet[WorkQueue] = weakref.WeakSet()
_collector_registered = False


class QueueMetricsCollector:
    """Samples of every live named queue, made when scraped (a prometheus_client collector)."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        adds = CounterMetricFamily("workqueue_adds", "Total number of adds handled by workqueue", labels=["name"])
        retries = CounterMetricFamily("workqueue_retries", "Total number of retries handled by workqueue",
                                      labels=["name"])
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by "
            "observing the rate at which this increases.", labels=["name"])
        longest = GaugeMetricFamily("workqueue_longest_running_processor_seconds",
                                    "How many seconds has the longest running processor for workqueue been running.",
                                    labels=["name"])
        qd = HistogramMetricFamily("workqueue_queue_duration_seconds",
                                   "How long in seconds an item stays in workqueue before being requested.",
                                   labels=["name"])
        wd = HistogramMetricFamily("workqueue_work_duration_seconds",
                                   "How long in seconds processing an item from workqueue takes.", labels=["name"])
        for q in sorted(_named_queues, key=lambda q: q.name):
            m = q._metrics
            if m is None:
                continue
            labels = [q.name]
            adds.add_metric(labels, m.adds)
            retries.add_metric(labels, m.retries)
            depth.add_metric(labels, len(q._dirty))
            now = q._clock.now()
            ages = [now - t for t in m.started_at.values()]
            unfinished.add_metric(labels, sum(ages))
            longest.add_metric(labels, max(ages, default=0.0))
            qd.add_metric(labels, m.queue_duration.buckets(), m.queue_duration.total)
            wd.add_metric(labels, m.work_duration.buckets(), m.work_duration.total)
        yield from (adds, depth, qd, wd, unfinished, longest, retries)


def _register_collector() -> None:
    global _collector_registered
    if not _collector_registered:
        from prometheus_client import REGISTRY

        REGISTRY.register(QueueMetricsCollector())
        _collector_registered = True


# -- the queue ----------------------------------------------------------------------------

class WorkQueue:
    """A fair, stingy, exclusive work queue with delayed and rate-limited adds (see module doc)."""

    def __init__(self, *, name: str = "", rate_limiter: RateLimiter | None = None, clock: Clock | None = None) -> None:
        self.name = name
        self._clock: Clock = clock or RealClock()
        self._rate_limiter = rate_limiter or default_controller_rate_limiter(clock=self._clock)
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()        # wanted: queued, or re-added while processing
        self._processing: set[Hashable] = set()   # handed to a worker, not yet done
        self._waiting: dict[Hashable, float] = {}  # key -> ready time of its add_after
        self._heap: list[tuple[float, int, Hashable]] = []  # may hold stale entries; _waiting rules
        self._seq = itertools.count()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False
        # client-go measures only named queues
        self._metrics: _QueueMetrics | None = None
        if name:
            self._metrics = _QueueMetrics()
            _named_queues.add(self)
            _register_collector()

    # producers

    def add(self, item: Hashable) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        m = self._metrics
        if m is not None:
            m.adds += 1
            if item not in m.added_at:
                m.added_at[item] = self._clock.now()
        if item in self._processing:
            return  # queued again by done()
        self._queue.append(item)
        self._wake_one()

    def add_after(self, item: Hashable, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready = self._clock.now() + delay
        prev = self._waiting.get(item)
        if prev is not None and prev <= ready:
            return
        self._waiting[item] = ready
        heapq.heappush(self._heap, (ready, next(self._seq), item))
        # Sleeping getters computed their wake-up from the old earliest deadline.
        self._wake_all()

    def add_rate_limited(self, item: Hashable) -> None:
        if self._metrics is not None and not self._shutting_down:
            self._metrics.retries += 1
        self.add_after(item, self._rate_limiter.when(item))

    def forget(self, item: Hashable) -> None:
        self._rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self._rate_limiter.num_requeues(item)

    # consumers

    async def get(self) -> Hashable:
        """The next key, waiting for one; raises :class:`ShutDown` once shut down and empty."""
        while True:
            self._promote_due()
            if self._queue:
                item = self._queue.popleft()
                self._processing.add(item)
                self._dirty.discard(item)
                m = self._metrics
                if m is not None:
                    now = self._clock.now()
                    m.started_at[item] = now
                    added = m.added_at.pop(item, None)
                    if added is not None:
                        m.queue_duration.observe(now - added)
                return item
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            timer = None
            if self._heap:
                timer = self._clock.call_later(self._heap[0][0] - self._clock.now(), self._wake_all)
            try:
                await fut
            except asyncio.CancelledError:
                # A getter cancelled after being woken must pass the wake-up on.
                if fut.done() and not fut.cancelled() and self._queue:
                    self._wake_one()
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                if not fut.done():
                    fut.cancel()
                try:
                    self._getters.remove(fut)
                except ValueError:
                    pass

    def done(self, item: Hashable) -> None:
        """Mark ``item`` processed; if it was re-added meanwhile, queue it again now."""
        self._processing.discard(item)
        m = self._metrics
        if m is not None:
            started = m.started_at.pop(item, None)
            if started is not None:
                m.work_duration.observe(self._clock.now() - started)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()

    # lifecycle

    def shutdown(self) -> None:
        self._shutting_down = True
        self._waiting.clear()
        self._heap.clear()
        self._wake_all()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys ready to be handed out (not counting delayed or in-process ones)."""
        return len(self._queue)

    def is_processing(self, item: Hashable) -> bool:
        return item in self._processing

    # internals

    def _promote_due(self) -> None:
        now = self._clock.now()
        while self._heap and self._heap[0][0] <= now:
            ready, _, item = heapq.heappop(self._heap)
            if self._waiting.get(item) == ready:
                del self._waiting[item]
                self.add(item)

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)


# client-go's name for the same thing.
RateLimitingQueue = WorkQueue
