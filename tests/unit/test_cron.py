"""The cron parser as Kubernetes reads CronJob schedules (robfig/cron v3's standard parser):
fields, names, steps, macros, time zones, the day-of-month/day-of-week OR, and its messages."""

from __future__ import annotations

import datetime

import pytest

from minik8s import cron

UTC = datetime.UTC


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("spec, after, want", [
    ("* * * * *", at(2026, 1, 1, 10, 0, 30), at(2026, 1, 1, 10, 1)),
    ("*/15 * * * *", at(2026, 1, 1, 10, 15), at(2026, 1, 1, 10, 30)),
    ("0 9-17 * * mon-fri", at(2026, 12, 4, 17, 50), at(2026, 12, 7, 9, 0)),  # Friday evening → Monday
    ("0 0 1 jan *", at(2026, 3, 1), at(2027, 1, 1)),
    ("@hourly", at(2026, 1, 1, 10, 0), at(2026, 1, 1, 11, 0)),
    ("@weekly", at(2026, 12, 4), at(2026, 12, 6)),  # Sunday
    ("0 0 13 * 5", at(2026, 1, 1), at(2026, 1, 2)),  # day 13 OR a Friday
    ("5/20 * * * *", at(2026, 1, 1, 10, 26), at(2026, 1, 1, 10, 45)),
    ("0 0 29 2 *", at(2026, 3, 1), at(2028, 2, 29)),
])
def test_next(spec, after, want):
    assert cron.parse(spec).next(after) == want


def test_time_zone_is_the_wall_clock_of_the_zone():
    paris = cron.load_zone("Europe/Paris")
    got = cron.parse("0 9 * * *").next(at(2026, 7, 1, 8, 0), paris)  # 10:00 in Paris (CEST)
    assert got.astimezone(UTC) == at(2026, 7, 2, 7, 0)


def test_impossible_date_has_no_next():
    assert cron.parse("0 0 30 2 *").next(at(2026, 1, 1)) is None


@pytest.mark.parametrize("spec, message", [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_errors_name_the_bad_token(spec, message):
    with pytest.raises(cron.CronError) as e:
        cron.parse(spec)
    assert str(e.value) == message


def test_unknown_zone():
    with pytest.raises(cron.CronError, match="unknown time zone Nowhere/Land"):
        cron.load_zone("Nowhere/Land")
