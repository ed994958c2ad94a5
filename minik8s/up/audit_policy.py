"""The audit policy ``minik8s up`` gives its apiserver, written once.

``<data-dir>/audit-policy.yaml`` is an audit.k8s.io/v1 Policy in the spirit of the one
Kubernetes' own cluster scripts (kube-up's ``configure-helper.sh``) install: the components'
steady background traffic (health checks, leases, events, a node reading itself) is not logged; Secrets, ConfigMaps, tokens and TokenReviews only at ``Metadata``, so
their contents never reach the log; other writes at ``Request`` (what was asked, without
managedFields); everything else at ``Metadata``. ``RequestReceived`` is omitted: each
request's ``ResponseComplete`` (and ``ResponseStarted`` for watches) says it all.

The log goes to ``<data-dir>/logs/audit.log``, rotated at 100 MB, three backups kept. An
existing policy file is kept as it is: a user who edits it (and restarts) keeps the edit.
"""

from __future__ import annotations

from pathlib import Path

from minik8s.files import write_private

__all__ = ["FILE_NAME", "LOG_MAX_BACKUP", "LOG_MAX_SIZE_MB", "POLICY", "ensure", "flags", "path_of"]

FILE_NAME = "audit-policy.yaml"
LOG_MAX_SIZE_MB = 100
LOG_MAX_BACKUP = 3

POLICY = """\
# The audit policy of minik8s up's apiserver (--audit-policy-file): rules are matched in
# order, the first match gives the level (None, Metadata, Request, RequestResponse).
# Edit and restart minik8s to change it; the log is <data-dir>/logs/audit.log.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  # Health checks and version probes.
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/metrics"]
  # The components' steady background traffic.
  - level: None
    resources:
      - group: coordination.k8s.io
        resources: ["leases"]
  - level: None
    resources:
      - group: ""
        resources: ["events"]
      - group: events.k8s.io
        resources: ["events"]
  - level: None
    userGroups: ["system:nodes"]
    verbs: ["get", "list", "watch"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  # Contents that are credentials: who touched what, never the data.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: authentication.k8s.io
        resources: ["tokenreviews"]
      - group: certificates.k8s.io
        resources: ["certificatesigningrequests"]
  # Reads: who read what.
  - level: Metadata
    verbs: ["get", "list", "watch"]
  # Every other write: what was asked (the object or patch, without managedFields).
  - level: Request
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
    omitManagedFields: true
  # Anything else (non-resource requests, other verbs).
  - level: Metadata
"""


def path_of(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def ensure(data_dir: Path) -> Path:
    """Write the default policy unless a policy file is there already."""
    path = path_of(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, POLICY.encode())
    return path


def flags(data_dir: Path, logs_dir: Path) -> dict[str, str | None]:
    """The apiserver flags that turn the audit log on."""
    return {"audit-policy-file": str(path_of(data_dir)), "audit-log-path": str(logs_dir / "audit.log"),
            "audit-log-maxsize": str(LOG_MAX_SIZE_MB), "audit-log-maxbackup": str(LOG_MAX_BACKUP)}
