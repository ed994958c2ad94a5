"""The uid of a new object: a random (version 4) UUID string, drawn from a pool of random bytes.
Used by the REST storage for every object it creates and by the audit filter for Audit-IDs."""

from __future__ import annotations

import os

__all__ = ["new_uid"]

_random = bytearray()


def new_uid() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` but from a pool of random
    bytes: ``os.urandom`` per object is a system call that also lets the storage thread take
    the GIL, and the UUID object is only ever turned into its string."""
    global _random
    if len(_random) < 16:
        _random = bytearray(os.urandom(4096))
    b = _random[-16:]
    del _random[-16:]
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
