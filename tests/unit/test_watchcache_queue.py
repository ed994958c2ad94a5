"""The watch cache's per-watcher EventQueue: order, bound, wake-ups, cancellation."""

import asyncio

import pytest

from apiserver.watchcache import EventQueue


async def test_items_come_out_in_order_and_the_bound_holds():
    q = EventQueue(3)
    for i in range(3):
        q.put_nowait(i)
    with pytest.raises(asyncio.QueueFull):
        q.put_nowait(3)
    assert q.qsize() == 3
    assert [await q.get(), q.get_nowait(), await q.get()] == [0, 1, 2]
    assert q.empty()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()


async def test_a_waiting_consumer_is_woken_by_a_put():
    q = EventQueue(10)
    got = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not got.done()
    q.put_nowait("ev")
    assert await asyncio.wait_for(got, 1) == "ev"


async def test_wake_ends_a_wait_without_an_item_and_get_keeps_waiting():
    q = EventQueue(10)
    waiting = asyncio.create_task(q.wait())
    getting = asyncio.create_task(EventQueue(10).get())
    await asyncio.sleep(0)
    q.wake()
    await asyncio.wait_for(waiting, 1)
    assert q.empty()
    # get() is not ended by a wake: it returns only an item
    q2 = EventQueue(10)
    g = asyncio.create_task(q2.get())
    await asyncio.sleep(0)
    q2.wake()
    await asyncio.sleep(0)
    assert not g.done()
    q2.put_nowait(7)
    assert await asyncio.wait_for(g, 1) == 7
    getting.cancel()


async def test_a_cancelled_wait_leaves_the_queue_usable():
    q = EventQueue(10)
    t = asyncio.create_task(q.wait())
    await asyncio.sleep(0)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    q.put_nowait(1)  # no waiter left to wake; the item stays
    await asyncio.wait_for(q.wait(), 1)
    assert q.get_nowait() == 1
