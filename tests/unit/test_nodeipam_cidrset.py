"""The node IPAM block arithmetic: indexes ↔ CIDRs, round-robin search, bad flags refused."""

from __future__ import annotations

import pytest

from controllers.nodeipam import CIDRSet


def test_blocks_and_indexes_round_trip() -> None:
    s = CIDRSet("10.244.0.0/16", 24)
    assert s.size == 256
    assert s.cidr(0) == "10.244.0.0/24" and s.cidr(255) == "10.244.255.0/24"
    assert s.index("10.244.7.0/24") == 7
    assert s.index("10.245.0.0/24") is None  # outside
    assert s.index("10.244.7.0/25") is None  # another size
    assert s.index("not-a-cidr") is None


def test_round_robin_skips_used_and_wraps() -> None:
    s = CIDRSet("10.0.0.0/22", 24)
    assert s.next_free({0}) == 1
    assert s.next_free(set()) == 2  # resumes after the last handed out, not at the lowest free
    assert s.next_free({3}) == 0  # wrapped around
    assert s.next_free({0, 1, 2, 3}) is None


def test_ipv6() -> None:
    s = CIDRSet("fd00::/104", 120)
    assert s.cidr(1) == "fd00::100/120"
    assert s.index("fd00::100/120") == 1


@pytest.mark.parametrize("cidr,mask", [("10.0.0.0/16", 8), ("10.0.0.0/8", 25), ("10.0.0.1/16", 24)])
def test_bad_flags(cidr: str, mask: int) -> None:
    with pytest.raises(ValueError):
        CIDRSet(cidr, mask)
