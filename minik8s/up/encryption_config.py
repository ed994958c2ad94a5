"""The apiserver's encryption-at-rest configuration that ``minik8s up`` writes once.

``<data-dir>/encryption-config.yaml`` (mode 0600) is a Kubernetes ``EncryptionConfiguration``
encrypting Secrets with a generated 32-byte ``aescbc`` key, ``identity`` last so a store written
before encryption was on still reads (its Secrets are encrypted at their next write). An existing
file is kept as it is: it holds the key the store's Secrets are encrypted with, and a user who
rotates keys edits it (then restarts and re-writes every Secret, as Kubernetes documents).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from minik8s.files import write_private

FILE_NAME = "encryption-config.yaml"


def path_of(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def ensure(data_dir: Path) -> Path:
    """Write the configuration with a new key unless it exists; always leave it 0600."""
    path = path_of(data_dir)
    if not path.exists():
        key = base64.b64encode(os.urandom(32)).decode()
        text = ("apiVersion: apiserver.config.k8s.io/v1\n"
                "kind: EncryptionConfiguration\n"
                "resources:\n"
                "  - resources:\n"
                "      - secrets\n"
                "    providers:\n"
                "      - aescbc:\n"
                "          keys:\n"
                "            - name: key1\n"
                f"              secret: {key}\n"
                "      - identity: {}\n")
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, text.encode())
    os.chmod(path, 0o600)
    return path
