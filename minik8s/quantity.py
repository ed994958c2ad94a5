"""Kubernetes resource quantities (``100m``, ``1.5``, ``2Gi``, ``1e3``): parse, canonicalize, format.

Shared by the API types (which canonicalize every ``ResourceList`` on the way in, as
Kubernetes does), the scheduler (fit checks in CPU millis and bytes) and the kubelet
(Docker limits). Values are exact: :class:`fractions.Fraction`, never floats.

The grammar is Kubernetes' (``k8s.io/apimachinery/pkg/api/resource``)::

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInt> | "E" <signedInt>

A quantity remembers which of the three forms it was written in; the canonical string keeps
that form (``1024Mi`` → ``1Gi``, ``0.5`` → ``500m``, ``1000`` → ``1k``).
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction
from typing import Literal, NamedTuple

__all__ = [
    "Quantity", "parse", "parse_quantity", "parse_cpu_millis", "parse_bytes", "is_valid",
    "canonicalize", "format_quantity", "format_cpu_millis", "format_bytes",
    "DECIMAL_SI", "BINARY_SI", "DECIMAL_EXPONENT",
]

Format = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Format = "DecimalSI"
BINARY_SI: Format = "BinarySI"
DECIMAL_EXPONENT: Format = "DecimalExponent"

# Kubernetes' own error text for a malformed quantity, so clients see the familiar message.
_REGEX_TEXT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_ERR = f"quantities must match the regular expression '{_REGEX_TEXT}'"

_RE = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)(.*)", re.ASCII)
_EXP_RE = re.compile(r"[eE]([+-]?\d+)", re.ASCII)

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_POWER = sorted(((p, s) for s, p in _BINARY_SUFFIXES.items()), reverse=True)

# No quantity may exceed 2^63-1 in magnitude (Kubernetes caps larger ones); the bound also
# keeps a hostile "1e999999999" from building an enormous integer.
_MAX = 2**63 - 1
_MAX_EXPONENT = 40


class Quantity(NamedTuple):
    value: Fraction
    format: Format


def parse(s: str | int | float) -> Quantity:
    """The exact value of a quantity and the form it was written in; ValueError if malformed."""
    if isinstance(s, bool):
        raise ValueError(f"{_ERR}: {s!r}")
    if isinstance(s, int):
        return Quantity(Fraction(_cap(s)), DECIMAL_SI)
    if isinstance(s, float):
        if not math.isfinite(s):
            raise ValueError(f"{_ERR}: {s!r}")
        s = repr(s)
    if not isinstance(s, str):
        raise ValueError(f"a quantity must be a string or a number, not {type(s).__name__}")
    return _parse_text(s)


# Every pod write validates its requests and limits, and manifests repeat the same few
# quantities: Fraction arithmetic per write was a visible share of the apiserver's CPU.
# Only answers are cached (a malformed string raises again each time); both are immutable.
@functools.lru_cache(maxsize=4096)
def _parse_text(s: str) -> Quantity:
    m = _RE.fullmatch(s)
    if m is None:
        raise ValueError(f"{_ERR}: {s!r}")
    sign, number, suffix = m.groups()
    value = Fraction(number)
    if suffix in _DECIMAL_SUFFIXES:
        value *= Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
        fmt: Format = DECIMAL_SI
    elif suffix in _BINARY_SUFFIXES:
        value *= 2 ** _BINARY_SUFFIXES[suffix]
        fmt = BINARY_SI
    elif (em := _EXP_RE.fullmatch(suffix)) is not None:
        exp = int(em.group(1))
        if exp > _MAX_EXPONENT:
            value = Fraction(_MAX) if value else value
        elif exp < -_MAX_EXPONENT:
            # Far below a nano: it rounds up to the smallest unit once canonicalized.
            value = Fraction(1, 10**_MAX_EXPONENT) if value else value
        else:
            value *= Fraction(10) ** exp
        fmt = DECIMAL_EXPONENT
    else:
        raise ValueError(f"unable to parse quantity's suffix: {s!r}")
    if sign == "-":
        value = -value
    if abs(value) > _MAX:
        value = Fraction(_cap(value))
    return Quantity(value, fmt)


def parse_quantity(s: str | int | float) -> Fraction:
    """The exact value of a quantity (``"100m"`` → ``Fraction(1, 10)``)."""
    return parse(s).value


def is_valid(s: object) -> bool:
    try:
        parse(s)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def parse_cpu_millis(s: str | int | float) -> int:
    """CPU in millicores, rounded up as Kubernetes' ``MilliValue`` does (``"1.5"`` → 1500)."""
    return _round_away(parse(s).value * 1000)


