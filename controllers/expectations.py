"""Expectations: what a controller has asked the apiserver to do and not yet seen in its cache.

As Kubernetes' ``ControllerExpectations`` / ``UIDTrackingControllerExpectations``. A
ReplicaSet that just created 10 pods must not create 10 more because its pod informer has not
caught up: before creating it records "expect 10 adds"; each pod ADDED event observed lowers
the count; its sync acts again only when the expectations are met (both counts ≤ 0) or have
expired (5 minutes, as Kubernetes: a lost event must not wedge a controller forever).

Deletions are tracked by pod key, not only counted, because a pod being deleted is seen twice
(an update setting ``deletionTimestamp``, later the DELETED event) and must count once.

Keys are controller keys (``namespace/name``). Not thread-safe: one asyncio loop owns it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

EXPECTATIONS_TIMEOUT = 5 * 60.0


class _Expectee:
    __slots__ = ("add", "delete", "timestamp")

    def __init__(self, add: int, delete: int, timestamp: float) -> None:
        self.add, self.delete, self.timestamp = add, delete, timestamp

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Per-controller counts of creations and deletions still to be observed."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        """``clock`` and ``timeout`` are for tests."""
        self._clock = clock
        self._timeout = timeout
        self._items: dict[str, _Expectee] = {}

    def satisfied(self, key: str) -> bool:
        """True when the controller may sync: nothing pending, counts met, or expired."""
        exp = self._items.get(key)
        if exp is None:
            return True  # a new controller, or one whose expectations were deleted
        if exp.fulfilled():
            return True
        return self._clock() - exp.timestamp > self._timeout

    def set(self, key: str, *, add: int = 0, delete: int = 0) -> None:
        self._items[key] = _Expectee(add, delete, self._clock())

    def expect_creations(self, key: str, adds: int) -> None:
        self.set(key, add=adds)

    def expect_deletions(self, key: str, dels: int) -> None:
        self.set(key, delete=dels)

    def lower(self, key: str, *, add: int = 0, delete: int = 0) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def raise_(self, key: str, *, add: int = 0, delete: int = 0) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def creation_observed(self, key: str) -> None:
        self.lower(key, add=1)

    def deletion_observed_count(self, key: str) -> None:
        self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def get(self, key: str) -> tuple[int, int] | None:
        """(pending adds, pending deletes), or None when none are recorded."""
        exp = self._items.get(key)
        return None if exp is None else (exp.add, exp.delete)


class UIDTrackingControllerExpectations(ControllerExpectations):
    """Expectations whose deletions are tracked by pod key, so each deletion counts once."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._uids: dict[str, set[str]] = {}

    def expect_deletions(self, key: str, dels: Iterable[str]) -> None:  # type: ignore[override]
        keys = set(dels)
        self._uids[key] = keys
        self.set(key, delete=len(keys))

    def deletion_observed(self, key: str, pod_key: str) -> None:
        uids = self._uids.get(key)
        if uids is not None and pod_key in uids:
            uids.discard(pod_key)
            self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._uids.pop(key, None)
