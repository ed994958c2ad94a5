"""core/v1 ServiceAccount: an identity for the processes of a pod.

Field names follow ``k8s.io/api/core/v1/types.go``. ``secrets`` lists the Secrets pods of this
account may use (only enforced with the ``kubernetes.io/enforce-mountable-secrets``
annotation); ``imagePullSecrets`` are copied into pods that name none; and
``automountServiceAccountToken: false`` keeps the token volume out of its pods unless a pod
asks for it. It lives apart from ``core.py`` (same group, version and OpenAPI package).

The names and helpers of these kinds (phases, annotations, condition types...) are in
:mod:`minik8s.api.wellknown.serviceaccounts`, which imports no pydantic, so the components can use them.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel, merge_key
from minik8s.api.core import LocalObjectReference, ObjectReference
from minik8s.api.meta import ListMeta, ObjectMeta


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
