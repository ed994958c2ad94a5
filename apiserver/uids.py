"""What the apiserver makes up for a new object: its uid, a random (version 4) UUID string, and
the random suffix of a generated name (``generateName``, the ServiceAccount token volume's
``kube-api-access-xxxxx``), both drawn from one pool of random bytes. Used by the REST storage
for every object it creates, by ServiceAccount admission and by the audit filter for Audit-IDs."""

from __future__ import annotations

import os

__all__ = ["new_uid", "name_suffix"]

# Kubernetes' util/rand alphabet: no vowels and no 0, 1, 3 (no words, no look-alikes).
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
# Bytes at or above this would favour the alphabet's first letters; they are skipped.
_FAIR = 256 - 256 % len(_ALPHANUMS)

_random = bytearray()


def _take(n: int) -> bytearray:
    """``n`` random bytes from the pool (``os.urandom`` per object is a system call that also
    lets the storage thread take the GIL)."""
    global _random
    if len(_random) < n:
        _random = bytearray(os.urandom(max(4096, n)))
    b = _random[-n:]
    del _random[-n:]
    return b


def new_uid() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` but from the pool: the UUID
    object is only ever turned into its string."""
    b = _take(16)
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def name_suffix(n: int = 5) -> str:
    """``n`` random characters of Kubernetes' name alphabet (its ``rand.String``), each as
    likely as the others."""
    out = ""
    while len(out) < n:
        out += "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in _take(n - len(out)) if b < _FAIR)
    return out
