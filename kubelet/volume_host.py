"""The host side of a pod volume, shared by every volume source (``kubelet/volumes.py`` for the
inline ones, ``kubelet/claims.py`` for PersistentVolumeClaims): the host directory a volume
became (:class:`HostVolume`), the error of a volume that cannot be set up (:class:`VolumeError`,
the pod's FailedMount event) and the ``hostPath`` type checks (Kubernetes' ``hostPathTypeChecker``),
which inline hostPath volumes and hostPath PersistentVolumes both pass.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

__all__ = ["HostVolume", "VolumeError", "check_host_path"]


class VolumeError(Exception):
    """Raised when a volume cannot be prepared (missing ConfigMap, bad hostPath type)."""

    #: the FailedMount event's text when it is not ``MountVolume.SetUp failed: <error>``
    event_message: str | None = None


@dataclass(frozen=True)
class HostVolume:
    path: str
    read_only: bool = False


def check_host_path(path: str, kind: str) -> None:
    if not path or not os.path.isabs(path):
        raise VolumeError(f"hostPath {path!r} must be an absolute path")
    if kind == "DirectoryOrCreate":
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate":
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    elif kind == "Directory" and not os.path.isdir(path):
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not os.path.isfile(path):
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind == "Socket" and not (os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode)):
        raise VolumeError(f"hostPath type check failed: {path} is not a socket file")
