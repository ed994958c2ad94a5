"""The Storage interface: a revisioned key-value store with watch, as etcd v3 offers it.

The apiserver is the only reader and writer. Every backend (SQLite, the embedded default;
``etcd.py``) implements this class and passes ``tests/unit/test_storage_conformance.py``.

Model
-----
* One global revision counter. Every successful write (create, update, delete) bumps it by one
  and stamps the key with it (``mod_revision``). Revisions start at 1 and never go backwards,
  also across restarts.
* Values are opaque bytes (the apiserver stores JSON).
* History: each write is kept as an event so ``watch(prefix, after=rev)`` can replay everything
  after ``rev``. ``compact(rev)`` forgets history at or below ``rev``; watching or listing from a
  compacted revision raises :class:`Compacted` (the apiserver answers 410 Gone).
* Durability: a write method returns only after the write is on disk (fsynced).
* All methods are coroutines; blocking I/O runs in a thread, never on the event loop.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterator


class StorageError(Exception):
    """Base of the storage errors."""


class DiskFull(StorageError):
    """Raised by a write the store's disk has no room for (the apiserver answers 507)."""


class Unavailable(StorageError):
    """Raised when the store cannot be reached now (etcd down): the apiserver answers 503."""


class ValueTooLarge(StorageError):
    """Raised by a write the store refuses for its size (etcd's --max-request-bytes): 413."""


class KeyExists(StorageError):
    """Raised by create when the key is already present."""


class KeyNotFound(StorageError):
    """Raised by update/delete when the key is absent."""


class RevisionMismatch(StorageError):
    """Raised by update/delete when the key's mod_revision is not the expected one."""

    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(key)
        self.current = current


class Compacted(StorageError):
    """Raised when a watch or list asks for a revision older than the compacted one."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (oldest {compacted})")
        self.requested = requested
        self.compacted = compacted


def as_bytes(value: bytes) -> bytes:
    """A value as the stores keep it: bytes (bytearray and memoryview copied), else TypeError."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"value must be bytes, not {type(value).__name__}")


@dataclasses.dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclasses.dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. ``type`` is "PUT" or "DELETE" (or "PROGRESS", below).

    For PUT, ``kv`` is the new value; ``prev`` the previous value (None on create).
    For DELETE, ``kv.value`` is the last value the key had and ``kv.mod_revision`` is the
    revision of the delete; ``prev`` is that same last value.

    "PROGRESS" (etcd's progress notification) is no change: every change under the watched prefix
    up to ``kv.mod_revision`` has been yielded (``kv.key`` is the prefix, ``kv.value`` empty). A
    backend whose revisions also count writes outside the prefix (an etcd shared with others)
    yields one per watch after its ``request_progress()`` is called, and never otherwise.
    """

    type: str
    kv: KeyValue
    prev: KeyValue | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision the list was read at
    more: bool = False  # True when limit cut the list


class Storage(abc.ABC):
    """A revisioned key-value store with prefix watch."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Open files / connections; start background compaction."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop background work and close; pending watches end."""

    @abc.abstractmethod
    async def current_revision(self) -> int:
        """The newest revision (0 for an empty store)."""

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None:
        """The current value of key, or None."""

    @abc.abstractmethod
    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under prefix in key order, as of ``revision`` (0 = now).

        ``limit`` > 0 caps the count (``more`` tells whether more remain); ``start_after``
        continues after that key (pagination). A compacted ``revision`` raises Compacted.
        """

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Store a new key; raises KeyExists. Returns the stored KeyValue."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, *, expected_revision: int = 0) -> KeyValue:
        """Replace the key's value. ``expected_revision`` > 0 must equal its mod_revision
        (else RevisionMismatch); raises KeyNotFound when absent."""

    @abc.abstractmethod
    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete the key, returning its last value (with the delete's revision as
        mod_revision). Raises KeyNotFound / RevisionMismatch."""

    @abc.abstractmethod
    def watch(self, prefix: str, *, after: int) -> AsyncIterator[WatchEvent]:
        """Every change to keys under prefix with revision > ``after``, in revision order:
        first the history, then live changes, until the caller stops iterating or the
        store closes. Raises Compacted (on first iteration) when ``after`` < compacted
        revision. Implementations must not block writers on a slow watcher."""

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history at or below revision (never the current values)."""

    @abc.abstractmethod
    async def compacted_revision(self) -> int:
        """The revision history was last compacted at (0 if never)."""

    async def count(self, prefix: str) -> int:
        """How many keys are under prefix now (Kubernetes' per-resource object count)."""
        return len((await self.list(prefix)).items)

    async def stale(self, key: str) -> bool:
        """Whether key's stored form is not what a write would store now (a value encrypted with
        an older key): such a value is re-written even by a no-op update, as Kubernetes does."""
        return False