def parse_bytes(s: str | int | float) -> int:
    """An amount in whole units, rounded up as Kubernetes' ``Value`` does (``"1Ki"`` → 1024)."""
    return _round_away(parse(s).value)


# Manifests repeat the same few quantities ("100m", "64Mi") and the apiserver canonicalizes
# every one on every write: remember the answers.
def canonicalize(s: str | int | float, *, milli: bool = False) -> str:
    """The canonical string Kubernetes stores for ``s`` (``"1024Mi"`` → ``"1Gi"``).

    ``milli=True`` first rounds up to a thousandth, as Kubernetes does to every value of a
    ``ResourceList`` (``"0.0001"`` → ``"1m"``). ValueError for anything but a string or a
    number (a JSON object or list included: they cannot be cache keys).
    """
    if not isinstance(s, (str, int, float)):
        raise ValueError(f"a quantity must be a string or a number, not {type(s).__name__}")
    return _canonicalize(s, milli)


@functools.lru_cache(maxsize=4096, typed=True)
def _canonicalize(s: str | int | float, milli: bool) -> str:
    q = parse(s)
    return format_quantity(q.value, q.format, scale=-3 if milli else -9)


def format_quantity(value: Fraction | int, fmt: Format = DECIMAL_SI, *, scale: int = -9) -> str:
    """The canonical string of ``value`` in form ``fmt``.

    Anything finer than ``10**scale`` is rounded up (away from zero), as Kubernetes rounds.
    A binary form is only used for integers of at least 1024 (``1536`` stays ``1536``,
    ``0.5Ki`` becomes ``512``), as Kubernetes does.
    """
    if scale % 3 or not -9 <= scale <= 0:
        raise ValueError(f"scale must be one of -9, -6, -3, 0, not {scale}")
    value = Fraction(value)
    unit = Fraction(10) ** scale
    value = _round_away(value / unit) * unit
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mag = -value if value < 0 else value
    if fmt == BINARY_SI and mag.denominator == 1 and mag >= 1024:
        n = mag.numerator
        for power, suffix in _BINARY_BY_POWER:
            if n % (1 << power) == 0:
                return f"{sign}{n >> power}{suffix}"
        return f"{sign}{n}"
    # Decimal: the largest exponent (a multiple of 3) that leaves an integer mantissa.
    exp = scale
    m = (mag / Fraction(10) ** exp).numerator  # an integer: rounded to the scale above
    top = 18 if fmt != DECIMAL_EXPONENT else _MAX_EXPONENT * 3
    while m % 1000 == 0 and exp + 3 <= top:
        m //= 1000
        exp += 3
    if fmt == DECIMAL_EXPONENT:
        return f"{sign}{m}" + (f"e{exp}" if exp else "")
    return f"{sign}{m}{_DECIMAL_BY_EXP[exp]}"


def format_cpu_millis(millis: int) -> str:
    """``1500`` → ``"1500m"``, ``2000`` → ``"2"``: how Kubernetes prints a CPU amount."""
    return format_quantity(Fraction(millis, 1000), DECIMAL_SI, scale=-3)


def format_bytes(n: int) -> str:
    """``1073741824`` → ``"1Gi"``, ``1536`` → ``"1536"``, ``1000`` → ``"1k"`` (below 1024 it is decimal)."""
    return format_quantity(n, BINARY_SI, scale=0)


def _round_away(x: Fraction) -> int:
    """Round to an integer away from zero (Kubernetes rounds quantities up in magnitude)."""
    return math.ceil(x) if x >= 0 else -math.ceil(-x)


def _cap(v: int | Fraction) -> int:
    return max(-_MAX, min(_MAX, int(v)))
