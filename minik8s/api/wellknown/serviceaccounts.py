"""core/v1 ServiceAccount: the default account, the token volume's and the root CA ConfigMap's
names, and the user name and groups a ServiceAccount authenticates as (the models:
:mod:`minik8s.api.serviceaccounts`).
"""

from __future__ import annotations

DEFAULT_NAME = "default"
#: where the ServiceAccount admission mounts the token volume in every container
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
#: the prefix of the projected volume the admission adds (``kube-api-access-<5 chars>``)
TOKEN_VOLUME_PREFIX = "kube-api-access-"
#: the ConfigMap the root CA publisher keeps in every namespace
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_KEY = "ca.crt"
#: the expiration the admission asks for: Kubernetes' "warn only" bound token lifetime, which
#: the apiserver extends to a year while the kubelet still rotates it after ~48 minutes
WARN_ONLY_EXPIRATION_SECONDS = 60 * 60 + 7


def username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>``: the user a token of this account authenticates as."""
    return f"system:serviceaccount:{namespace}:{name}"


def split_username(user: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a ServiceAccount user name, None for any other user."""
    prefix = "system:serviceaccount:"
    if not user.startswith(prefix):
        return None
    ns, sep, name = user[len(prefix):].partition(":")
    if not sep or not ns or not name or ":" in name:
        return None
    return ns, name


def groups(namespace: str) -> tuple[str, str]:
    """The groups every ServiceAccount user is in."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")
