"""What every minik8s process does first and last: set up logging the same way, and run its
async main on uvloop (when installed) — one place, so all components behave alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log a line per request or call: kept at WARNING so a component's own lines
# stay readable.
_NOISY = ("httpx", "httpcore", "urllib3", "docker", "uvicorn", "aiohttp.access", "websockets")


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    floor = max(logging.WARNING, logging.getLogger().level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(floor)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on uvloop when available (faster I/O for every component)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(main)
    return uvloop.run(main)
