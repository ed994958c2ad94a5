"""Storage latency: ``etcd_request_duration_seconds{operation, type}`` measured around the
:class:`~apiserver.storage.interface.Storage` interface, so the SQLite and etcd backends are
measured alike (Kubernetes measures its etcd3 store the same way, under the name it has
kept). ``operation`` is get, list, create, update, delete or compact; ``type`` the resource
of the key (``pods``, ``deployments.apps``), as Kubernetes' group-resource. Errors count in
``etcd_request_errors_total`` too. Watches are not timed (they last as long as they are
followed). The storage is called from the event loop only, so the histogram is lock-free.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from prometheus_client import Counter

from apiserver.storage.interface import KeyValue, ListResult, Storage, WatchEvent
from minik8s.metrics import REQUEST_DURATION_BUCKETS, LoopHistogram

T = TypeVar("T")

__all__ = ["MeteredStorage", "wrap"]

DURATION = LoopHistogram("etcd_request_duration_seconds", "Etcd request latency in seconds for each operation "
                         "and object type.", ["operation", "type"], buckets=REQUEST_DURATION_BUCKETS)
ERRORS = Counter("etcd_request_errors", "Etcd failed request counts for each operation and object type.",
                 ["operation", "type"])


class MeteredStorage(Storage):
    """``inner`` with each call timed (a transparent wrapper: backend extras pass through)."""

    def __init__(self, inner: Storage, group_of: Any) -> None:
        self.inner = inner
        self._group_of = group_of  # plural -> API group (the registry table's)
        self._children: dict[tuple[str, str], Any] = {}

    def __getattr__(self, name: str) -> Any:  # backend extras (probe_write, path, ...)
        return getattr(self.inner, name)

    def _type(self, key: str) -> str:
        parts = key.split("/", 3)
        plural = parts[2] if len(parts) > 2 else ""
        group = self._group_of(plural)
        return f"{plural}.{group}" if group else plural

    def _child(self, operation: str, key: str) -> Any:
        labels = (operation, self._type(key))
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = DURATION.child(*labels)
        return child

    async def _timed(self, operation: str, key: str, call: Awaitable[T]) -> T:
        start = time.perf_counter()
        try:
            return await call
        except Exception:
            ERRORS.labels(operation, self._type(key)).inc()
            raise
        finally:
            self._child(operation, key).observe(time.perf_counter() - start)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def get(self, key: str) -> KeyValue | None:
        return await self._timed("get", key, self.inner.get(key))

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        return await self._timed("list", prefix, self.inner.list(prefix, revision=revision, limit=limit,
                                                                start_after=start_after))

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._timed("create", key, self.inner.create(key, value))

    async def update(self, key: str, value: bytes, *, expected_revision: int = 0) -> KeyValue:
        return await self._timed("update", key, self.inner.update(key, value, expected_revision=expected_revision))

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        return await self._timed("delete", key, self.inner.delete(key, expected_revision=expected_revision))

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(prefix, after=after)

    async def compact(self, revision: int) -> None:
        await self._timed("compact", "", self.inner.compact(revision))

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)  # the backend's own count (etcd: count_only), not a list

    async def stale(self, key: str) -> bool:
        return await self.inner.stale(key)


def wrap(storage: Storage) -> MeteredStorage:
    """``storage`` measured; resource types named by the one registry table."""
    from apiserver.registry.table import TABLE  # plural -> API group

    groups = {e.type.plural: e.type.group for e in TABLE}
    return MeteredStorage(storage, groups.get)
