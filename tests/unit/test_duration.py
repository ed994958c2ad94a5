"""The one home of human durations and wire timestamps (minik8s/duration.py,
minik8s/timestamps.py), checked once against what Kubernetes prints and parses."""

from __future__ import annotations

import datetime

import pytest

from minik8s import duration, timestamps


@pytest.mark.parametrize(("seconds", "expected"), [
    # apimachinery's duration.HumanDuration, case by case (seconds truncated toward zero first)
    (-5, "<invalid>"), (-1.5, "0s"), (-0.5, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"),
    (182, "3m2s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (51 * 3600, "2d3h"), (8 * 86400, "8d"),
    (9 * 86400, "9d"), (730 * 86400, "2y"), (731 * 86400, "2y1d"), (800 * 86400, "2y70d"), (8 * 365 * 86400, "8y"),
])
def test_human_duration(seconds: float, expected: str) -> None:
    assert duration.human_duration(seconds) == expected


def test_since_reads_time_and_micro_time_and_says_unknown_otherwise() -> None:
    now = timestamps.to_unix("2026-01-01T00:05:00Z")
    assert now is not None
    assert duration.since("2026-01-01T00:02:58Z", now) == "2m2s"
    assert duration.since("2026-01-01T00:04:59.999999Z", now) == "0s"
    assert duration.since(None, now) == duration.since("yesterday", now) == "<unknown>"


def test_times_are_written_as_meta_v1_time_and_micro_time() -> None:
    t = datetime.datetime(2026, 11, 23, 16, 38, 36, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert timestamps.format_time(t) == "2026-11-23T15:38:36Z"
    assert timestamps.format_micro_time(t) == "2026-11-23T15:38:36.123456Z"
    assert timestamps.from_unix(0) == "1970-01-01T00:00:00Z"
    assert timestamps.parse(timestamps.now_rfc3339()) is not None


@pytest.mark.parametrize(("text", "unix"), [
    ("1970-01-01T00:00:10Z", 10.0), ("1970-01-01T00:00:10.5Z", 10.5), ("1970-01-01T01:00:10+01:00", 10.0),
    ("", None), (None, None), ("not a time", None),
])
def test_parse_accepts_time_micro_time_and_offsets(text, unix) -> None:
    assert timestamps.to_unix(text) == unix
