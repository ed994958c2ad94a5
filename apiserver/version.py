"""The ``/version`` answer: a Kubernetes ``version.Info`` naming the API level minik8s speaks.

kubectl on these machines is a dispatcher that reads ``minor`` from ``/version`` and runs the
matching ``kubectl.1.<minor>``; the Python client requires all nine fields. minik8s speaks the
1.32 API, so it says so, with a ``-minik8s`` suffix that keeps it honest about what it is.
"""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

MAJOR = "1"
MINOR = "32"
GIT_VERSION = f"v{MAJOR}.{MINOR}.0-minik8s"

# Go's GOARCH names for the machines Python reports.
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def version_info() -> dict[str, Any]:
    """All nine ``version.Info`` fields. The build fields describe this Python build, since
    there is no Go toolchain behind minik8s."""
    machine = platform.machine().lower()
    return {
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{sys.platform}/{_ARCH.get(machine, machine)}",
    }


_BODY: bytes | None = None


def version_body() -> bytes:
    """The JSON bytes of :func:`version_info`, computed once."""
    global _BODY
    if _BODY is None:
        _BODY = json.dumps(version_info(), indent=2).encode()
    return _BODY
