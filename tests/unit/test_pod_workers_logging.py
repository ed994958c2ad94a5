"""How a pod worker reports a failing sync (kubelet/pod_workers.py): once per streak of failures,
an API error in one line and a bug with its traceback; the retries at debug; the recovery at info."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubelet.pod_workers import DONE, PodWorkers
from minik8s import errors


async def _run_until_done(sync, done: asyncio.Event) -> None:
    workers = PodWorkers(sync, name="t")
    workers.update("u1")
    await asyncio.wait_for(done.wait(), 10)


@pytest.mark.parametrize("error, traceback", [
    (errors.ConnectionFailed("cannot reach the apiserver"), False),
    (ValueError("a bug"), True),
])
async def test_a_failing_sync_is_reported_once_per_streak(caplog, error, traceback) -> None:
    caplog.set_level(logging.DEBUG, logger="kubelet.pod_workers")
    calls = 0
    done = asyncio.Event()

    async def sync(uid: str):
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise error
        done.set()
        return DONE

    await _run_until_done(sync, done)
    records = [r for r in caplog.records if r.name == "kubelet.pod_workers"]
    assert [(r.levelname, r.getMessage().split(" (")[0].split(":")[0]) for r in records] == [
        ("ERROR" if traceback else "WARNING", "sync of pod u1 failed"),
        ("DEBUG", "sync of pod u1 failed again"),
        ("INFO", "sync of pod u1 succeeded after 2 failed attempt(s)"),
    ]
    assert (records[0].exc_info is not None) is traceback
    assert all(r.exc_info is None for r in records[1:])
    assert str(error) in records[1].getMessage()
