"""Running asyncio tasks as a group: the one home of "cancel them all and wait".

Every long-running part (the kubelet's PLEG, its proxy and DNS, the controller workers, the
informer factory, the exec and port-forward relays) runs a few tasks side by side and must not
leave one of them running when it returns, fails or is itself cancelled:

- ``run_together(tasks)`` awaits all of them; when one raises, or the caller is cancelled, the
  others are cancelled and waited for before the error (or the cancellation) goes on up.
- ``cancel_and_wait(tasks)`` cancels each and waits until all have ended, swallowing their
  exceptions (a task's own ``CancelledError`` included); it returns each task's result or
  exception, in order, for a caller that wants to log the unexpected ones.

What a task raises is only seen by the caller of ``run_together`` (the first error, as
``asyncio.gather`` gives it); the errors of the tasks cancelled after it are dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait", "run_together"]


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> list[Any]:
    """Cancel every task and wait until all have ended; their results or exceptions, in order."""
    tasks = list(tasks)
    for t in tasks:
        t.cancel()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def run_together(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Await every task; on the first error, or when cancelled, cancel and wait for the rest."""
    tasks = list(tasks)
    try:
        await asyncio.gather(*tasks)
    finally:
        await cancel_and_wait(tasks)
