"""The workqueue's guarantees: fair, stingy, exclusive, delayed/rate-limited adds, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from minik8s import workqueue
from minik8s.workqueue import (
    BucketRateLimiter,
    FakeClock,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    WorkQueue,
)


def make_queue(clock: FakeClock | None = None, **kw) -> WorkQueue:
    return WorkQueue(clock=clock or FakeClock(), **kw)


async def test_fifo_order():
    q = make_queue()
    for k in ("a", "b", "c"):
        q.add(k)
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_stingy_dedupes_keys_not_yet_processed():
    q = make_queue()
    for k in ("a", "b", "a", "a", "b"):
        q.add(k)
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert len(q) == 0


async def test_key_readded_while_processing_waits_for_done():
    q = make_queue()
    q.add("a")
    key = await q.get()
    q.add("a")  # changed again while a worker holds it
    assert len(q) == 0, "must not be handed to a second worker while processing"
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.done(key)
    assert await asyncio.wait_for(getter, 5) == "a"


async def test_done_without_readd_does_not_requeue():
    q = make_queue()
    q.add("a")
    q.done(await q.get())
    assert len(q) == 0
    assert not q.is_processing("a")


async def test_many_workers_never_share_a_key():
    q = make_queue()
    active: set[str] = set()
    seen_concurrent: list[str] = []
    processed: list[str] = []

    async def worker():
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                seen_concurrent.append(key)
            active.add(key)
            await asyncio.sleep(0)  # let other workers and producers run
            if len(processed) < 30:
                q.add(key)  # re-added while processing: must wait for done()
            processed.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(20):
        q.add(f"k{i % 3}")
        await asyncio.sleep(0)
    while len(processed) < 40:
        await asyncio.sleep(0)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 5)
    assert seen_concurrent == []
    assert set(processed) == {"k0", "k1", "k2"}


async def test_add_after_waits_for_the_clock():
    clock = FakeClock()
    q = make_queue(clock)
    q.add_after("a", 10.0)
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    clock.step(9.9)
    await asyncio.sleep(0)
    assert not getter.done()
    clock.step(0.2)
    assert await asyncio.wait_for(getter, 5) == "a"


async def test_add_after_keeps_the_earlier_time_and_earlier_item_comes_first():
    clock = FakeClock()
    q = make_queue(clock)
    q.add_after("late", 5.0)
    q.add_after("a", 10.0)
    q.add_after("a", 2.0)   # sooner wins
    q.add_after("a", 50.0)  # later is ignored
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    clock.step(3.0)
    assert await asyncio.wait_for(getter, 5) == "a"
    q.done("a")
    clock.step(3.0)
    assert await asyncio.wait_for(q.get(), 5) == "late"
    q.done("late")
    clock.step(100.0)
    assert len(q) == 0
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done(), "the superseded 10 s and 50 s entries must not add 'a' again"
    getter.cancel()


async def test_non_positive_delay_adds_at_once():
    q = make_queue()
    q.add_after("a", 0)
    assert len(q) == 1


def test_exponential_backoff_doubles_from_5ms_to_1000s():
    rl = ItemExponentialFailureRateLimiter()
    delays = [rl.when("k") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert rl.num_requeues("k") == 20
    assert rl.when("other") == 0.005, "backoff is per item"
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    assert rl.when("k") == 0.005
    for _ in range(200):  # no overflow however long a key keeps failing
        assert rl.when("k") <= 1000.0


def test_bucket_limits_overall_rate():
    clock = FakeClock()
    rl = BucketRateLimiter(qps=10, burst=2, clock=clock)
    assert rl.when("a") == 0 and rl.when("b") == 0
    assert rl.when("c") == pytest.approx(0.1)
    assert rl.when("d") == pytest.approx(0.2)
    clock.step(10)
    assert rl.when("e") == 0


def test_max_of_takes_the_longest_delay():
    clock = FakeClock()
    rl = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 100.0), BucketRateLimiter(1, 1, clock=clock))
    assert rl.when("a") == 1.0
    assert rl.when("a") == 2.0
    assert rl.num_requeues("a") == 2
    rl.forget("a")
    assert rl.num_requeues("a") == 0


async def test_add_rate_limited_backs_off_per_key_and_forget_resets():
    clock = FakeClock()
    q = make_queue(clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 8.0))
    for expected_delay in (1.0, 2.0, 4.0, 8.0, 8.0):
        q.add_rate_limited("k")
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        clock.step(expected_delay - 0.01)
        await asyncio.sleep(0)
        assert not getter.done(), f"released before {expected_delay}s"
        clock.step(0.02)
        assert await asyncio.wait_for(getter, 5) == "k"
        q.done("k")
    assert q.num_requeues("k") == 5
    q.forget("k")
    assert q.num_requeues("k") == 0
    q.add_rate_limited("k")
    clock.step(1.0)
    assert await asyncio.wait_for(q.get(), 5) == "k"


async def test_default_rate_limiter_is_client_gos():
    rl = workqueue.default_controller_rate_limiter(clock=FakeClock())
    assert [rl.when("x") for _ in range(3)] == [0.005, 0.01, 0.02]


async def test_shutdown_drains_then_raises():
    q = make_queue()
    q.add("a")
    q.add("b")
    q.shutdown()
    q.add("c")  # ignored once shutting down
    assert await q.get() == "a"
    assert await q.get() == "b"
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_wakes_blocked_getters():
    q = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*getters, return_exceptions=True), 5)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_drops_delayed_keys():
    clock = FakeClock()
    q = make_queue(clock)
    q.add_after("later", 1.0)
    q.shutdown()
    clock.step(2.0)
    with pytest.raises(ShutDown):
        await q.get()


async def test_one_add_wakes_one_of_many_getters():
    q = make_queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.add("a")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sum(g.done() for g in getters) == 1
    q.add("b")
    q.add("c")
    assert sorted(await asyncio.wait_for(asyncio.gather(*getters), 5)) == ["a", "b", "c"]


async def test_cancelled_getter_does_not_swallow_a_key():
    q = make_queue()
    g1 = asyncio.create_task(q.get())
    g2 = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")  # wakes g1 ...
    g1.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(g1, return_exceptions=True)
    assert await asyncio.wait_for(g2, 5) == "a"


async def test_real_clock_delay_releases_key():
    q = WorkQueue()  # the real clock: a short delay must still come through
    q.add_after("a", 0.01)
    assert await asyncio.wait_for(q.get(), 5) == "a"
