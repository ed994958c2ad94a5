"""certificates.k8s.io/v1 CertificateSigningRequest: the well-known signers, key usages and
condition types, and a request's conditions (the models: :mod:`minik8s.api.certificates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minik8s.api.wellknown import condition as condition  # a request's conditions too (re-exported)

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


def is_approved(csr: Mapping[str, Any]) -> bool:
    return condition(csr, APPROVED) is not None and condition(csr, DENIED) is None


def has_final_condition(csr: Mapping[str, Any]) -> bool:
    """Denied or Failed: nothing more will happen to it."""
    return condition(csr, DENIED) is not None or condition(csr, FAILED) is not None
