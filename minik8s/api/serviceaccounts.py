"""core/v1 ServiceAccount: an identity for the processes of a pod.

Field names follow ``k8s.io/api/core/v1/types.go``. ``secrets`` lists the Secrets pods of this
account may use (only enforced with the ``kubernetes.io/enforce-mountable-secrets``
annotation); ``imagePullSecrets`` are copied into pods that name none; and
``automountServiceAccountToken: false`` keeps the token volume out of its pods unless a pod
asks for it. It lives apart from ``core.py`` (same group, version and OpenAPI package).
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel, merge_key
from minik8s.api.core import LocalObjectReference, ObjectReference
from minik8s.api.meta import ListMeta, ObjectMeta

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


class ServiceAccount(K8sModel):
    api_version: str = "v1"
    kind: str = "ServiceAccount"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    secrets: list[ObjectReference] | None = merge_key("name")
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None


class ServiceAccountList(K8sModel):
    api_version: str = "v1"
    kind: str = "ServiceAccountList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ServiceAccount] = []


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
