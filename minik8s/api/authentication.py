"""authentication.k8s.io/v1 kinds answered by the apiserver and never stored: SelfSubjectReview
(``kubectl auth whoami``) and the UserInfo it carries (``k8s.io/api/authentication/v1``)."""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ObjectMeta

GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"


class UserInfo(K8sModel):
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class SelfSubjectReviewStatus(K8sModel):
    user_info: UserInfo | None = None


class SelfSubjectReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "SelfSubjectReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    status: SelfSubjectReviewStatus | None = None
