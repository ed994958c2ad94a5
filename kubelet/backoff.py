"""Per-key exponential back-off, as Kubernetes' ``flowcontrol.Backoff`` used by the kubelet.

Two instances live in a kubelet: container restarts (CrashLoopBackOff, keyed by pod uid and
container name) and image pulls (ImagePullBackOff, keyed by pod uid and image). Both start at
10 s and double up to 5 min. A key untouched for ``reset_after`` (10 min: a container that ran
that long before crashing) starts over at the initial delay. The clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, *, initial: float = 10.0, cap: float = 300.0, reset_after: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial, self.cap, self.reset_after = initial, cap, reset_after
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}

    def next(self, key: Hashable, *, since: float | None = None) -> float:
        """Record an attempt now; return the delay the *following* attempt must wait.

        ``since`` is when the thing being retried last began (a container's start): a run
        longer than ``reset_after`` forgives earlier failures.
        """
        now = self._clock()
        entry = self._entries.get(key)
        fresh = entry is None or now - entry.last_update > self.reset_after or (
            since is not None and now - since > self.reset_after)
        if fresh:
            entry = _Entry(self.initial, now)
            self._entries[key] = entry
        else:
            assert entry is not None
            entry.delay = min(self.cap, entry.delay * 2)
            entry.last_update = now
        return entry.delay

    def remaining(self, key: Hashable, *, since: float) -> float:
        """Seconds left of the back-off counted from ``since`` (a crash's finish); 0 = go."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        now = self._clock()
        if now - entry.last_update > self.reset_after:
            return 0.0
        return max(0.0, entry.delay - (now - since))

    def delay(self, key: Hashable) -> float:
        """The current back-off of ``key`` (for messages); 0 when it has none."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key whose first element is ``prefix`` (a deleted pod's uid)."""
        for key in [k for k in self._entries if isinstance(k, tuple) and k and k[0] == prefix]:
            del self._entries[key]
