"""minik8s.taskgroup: a group of tasks never outlives its caller, whatever ends it."""

from __future__ import annotations

import asyncio

import pytest

from minik8s import taskgroup


async def test_run_together_waits_for_every_task():
    done: list[str] = []

    async def work(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done.append(name)

    await taskgroup.run_together([asyncio.create_task(work("a", 0.02)), asyncio.create_task(work("b", 0))])
    assert sorted(done) == ["a", "b"]


async def test_run_together_cancels_the_others_when_one_fails():
    forever = asyncio.create_task(asyncio.Event().wait())

    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await taskgroup.run_together([forever, asyncio.create_task(fail())])
    assert forever.cancelled()


async def test_run_together_cancels_every_task_when_its_caller_is_cancelled():
    tasks = [asyncio.create_task(asyncio.Event().wait()) for _ in range(3)]
    outer = asyncio.create_task(taskgroup.run_together(tasks))
    await asyncio.sleep(0.01)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert all(t.cancelled() for t in tasks)


async def test_cancel_and_wait_ends_every_task_and_returns_what_each_ended_with():
    async def fail() -> None:
        raise KeyError("k")

    async def finish() -> str:
        return "ok"

    failed, finished = asyncio.create_task(fail()), asyncio.create_task(finish())
    await asyncio.sleep(0)  # both end before the cancel
    stuck = asyncio.create_task(asyncio.Event().wait())
    results = await taskgroup.cancel_and_wait([failed, finished, stuck])
    assert isinstance(results[0], KeyError)
    assert results[1] == "ok"
    assert isinstance(results[2], asyncio.CancelledError)
    assert stuck.done()


async def test_a_task_that_ignores_one_cancel_is_still_waited_for():
    ended = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.02)  # cleanup after the cancel, as a relay closing a socket
            ended.set()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await taskgroup.cancel_and_wait([task])
    assert ended.is_set()
