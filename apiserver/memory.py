"""Bound the memory the apiserver keeps, and give what a burst of load used back to the OS.

Two things kept the apiserver's RSS at its peak after 200 watches and 32 writers stopped
(measured with tracemalloc, see tests/perf/RESULTS.md):

* garbage in reference cycles: a watch stream that ends by cancellation leaves an exception
  whose traceback holds the stream's frame, and with it the last batch of encoded events it
  was sending (up to 256 events, ~200 KB each). ``tune_gc`` makes the cyclic collector run
  rarely (a full collection only after millions of allocations), so once the load stops,
  nothing collects those cycles: 27 MB of dead batches were still alive 30 s later.
* free memory glibc keeps: CPython hands freed blocks back to malloc, which returns only the
  top of each heap to the kernel.

:func:`trim_periodically` checks every ``TRIM_INTERVAL`` seconds; when the last interval was
idle (no full collection and only a few young ones: the load stopped), it runs a full one and
then ``malloc_trim(0)`` (every free page of every malloc arena back to the kernel), as Go's
background scavenger returns idle memory in Kubernetes' apiserver.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time

log = logging.getLogger(__name__)

TRIM_INTERVAL = 10.0


def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def trim() -> bool:
    """Return free heap pages to the kernel now; False where malloc_trim does not exist."""
    fn = _TRIM
    if fn is None:
        return False
    fn(0)
    return True


# More young collections than this in one interval (each one is GC_GEN0_THRESHOLD = 20,000
# allocations in the apiserver: 200,000 and more) is a process under load, not an idle one.
BUSY_YOUNG_COLLECTIONS = 10


def _collections() -> tuple[int, int]:
    """(young, full) collections the cyclic collector has run so far."""
    stats = gc.get_stats()
    return stats[0]["collections"], stats[2]["collections"]


def idle(before: tuple[int, int], now: tuple[int, int]) -> bool:
    """Whether the process was idle between two ``_collections()`` readings: no full collection
    ran (the collector is busy on its own then) and the young generation was collected only a
    few times. Under the tuned thresholds (``tune_gc``) a full collection is rare even under a
    write load, so without the young count the trimmer took every loaded interval for an idle
    one and stopped the event loop for 100-300 ms every 10 s (measured: 4.3% of the apiserver's
    GIL time under tests/perf/scheduler_bench.py, and each pause a latency spike)."""
    return now[1] == before[1] and now[0] - before[0] <= BUSY_YOUNG_COLLECTIONS


async def trim_periodically(interval: float = TRIM_INTERVAL) -> None:
    if _TRIM is None:
        log.info("malloc_trim is not available: freed memory stays with the allocator")
    counts = _collections()
    while True:
        await asyncio.sleep(interval)
        seen, counts = counts, _collections()
        if not idle(seen, counts):
            continue  # busy: the memory is in use anyway; collect once the load stops
        # Idle for a whole interval: collect the cycles left behind, then give the free pages
        # back (a few ms when idle).
        t0 = time.perf_counter()
        gc.collect()
        counts = _collections()
        trim()
        log.debug("collected and trimmed in %.1f ms", (time.perf_counter() - t0) * 1e3)


def exact(data: bytes) -> bytes:
    """``data`` in a bytes object of its own size, for bytes that are kept.

    orjson (3.13) returns its write buffer as the bytes object without shrinking it: a 1.5 KiB
    object encodes into a 16 KiB allocation. Kept as stored values (the watch cache's objects
    and ring) and as cache keys (managedFields' memo tables, 4096 entries each), that was ten
    times the memory the bytes needed."""
    return bytes(memoryview(data))


_TRIM = _malloc_trim()
