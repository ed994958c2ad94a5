"""What the apiserver makes up for new objects (apiserver/uids.py): version-4 UUID strings and
generated names' random suffixes of Kubernetes' alphabet, every letter as likely."""

from __future__ import annotations

import collections
import uuid

from apiserver.uids import name_suffix, new_uid

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def test_uids_are_distinct_version_4_uuids() -> None:
    seen = {new_uid() for _ in range(10_000)}
    assert len(seen) == 10_000
    for u in list(seen)[:100]:
        parsed = uuid.UUID(u)
        assert str(parsed) == u and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_name_suffixes_are_of_the_alphabet_and_unbiased() -> None:
    suffixes = [name_suffix() for _ in range(100_000)]
    assert all(len(s) == 5 and set(s) <= set(ALPHABET) for s in suffixes)
    assert len(name_suffix(12)) == 12
    counts = collections.Counter("".join(suffixes))
    expected = 500_000 / len(ALPHABET)  # ~18,500 each (sd ~0.7%); a byte taken modulo 27 gives 13 letters +5.5%, 14 -5.1%
    assert set(counts) == set(ALPHABET)
    assert all(abs(n - expected) < 0.035 * expected for n in counts.values()), counts
