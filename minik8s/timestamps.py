"""Times as Kubernetes writes them on the wire: meta/v1 ``Time`` and ``MicroTime``.

The one home of RFC 3339 formatting and parsing for every process (apimachinery's
``metav1.Time`` marshalling): a ``Time`` is UTC at whole seconds (``2026-11-23T15:38:36Z``), a
``MicroTime`` carries microseconds (``2026-11-23T15:38:36.123456Z``). Parsing accepts both, and
any UTC offset, and answers None for an absent or malformed value rather than raising, because
every reader of a timestamp in an object (ages, leases, token expiry, back-offs) treats those
alike: as "not known".
"""

from __future__ import annotations

import datetime
import time

_UTC = datetime.UTC
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(t: datetime.datetime | None = None) -> str:
    """A meta/v1 Time (whole seconds, UTC) of ``t``, or of now; a naive ``t`` is taken as UTC."""
    if t is None:
        return now_rfc3339()
    if t.tzinfo is not None:
        t = t.astimezone(_UTC)
    return t.strftime(_TIME)


def format_micro_time(t: datetime.datetime | None = None) -> str:
    """A meta/v1 MicroTime (microseconds, UTC) of ``t``, or of now."""
    t = datetime.datetime.now(_UTC) if t is None else t
    if t.tzinfo is not None:
        t = t.astimezone(_UTC)
    return t.strftime(_MICRO)


def from_unix(seconds: float) -> str:
    """The meta/v1 Time of a Unix time (seconds since the epoch)."""
    return time.strftime(_TIME, time.gmtime(seconds))


def in_seconds(seconds: float) -> str:
    """The meta/v1 Time ``seconds`` from now."""
    return from_unix(time.time() + seconds)


def now_rfc3339() -> str:
    """The current time as a meta/v1 Time (``2026-11-23T15:38:36Z``)."""
    global _now_cache
    second = int(time.time())
    cached = _now_cache
    if cached[0] != second:
        # Formatting costs microseconds and an apiserver asks several times per write
        # (creationTimestamp, managedFields): format once per second.
        cached = _now_cache = (second, time.strftime(_TIME, time.gmtime(second)))
    return cached[1]


_now_cache: tuple[int, str] = (-1, "")


def parse(value: str | None) -> datetime.datetime | None:
    """A Time or MicroTime string as an aware datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        t = datetime.datetime.fromisoformat(value)  # 3.11 reads "Z" and fractions of any length
    except (ValueError, TypeError, AttributeError):
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=_UTC)


def to_unix(value: str | None) -> float | None:
    """A Time or MicroTime string as a Unix time; None when absent or malformed."""
    t = parse(value)
    return None if t is None else t.timestamp()
