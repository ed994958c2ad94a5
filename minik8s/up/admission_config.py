"""The admission configuration ``minik8s up`` gives its apiserver, written once.

``<data-dir>/admission-config.yaml`` is an ``apiserver.config.k8s.io/v1`` AdmissionConfiguration
whose PodSecurity entry (``pod-security.admission.config.k8s.io/v1``) makes ``baseline`` the
enforced level of every namespace that does not say otherwise with its
``pod-security.kubernetes.io/enforce`` label, and exempts ``kube-system`` (the cluster's own
host-level pods live there), as the issue asks and as a hardened kubeadm cluster is configured.
A user opens a namespace with ``kubectl label ns NAME pod-security.kubernetes.io/enforce=privileged``.
An existing file is kept as it is: a user who edits it (and restarts) keeps the edit.
"""

from __future__ import annotations

from pathlib import Path

from minik8s.files import write_private

__all__ = ["CONFIG", "FILE_NAME", "ensure", "flags", "path_of"]

FILE_NAME = "admission-config.yaml"

CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    # what a namespace without pod-security.kubernetes.io/* labels gets
    defaults:
      enforce: "baseline"
      enforce-version: "latest"
      audit: "privileged"
      audit-version: "latest"
      warn: "privileged"
      warn-version: "latest"
    exemptions:
      usernames: []
      runtimeClasses: []
      namespaces: ["kube-system"]
"""


def path_of(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def ensure(data_dir: Path) -> Path:
    """Write the default configuration unless a file is there already."""
    path = path_of(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, CONFIG.encode())
    return path


def flags(data_dir: Path) -> dict[str, str | None]:
    """The apiserver flag that reads it."""
    return {"admission-control-config-file": str(path_of(data_dir))}
