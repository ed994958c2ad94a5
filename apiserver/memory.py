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

:func:`trim_periodically` checks every ``TRIM_INTERVAL`` seconds; when no full collection ran
in the last interval (the load stopped), it runs one and then ``malloc_trim(0)`` (every free
page of every malloc arena back to the kernel), as Go's background scavenger returns idle
memory in Kubernetes' apiserver.
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


async def trim_periodically(interval: float = TRIM_INTERVAL) -> None:
    if _TRIM is None:
        log.info("malloc_trim is not available: freed memory stays with the allocator")
    full_collections = gc.get_stats()[2]["collections"]
    while True:
        await asyncio.sleep(interval)
        seen, full_collections = full_collections, gc.get_stats()[2]["collections"]
        if full_collections != seen:
            continue  # busy: the collector runs on its own, and the memory is in use anyway
        # Idle (no full collection for a whole interval): collect the cycles left behind,
        # then give the free pages back. Under load this costs 100-300 ms, idle a few ms.
        t0 = time.perf_counter()
        gc.collect()
        full_collections = gc.get_stats()[2]["collections"]
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
