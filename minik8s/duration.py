"""Durations as Kubernetes prints them (apimachinery's ``util/duration.HumanDuration``): the
AGE columns of every Table, ``kubectl describe``'s event intervals and mkctl's printers all
use these, so a time means the same text wherever it shows.
"""

from __future__ import annotations

from minik8s.timestamps import to_unix


def human_duration(seconds: float) -> str:
    """About two or three significant figures: ``5s``, ``3m2s``, ``10m``, ``3h5m``, ``2d3h``,
    ``2y70d``. As in Go the seconds are truncated toward zero first, so a time up to a second
    in the future is ``0s`` (clock skew) and more than that is ``<invalid>``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def since(timestamp: str | None, now: float) -> str:
    """kubectl's ``translateTimestampSince``: how long ago ``timestamp`` was at Unix time ``now``,
    ``<unknown>`` when it is unset or unreadable."""
    t = to_unix(timestamp)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)
