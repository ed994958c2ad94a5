"""The apiserver's idle trimmer: it collects and trims once the process has gone quiet after
work (start-up counts), once per quiet spell, and never while the process is busy (where the
full collection would pause the event loop). The process's CPU clock is the trimmer's test
hook: each case drives it as a busy or an idle process would."""

from __future__ import annotations

import asyncio
import gc
import time

from apiserver import memory


def test_idle_is_a_small_share_of_one_core() -> None:
    assert memory.idle(0.0, 10.0)
    assert memory.idle(0.3, 10.0)  # 500 hollow nodes' leases and status reads: ~3%
    assert not memory.idle(memory.BUSY_CPU_SHARE * 10.0, 10.0)
    assert not memory.idle(6.0, 10.0)  # serving creates
    assert not memory.idle(1.0, 2.0)  # a long interval (a stalled loop) is judged by its own length


def test_cpu_demand_counts_what_the_thread_ran() -> None:
    before = memory.cpu_demand()
    t = time.thread_time()
    while time.thread_time() - t < 0.05:
        pass
    assert memory.cpu_demand() - before >= 0.05


def _full_collections(phases: list[tuple[str, int]], interval: float = 0.02) -> list[int]:
    """Run the trimmer through ``phases`` of (busy|idle, intervals) with a CPU clock that runs
    at the wall clock's pace while busy and stands still while idle; the full collections seen
    in each phase."""
    seen: list[int] = []
    counts: list[int] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        state = {"busy": False, "cpu": 0.0, "since": loop.time()}

        def cpu() -> float:
            if state["busy"]:
                now = loop.time()
                state["cpu"] += now - state["since"]
                state["since"] = now
            return state["cpu"]

        trimmer = asyncio.create_task(memory.trim_periodically(interval, cpu=cpu))
        for kind, intervals in phases:
            cpu()
            state["busy"], state["since"] = kind == "busy", loop.time()
            before = len(seen)
            await asyncio.sleep(interval * intervals)
            counts.append(len(seen) - before)
        trimmer.cancel()
        await asyncio.gather(trimmer, return_exceptions=True)

    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 1_000_000)  # no full collection of the collector's own
    gc.callbacks.append(on_gc)
    try:
        asyncio.run(main())
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*thresholds)
    return counts


def test_trimmer_collects_once_per_quiet_spell_and_never_under_load() -> None:
    idle_first, busy, idle_after, busy_again, idle_last = _full_collections(
        [("idle", 10), ("busy", 10), ("idle", 10), ("busy", 5), ("idle", 10)])
    assert idle_first == 1  # start-up's garbage, once: not once every quiet interval
    assert busy == 0 and busy_again == 0
    assert idle_after == 1 and idle_last == 1  # once the load stops
