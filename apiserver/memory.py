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

:func:`trim_periodically` checks every ``TRIM_INTERVAL`` seconds; once an interval was quiet
(the event loop's thread ran, or waited to run, less than ``BUSY_CPU_SHARE`` of it: the load
stopped) after work
(start-up counts), it runs one full collection and then ``malloc_trim(0)`` (every free page of every malloc
arena back to the kernel), as Go's background scavenger returns idle memory in Kubernetes'
apiserver. It does so once per quiet spell, not every quiet interval: a full collection walks
every object the process holds (a second and more with 5,000 pods cached), and a process that
did nothing since the last one has nothing new to give back.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

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


# A loop that ran or waited to run more than this share of an interval was working. An idle
# control plane (a node's leases and status reads, even 500 hollow nodes' at ~3%) stays below.
BUSY_CPU_SHARE = 0.10


def idle(cpu_seconds: float, wall_seconds: float) -> bool:
    """Whether an interval of ``wall_seconds`` in which the loop asked for ``cpu_seconds`` of
    CPU (see :func:`cpu_demand`) was quiet.

    Measured on the CPU, not on the cyclic collector's counts: those count allocations less
    deallocations, and a process serving requests frees nearly all it allocates, so a loaded
    apiserver (66 creates/s beside 500 hollow nodes' traffic) ran few young collections and
    passed for idle; the trimmer then ran a full collection every 10 s under load, each one
    pausing the event loop 0.4-1.7 s (tests/perf/scheduler_bench.py --settle, RESULTS.md)."""
    return cpu_seconds < BUSY_CPU_SHARE * wall_seconds


def cpu_demand() -> float:
    """Seconds the calling thread (the event loop's) has run on a CPU or waited in the run
    queue for one (Linux ``/proc/thread-self/schedstat``), else the process's CPU time. The
    wait counts: on a machine whose cores are taken, a loop with work to do gets little CPU
    and would pass for idle by its CPU time alone. The thread's own, not the process's: the
    apiserver may share its process with other components (``minik8s up``'s one host)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            ran, waited, _ = f.read().split()
        return (int(ran) + int(waited)) / 1e9
    except (OSError, ValueError):
        return time.process_time()


async def trim_periodically(interval: float = TRIM_INTERVAL, *,
                            cpu: Callable[[], float] = cpu_demand) -> None:
    """``cpu`` (the loop's CPU demand so far, in seconds) is for tests."""
    if _TRIM is None:
        log.info("malloc_trim is not available: freed memory stays with the allocator")
    loop = asyncio.get_running_loop()
    pending = True  # start-up's garbage is there to give back
    cpu_at, wall_at = cpu(), loop.time()
    while True:
        await asyncio.sleep(interval)
        used, wall = cpu() - cpu_at, loop.time() - wall_at
        cpu_at, wall_at = cpu_at + used, wall_at + wall
        if not idle(used, wall):
            pending = True  # busy: the memory is in use anyway; collect once the load stops
            continue
        if not pending:
            continue  # quiet since the last collection: nothing new to give back
        # The first quiet interval after work: collect the cycles left behind, then give the
        # free pages back.
        t0 = time.perf_counter()
        gc.collect()
        trim()
        pending = False
        cpu_at, wall_at = cpu(), loop.time()  # the collection's own CPU is not load
        log.debug("collected and trimmed in %.1f ms", (time.perf_counter() - t0) * 1e3)


def exact(data: bytes) -> bytes:
    """``data`` in a bytes object of its own size, for bytes that are kept.

    orjson (3.13) returns its write buffer as the bytes object without shrinking it: a 1.5 KiB
    object encodes into a 16 KiB allocation. Kept as stored values (the watch cache's objects
    and ring) and as cache keys (managedFields' memo tables, 4096 entries each), that was ten
    times the memory the bytes needed."""
    return bytes(memoryview(data))


_TRIM = _malloc_trim()
