"""authentication.k8s.io/v1 TokenRequest (the body of ``serviceaccounts/{name}/token``) and
TokenReview (``tokenreviews``: a bearer token checked by the apiserver's authenticators).

Fields follow ``k8s.io/api/authentication/v1/types.go``. ``spec.expirationSeconds`` defaults
to one hour, as Kubernetes' defaulting does; ``spec.boundObjectRef`` ties the token to a Pod,
Secret or Node whose deletion invalidates it.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.authentication import UserInfo
from minik8s.api.base import K8sModel
from minik8s.api.meta import ObjectMeta

GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"
DEFAULT_EXPIRATION_SECONDS = 3600


class BoundObjectReference(K8sModel):
    kind: str | None = None
    api_version: str | None = None
    name: str | None = None
    uid: str | None = None


class TokenRequestSpec(K8sModel):
    audiences: list[str] = []  # no omitempty in Kubernetes
    expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS
    bound_object_ref: BoundObjectReference | None = None


class TokenRequestStatus(K8sModel):
    token: str = ""
    expiration_timestamp: str | None = None


class TokenRequest(K8sModel):
    api_version: str = API_VERSION
    kind: str = "TokenRequest"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TokenRequestSpec = Field(default_factory=TokenRequestSpec)
    status: TokenRequestStatus | None = None


# --- TokenReview: is this token good, and whose is it? (answered, never stored) -------------

class TokenReviewSpec(K8sModel):
    token: str | None = None
    audiences: list[str] | None = None


class TokenReviewStatus(K8sModel):
    authenticated: bool | None = None
    user: UserInfo | None = None
    audiences: list[str] | None = None
    error: str | None = None


class TokenReview(K8sModel):
    api_version: str = API_VERSION
    kind: str = "TokenReview"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TokenReviewSpec = Field(default_factory=TokenReviewSpec)
    status: TokenReviewStatus | None = None
