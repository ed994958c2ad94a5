"""Copying a cluster's state from one store to another (``minik8s store copy``): every current
key under ``/registry/`` with its stored bytes, read at one revision of the source so the copy is
consistent, written as creates into a destination that must be empty.

History is not copied: the destination numbers its own revisions, so clients relist (their old
resourceVersions mean nothing there), as after restoring an etcd snapshot into a new cluster.
Values are copied as stored: Secrets encrypted at rest stay encrypted with the same keys, and the
apiserver on the destination needs the same ``--encryption-provider-config``.
"""

from __future__ import annotations

import asyncio
import dataclasses

from apiserver.storage.interface import Storage, StorageError

__all__ = ["copy", "CopyResult", "NotEmpty", "ROOT"]

ROOT = "/registry/"
_PAGE = 500
_IN_FLIGHT = 32


class NotEmpty(StorageError):
    """Raised when the destination already holds keys: a copy never merges two clusters."""


@dataclasses.dataclass(frozen=True, slots=True)
class CopyResult:
    keys: int  # how many keys were copied
    revision: int  # the source revision the copy was read at


async def copy(source: Storage, destination: Storage, *, in_flight: int = _IN_FLIGHT) -> CopyResult:
    """Copy every key under /registry/ of ``source`` (both stores started) into ``destination``."""
    present = await destination.count(ROOT)
    if present:
        raise NotEmpty(f"the destination already holds {present} keys under {ROOT}; copy only into an empty store")
    first = await source.list(ROOT, limit=_PAGE)
    revision = first.revision
    page = first
    copied = 0
    slots = asyncio.Semaphore(in_flight)

    async def put(key: str, value: bytes) -> None:
        async with slots:
            await destination.create(key, value)

    while True:
        await asyncio.gather(*(put(kv.key, kv.value) for kv in page.items))
        copied += len(page.items)
        if not page.more:
            break
        page = await source.list(ROOT, revision=revision, limit=_PAGE, start_after=page.items[-1].key)
    written = await destination.count(ROOT)
    if written != copied:
        raise StorageError(f"copied {copied} keys but the destination holds {written}")
    return CopyResult(copied, revision)
