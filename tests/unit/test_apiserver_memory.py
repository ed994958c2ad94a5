"""The apiserver's idle trimmer: it collects and trims only after an idle interval, never
while the process is under load (where the full collection would pause the event loop)."""

from __future__ import annotations

import asyncio
import gc

from apiserver import memory


def test_idle_needs_no_full_and_few_young_collections() -> None:
    assert memory.idle((100, 5), (100, 5))
    assert memory.idle((100, 5), (100 + memory.BUSY_YOUNG_COLLECTIONS, 5))
    # a write load: many young collections, still no full one (tune_gc's thresholds)
    assert not memory.idle((100, 5), (101 + memory.BUSY_YOUNG_COLLECTIONS, 5))
    # the collector ran a full collection on its own
    assert not memory.idle((100, 5), (100, 6))


def _full_collections_during(seconds: float, *, busy: bool, enough: int | None = None) -> int:
    """Full collections seen while the trimmer runs every 50 ms for ``seconds`` (or until
    ``enough`` were seen), the loop idle or allocating container objects (each ``gc.collect``
    by the trimmer is one)."""
    seen: list[int] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    async def main() -> None:
        trimmer = asyncio.create_task(memory.trim_periodically(0.05))
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline and (enough is None or len(seen) < enough):
            if busy:  # objects that live past a young collection: dozens of them per pass
                junk = [[] for _ in range(20_000)]
                del junk
            await asyncio.sleep(0 if busy else 0.01)
        trimmer.cancel()

    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 1_000_000)  # no full collection of the collector's own
    gc.callbacks.append(on_gc)
    try:
        asyncio.run(main())
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*thresholds)
    return len(seen)


def test_trimmer_collects_when_idle_and_not_under_load() -> None:
    # Idle: a collection every interval or so; on a loaded machine the 50 ms sleeps stretch, so
    # the count is awaited (bounded) instead of expected within a fixed time.
    assert _full_collections_during(10.0, busy=False, enough=2) >= 2
    assert _full_collections_during(0.4, busy=True) == 0
