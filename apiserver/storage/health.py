"""Whether the store can be reached: what ``/readyz`` reports and what start-up waits for.

A backend that can be unreachable (etcd) has ``async health() -> str | None`` (why it cannot
serve now, or None); the embedded SQLite store has none and is always reachable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def unhealthy(storage: object) -> str | None:
    """Why ``storage`` cannot serve now, or None."""
    health: Callable[[], Awaitable[str | None]] | None = getattr(storage, "health", None)
    if health is None:
        return None
    return await health()


async def wait_reachable(storage: object, *, max_delay: float = 2.0) -> None:
    """Return once ``storage`` answers, retrying with a backoff and saying so once, as
    Kubernetes' apiserver waits for etcd at start-up."""
    delay = 0.1
    said = False
    while (why := await unhealthy(storage)) is not None:
        if not said:
            log.warning("waiting for the store: %s", why)
            said = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
    if said:
        log.info("the store answers; starting")
