"""Poll until a condition holds: the one home of the suite's waiting helpers, a synchronous form
(:func:`wait_until`, for plain test bodies) and an asynchronous one (:func:`eventually`, for
async tests and helpers; its check may be a plain function or a coroutine function).

A check returns something truthy once the condition holds, and that value is returned, so a
test can go on with what it waited for. It is called at least once, and once more after the
deadline has passed, before the test fails (``pytest.fail``) with ``what``, the check's last
value and, when given, ``diag()``'s text (a component's log tail, a page's state).

The timeout only bounds a hang: no test asserts how fast anything happens. Harness modules
that wait longer by default (a cluster coming up, a browser) bind their own ``timeout`` with
``functools.partial``; they do not copy the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

__all__ = ["TIMEOUT", "eventually", "wait_until"]

T = TypeVar("T")

#: how long a check may stay false before the test fails
TIMEOUT = 30.0


def _failure(what: str, timeout: float, last: Any, diag: Callable[[], Any] | None) -> str:
    text = f"not {what} within {timeout}s (last: {last!r})"
    if diag is not None:
        text += f"\n{diag()}"
    return text


def wait_until(check: Callable[[], T], what: str = "the condition", *, timeout: float = TIMEOUT,
               interval: float = 0.2, diag: Callable[[], Any] | None = None) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(_failure(what, timeout, last, diag))
        time.sleep(interval)


async def eventually(check: Callable[[], T | Awaitable[T]], what: str = "the condition", *,
                     timeout: float = TIMEOUT, interval: float = 0.1,
                     diag: Callable[[], Any] | None = None) -> T:
    """Await ``check`` (or call it, when it is no coroutine function) every ``interval`` seconds
    until it gives something truthy; that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        last: Any = await result if inspect.isawaitable(result) else result
        if last:
            return last
        if loop.time() > deadline:
            pytest.fail(_failure(what, timeout, last, diag))
        await asyncio.sleep(interval)
