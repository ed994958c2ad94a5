"""certificates.k8s.io/v1 CertificateSigningRequest: a request for an x509 certificate, approved
(``/approval``) and then issued by a signer (``/status``).

Fields follow ``k8s.io/api/certificates/v1/types.go``; ``spec.request`` and
``status.certificate`` are PEM, base64 in JSON (Go ``[]byte``). The well-known signers and key
usages are Kubernetes'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from minik8s.api.base import K8sModel
from minik8s.api.meta import ListMeta, ObjectMeta

GROUP = "certificates.k8s.io"
API_VERSION = f"{GROUP}/v1"

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"

USAGES = (
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
    "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
)


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


def condition(csr: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    """The condition of type ``ctype`` (``Approved``...), None when absent."""
    conditions: list[dict[str, Any]] = (csr.get("status") or {}).get("conditions") or []
    for c in conditions:
        if c.get("type") == ctype:
            return c
    return None


def is_approved(csr: Mapping[str, Any]) -> bool:
    return condition(csr, APPROVED) is not None and condition(csr, DENIED) is None


def has_final_condition(csr: Mapping[str, Any]) -> bool:
    """Denied or Failed: nothing more will happen to it."""
    return condition(csr, DENIED) is not None or condition(csr, FAILED) is not None
