"""Quantities parse to exact values and canonicalize as Kubernetes stores them."""

from fractions import Fraction

import pytest

from minik8s import quantity


@pytest.mark.parametrize(
    ("text", "value", "fmt"),
    [
        ("100m", Fraction(1, 10), "DecimalSI"),
        ("1.5", Fraction(3, 2), "DecimalSI"),
        ("2Gi", 2 * 2**30, "BinarySI"),
        ("500M", 500 * 10**6, "DecimalSI"),
        ("1e3", 1000, "DecimalExponent"),
        ("1E3", 1000, "DecimalExponent"),
        ("1e-3", Fraction(1, 1000), "DecimalExponent"),
        ("1Ki", 1024, "BinarySI"),
        ("3Mi", 3 * 2**20, "BinarySI"),
        ("1Ti", 2**40, "BinarySI"),
        ("1Pi", 2**50, "BinarySI"),
        ("2Ei", 2 * 2**60, "BinarySI"),
        ("1k", 1000, "DecimalSI"),
        ("7T", 7 * 10**12, "DecimalSI"),
        ("1P", 10**15, "DecimalSI"),
        ("1E", 10**18, "DecimalSI"),  # a bare E is exa, not an exponent
        ("5n", Fraction(5, 10**9), "DecimalSI"),
        ("5u", Fraction(5, 10**6), "DecimalSI"),
        (".5", Fraction(1, 2), "DecimalSI"),
        ("1.", 1, "DecimalSI"),
        ("+2", 2, "DecimalSI"),
        ("-2", -2, "DecimalSI"),
        ("0", 0, "DecimalSI"),
        (1, 1, "DecimalSI"),
        (0.25, Fraction(1, 4), "DecimalSI"),
    ],
)
def test_parse(text, value, fmt):
    q = quantity.parse(text)
    assert q.value == value
    assert isinstance(q.value, Fraction)
    assert q.format == fmt
    assert quantity.is_valid(text)


@pytest.mark.parametrize("bad", ["", ".", "1K", "abc", "1.2.3", "1e", "Mi", "1 Mi", "1e1.5", "+-1", "1Mib", " 1", True, None])
def test_invalid(bad):
    assert not quantity.is_valid(bad)
    with pytest.raises(ValueError):
        quantity.parse(bad)


def test_error_messages_are_kubernetes_and_name_the_input():
    with pytest.raises(ValueError) as e:
        quantity.parse("lots")
    assert "quantities must match the regular expression" in str(e.value)
    assert "lots" in str(e.value)
    with pytest.raises(ValueError) as e:
        quantity.parse("12 cores")
    assert "unable to parse quantity's suffix" in str(e.value)
    assert "12 cores" in str(e.value)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("100m", "100m"),
        ("0.5", "500m"),
        ("1.5", "1500m"),
        ("1000m", "1"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1000M", "1G"),
        ("1.5G", "1500M"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("0.5Ki", "512"),  # below 1024 a binary amount is written in decimal
        ("1.5Ki", "1536"),
        ("1e3", "1e3"),
        ("12e6", "12e6"),
        ("1500e0", "1500"),
        ("-1", "-1"),
        ("0", "0"),
        ("0Gi", "0"),
        ("1n", "1n"),
        (2, "2"),
    ],
)
def test_canonicalize(text, canonical):
    assert quantity.canonicalize(text) == canonical


def test_resource_lists_round_up_to_milli():
    assert quantity.canonicalize("0.0001") == "100u"
    assert quantity.canonicalize("0.0001", milli=True) == "1m"
    assert quantity.canonicalize("1n", milli=True) == "1m"
    assert quantity.canonicalize("1.0001", milli=True) == "1001m"


@pytest.mark.parametrize(
    ("text", "millis"),
    [("100m", 100), ("1", 1000), ("1.5", 1500), ("2k", 2_000_000), ("0.0001", 1), ("1n", 1), ("-1n", -1), ("250u", 1)],
)
def test_cpu_millis_rounds_up(text, millis):
    assert quantity.parse_cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "n"),
    [("1Ki", 1024), ("128Mi", 128 * 2**20), ("1G", 10**9), ("1.5", 2), ("100m", 1), ("1e3", 1000), ("500", 500)],
)
def test_bytes_round_up(text, n):
    assert quantity.parse_bytes(text) == n


def test_format():
    assert quantity.format_cpu_millis(2000) == "2"
    assert quantity.format_cpu_millis(1500) == "1500m"
    assert quantity.format_cpu_millis(0) == "0"
    assert quantity.format_bytes(2**30) == "1Gi"
    assert quantity.format_bytes(3 * 2**20 + 2**19) == "3584Ki"
    assert quantity.format_bytes(1536) == "1536"
    assert quantity.format_bytes(1000) == "1k"
    assert quantity.format_quantity(Fraction(1, 4)) == "250m"
    assert quantity.format_quantity(10**6, "DecimalExponent") == "1e6"


def test_round_trip_through_format():
    for text in ["250m", "3", "64Mi", "1Gi", "10G", "1536Mi"]:
        q = quantity.parse(text)
        assert quantity.parse(quantity.format_quantity(q.value, q.format)).value == q.value


def test_huge_exponent_is_capped_not_computed():
    assert quantity.parse("1e999999999").value == 2**63 - 1
    assert quantity.parse("9E").value == 9 * 10**18
    assert quantity.parse("100E").value == 2**63 - 1
    assert quantity.canonicalize("1e-999999999") == "1e-9"  # rounded up to a nano
