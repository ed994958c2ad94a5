"""What every minik8s process does first and last: set up logging the same way, run its
async main on uvloop (when installed), and learn when to stop — one place, so all components
behave alike.

A component runs as its own process (SIGTERM or SIGINT stops it) or, under ``minik8s up``, in
a thread of the one process that runs every component (:mod:`minik8s.up.host`, as k3s runs
its components in one process), where the host's stop request stops it:
:func:`add_stop_handler` registers the component's stop for whichever applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log a line per request or call: kept at WARNING so a component's own lines
# stay readable.
_NOISY = ("httpx", "httpcore", "urllib3", "docker", "uvicorn", "aiohttp.access", "websockets")


# Allocations between young collections (CPython's default is 700). See tune_gc(). A young
# collection walks every tracked object alive at that moment; under the apiserver's request
# load that is mostly the objects of the ~100 requests in flight (~15,000 at each collection
# at 20,000), walked again at every collection and promoted to be walked by the middle one:
# fewer collections walk them fewer times (tests/perf/RESULTS.md, "CPU per request, fourth pass").
GC_GEN0_THRESHOLD = 100_000
# ... in a process whose heap is informer caches fed by watch events (a kubelet, 500 hollow
# nodes' in one process; the scheduler): each pod version it parses lives until the next
# replaces it, and a longer window lets more of them die before a collection looks at them.
INFORMER_GC_GEN0_THRESHOLD = 100_000
_tuned_young: int | None = None


def tune_gc(young: int = GC_GEN0_THRESHOLD) -> None:
    """Make the cyclic garbage collector cheap for a process that holds a large, growing heap
    of acyclic JSON objects: the apiserver's watch cache and event rings, the informer caches
    of the scheduler and of a kubelet (500 hollow nodes' in one process).

    With CPython's defaults a young collection runs every 700 allocations and a full one
    whenever the heap grew by a quarter; under a write load the full collections alone took
    about 40% of the apiserver's CPU (measured: 2.1 s of 5.6 s for 12,000 writes in process),
    and under tests/perf/scheduler_bench.py --settle (5,000 pods onto 500 hollow nodes) the
    hollow kubelet ran 23-25 full collections of 0.7-1 s each, and tuned it used a quarter to a
    third less CPU per pod (the scheduler a quarter less; tests/perf/RESULTS.md). Everything alive
    once start-up is done (modules, schemas, the listed cache) is moved out of the
    collector's sight (``gc.freeze``), and young collections run every ``young`` allocations
    (100,000: the apiserver's collector CPU under creates, bindings and status patches fell to
    0.6-0.7x of what it was at 20,000 over 40,000 writes, in fewer, longer pauses; the kubelet
    and the scheduler ask for
    :data:`INFORMER_GC_GEN0_THRESHOLD`, with which their collector's time halved in that
    bench). Refcounting still frees every acyclic object at once; cycles (asyncio futures,
    exceptions) are still collected, only in larger batches. The settings are the process's:
    components sharing one (``minik8s up``'s host) share them, the smallest ``young`` asked
    for winning.
    """
    global _tuned_young
    if _tuned_young is not None:
        young = min(young, _tuned_young)
    _tuned_young = young
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, 10, 10)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    floor = max(logging.WARNING, logging.getLogger().level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(floor)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on uvloop when available (faster I/O for every component)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main)
    return uvloop.run(main)


class StopRequest:
    """The stop of one component running in a thread of the host process: the callbacks it
    registered run when the host asks it to stop (at once when that was already asked)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], object]] = []
        self.requested = False

    def add(self, callback: Callable[[], object]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            now = self.requested
        if now:
            callback()

    def fire(self) -> None:
        with self._lock:
            self.requested = True
            callbacks = list(self._callbacks)
        for callback in callbacks:
            with contextlib.suppress(RuntimeError):  # its loop already closed: it has stopped
                callback()


_embedded = threading.local()


def set_stop_request(request: StopRequest | None) -> None:
    """Called by the host in a component's thread before it runs the component's ``main``."""
    _embedded.request = request


def add_stop_handler(callback: Callable[[], object], loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Run ``callback`` when the component must stop: on ``loop`` at SIGTERM or SIGINT in a
    process of its own, or when the host asks, in a component the host runs in a thread.
    Without a loop, ``callback`` must be thread-safe, and in a process of its own the caller
    handles signals itself (uvicorn does)."""
    request: StopRequest | None = getattr(_embedded, "request", None)
    if request is not None:
        if loop is None:
            request.add(callback)
        else:
            on_loop = loop

            def stop_on_loop() -> None:
                on_loop.call_soon_threadsafe(callback)
            request.add(stop_on_loop)
        return
    if loop is not None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, callback)
