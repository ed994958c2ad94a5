"""Files only their owner may read: written whole or not at all.

One home for the atomic 0600 write that keys, certificates, kubeconfigs' secrets and
``minik8s up``'s generated configurations (encryption key, admission, audit policy) need: a temp
file in the same directory, fsynced, then renamed over the target, so a crash leaves the old file
or the new one and the temp file is never readable by others. It imports only the standard
library (``minik8s.pki`` re-exports it without its callers paying for ``cryptography``).
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["write_private"]


def write_private(path: str | os.PathLike[str], data: bytes, *, dir_mode: int = 0o700) -> None:
    """Write ``data`` atomically with mode 0600 (the temp file is never readable by others);
    a missing directory is made with ``dir_mode`` (private unless the caller says otherwise)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".private-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
