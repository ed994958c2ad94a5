"""certificates.k8s.io/v1 CertificateSigningRequest: a request for an x509 certificate, approved
(``/approval``) and then issued by a signer (``/status``).

Fields follow ``k8s.io/api/certificates/v1/types.go``; ``spec.request`` and
``status.certificate`` are PEM, base64 in JSON (Go ``[]byte``). The well-known signers and key
usages are Kubernetes'.

The names and helpers of these kinds (phases, annotations, condition types...) are in
:mod:`minik8s.api.wellknown.certificates`, which imports no pydantic, so the components can use them.
"""

from __future__ import annotations

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta
from minik8s.api.wellknown.certificates import API_VERSION


class CertificateSigningRequestSpec(K8sModel):
    request: str = ""  # base64 of the PEM "CERTIFICATE REQUEST"
    signer_name: str = ""
    expiration_seconds: int | None = None
    usages: list[str] | None = None
    username: str | None = None
    uid: str | None = None
    groups: list[str] | None = None
    extra: dict[str, list[str]] | None = None


class CertificateSigningRequestCondition(K8sModel):
    type: str
    status: str = ""
    reason: str | None = None
    message: str | None = None
    last_update_time: str | None = None
    last_transition_time: str | None = None


class CertificateSigningRequestStatus(K8sModel):
    conditions: list[CertificateSigningRequestCondition] | None = None
    certificate: str | None = None  # base64 of the PEM chain


class CertificateSigningRequest(K8sModel):
    api_version: str = API_VERSION
    kind: str = "CertificateSigningRequest"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CertificateSigningRequestSpec = Field(default_factory=CertificateSigningRequestSpec)
    status: CertificateSigningRequestStatus | None = None


class CertificateSigningRequestList(K8sModel):
    api_version: str = API_VERSION
    kind: str = "CertificateSigningRequestList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[CertificateSigningRequest] = []
