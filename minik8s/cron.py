"""Cron schedules as Kubernetes reads ``CronJob.spec.schedule``: robfig/cron v3's standard parser.

Five fields (minute, hour, day of month, month, day of week) separated by blanks; each field a
comma-separated list of ``*``/``?``, ``N``, ``N-M``, with an optional ``/step``; months and
weekdays also by name (``jan``, ``mon``). Macros: ``@yearly``/``@annually``, ``@monthly``,
``@weekly``, ``@daily``/``@midnight``, ``@hourly`` and ``@every <duration>``. A ``TZ=`` or
``CRON_TZ=`` prefix names the zone. When both day fields are restricted a day matches either
(cron's classic OR); when either is ``*`` both must match.

:func:`parse` raises :class:`CronError` with robfig's messages (``expected exactly 5 fields,
found 4: [* * * *]``, ``end of range (60) above maximum (59): 0-60``), which the apiserver
returns as the field's error. :meth:`Schedule.next` gives the first activation strictly after a
moment, computed on the wall clock of the schedule's zone (a ``zoneinfo`` zone).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo

__all__ = ["CronError", "Schedule", "parse", "load_zone"]

_STAR = 1 << 63

_DOW_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_MONTH_NAMES = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}


@dataclasses.dataclass(frozen=True)
class _Bounds:
    min: int
    max: int
    names: dict[str, int] | None = None


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(1, 12, _MONTH_NAMES)
_DOW = _Bounds(0, 6, _DOW_NAMES)

_MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """A schedule that does not parse; the message is robfig/cron's."""


def load_zone(name: str | None) -> datetime.tzinfo:
    """The zone of ``timeZone`` (None: UTC, the zone the controller-manager runs in here)."""
    if name is None:
        return datetime.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name}") from None


@dataclasses.dataclass(frozen=True)
class Schedule:
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    zone: datetime.tzinfo | None = None  # from a TZ= prefix; else the caller's
    every: float | None = None  # @every: a constant delay in seconds

    def _day_matches(self, d: datetime.datetime) -> bool:
        dom_match = bool(1 << d.day & self.dom)
        dow_match = bool(1 << ((d.weekday() + 1) % 7) & self.dow)
        if self.dom & _STAR or self.dow & _STAR:
            return dom_match and dow_match
        return dom_match or dow_match

    def next(self, after: datetime.datetime, zone: datetime.tzinfo | None = None) -> datetime.datetime | None:
        """The first activation strictly after ``after`` (aware), in ``self.zone`` or ``zone``;
        None when there is none within five years (``0 0 30 2 *``)."""
        if self.every is not None:
            base = after.replace(microsecond=0)
            return base + datetime.timedelta(seconds=self.every)
        tz = self.zone or zone or datetime.UTC
        local = after.astimezone(tz).replace(tzinfo=None, microsecond=0)
        t = local.replace(second=0) + datetime.timedelta(minutes=1)
        limit = t.year + 5
        while t.year <= limit:
            if not (1 << t.month & self.month):
                t = _first_of_next_month(t)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + datetime.timedelta(days=1)
                continue
            if not (1 << t.hour & self.hour):
                t = t.replace(minute=0) + datetime.timedelta(hours=1)
                continue
            if not (1 << t.minute & self.minute):
                t = t + datetime.timedelta(minutes=1)
                continue
            return t.replace(tzinfo=tz)
        return None


def _first_of_next_month(t: datetime.datetime) -> datetime.datetime:
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return datetime.datetime(year, month, 1)


def parse(spec: str) -> Schedule:
    """A standard (5-field) cron spec, or raise :class:`CronError`."""
    if not spec:
        raise CronError("empty spec string")
    zone: datetime.tzinfo | None = None
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        head, _, spec = spec.partition(" ")
        name = head.split("=", 1)[1]
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise CronError(f"provided bad location {name}: unknown time zone {name}") from None
        spec = spec.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            secs = _go_duration(spec[len("@every "):])
            return Schedule(0, 0, 0, 0, 0, zone, every=max(1.0, float(int(secs))))
        expanded = _MACROS.get(spec)
        if expanded is None:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = expanded
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    return Schedule(_field(fields[0], _MINUTES), _field(fields[1], _HOURS), _field(fields[2], _DOM),
                    _field(fields[3], _MONTHS), _field(fields[4], _DOW), zone)


def _field(text: str, b: _Bounds) -> int:
    bits = 0
    for expr in text.split(","):
        bits |= _range(expr, b)
    return bits


def _range(expr: str, b: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.min, b.max, _STAR
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_int(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = b.max
        if step > 1:
            extra = 0
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < b.min:
        raise CronError(f"beginning of range ({start}) below minimum ({b.min}): {expr}")
    if end > b.max:
        raise CronError(f"end of range ({end}) above maximum ({b.max}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    bits = 0
    for i in range(start, end + 1, step):
        bits |= 1 << i
    return bits | extra


def _int_or_name(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    return _must_int(text)


_GO_INT = re.compile(r"^[+-]?\d+$")


def _must_int(text: str) -> int:
    if not _GO_INT.match(text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    n = int(text)
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {text}")
    return n


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _go_duration(text: str) -> float:
    """Seconds of a Go duration (``1h30m``, ``90s``) for ``@every``."""
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            raise CronError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if not text:
        raise CronError(f'failed to parse duration @every {text}: time: invalid duration "{text}"')
    return total
