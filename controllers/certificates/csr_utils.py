"""What the certificate controllers read in a CertificateSigningRequest: its x509 request, and
whether it has the shape a signer accepts (Kubernetes' ``pkg/apis/certificates/v1/helpers.go``
``ValidateKubeletClientCSR`` / ``IsKubeletServingCSR`` and the signers' own checks).
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.x509.oid import NameOID

from minik8s.api.typed import CertificateSigningRequest
from minik8s.api.wellknown import certificates as csr_api

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

_KUBELET_CLIENT_USAGES = {"key encipherment", "digital signature", "client auth"}
_KUBELET_SERVING_USAGES = {"key encipherment", "digital signature", "server auth"}


class InvalidRequest(ValueError):
    """Raised when a request does not have the shape its signer requires (the message says why)."""


def parse(csr: CertificateSigningRequest) -> x509.CertificateSigningRequest:
    raw = base64.b64decode((csr.get("spec") or {}).get("request") or "")
    try:
        return x509.load_pem_x509_csr(raw)
    except ValueError as e:
        raise InvalidRequest(f"unable to parse the certificate request: {e}") from None


def subject(req: x509.CertificateSigningRequest) -> tuple[str, list[str]]:
    cn = [str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (cn[0] if cn else ""), orgs


def _sans(req: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def serving_names(req: x509.CertificateSigningRequest) -> tuple[list[str], list[str]]:
    """``(dns names, ip addresses)`` of the request's subjectAltName (empty lists without one)."""
    sans = _sans(req)
    if sans is None:
        return [], []
    return list(sans.get_values_for_type(x509.DNSName)), [str(i) for i in sans.get_values_for_type(x509.IPAddress)]


def _node_subject(req: x509.CertificateSigningRequest) -> None:
    cn, orgs = subject(req)
    if orgs != [NODES_GROUP]:
        raise InvalidRequest('subject organization is not system:nodes')
    if not cn.startswith(NODE_USER_PREFIX):
        raise InvalidRequest('subject common name does not begin with system:node:')


def validate_kubelet_client(req: x509.CertificateSigningRequest, usages: list[str]) -> None:
    """A kubelet's client certificate: ``O=system:nodes``, ``CN=system:node:<name>``, no SANs,
    usages within {key encipherment, digital signature, client auth} with the last two."""
    _node_subject(req)
    sans = _sans(req)
    if sans is not None and len(sans):
        raise InvalidRequest("subject alternative names are not allowed")
    if not set(usages) <= _KUBELET_CLIENT_USAGES or not {"digital signature", "client auth"} <= set(usages):
        raise InvalidRequest('usages did not match ["client auth" "digital signature"] or '
                             '["client auth" "digital signature" "key encipherment"]')


def validate_kubelet_serving(req: x509.CertificateSigningRequest, usages: list[str]) -> None:
    _node_subject(req)
    sans = _sans(req)
    if sans is None or not (sans.get_values_for_type(x509.DNSName) or sans.get_values_for_type(x509.IPAddress)):
        raise InvalidRequest("DNS or IP subjectAltName is required")
    if sans.get_values_for_type(x509.RFC822Name) or sans.get_values_for_type(x509.UniformResourceIdentifier):
        raise InvalidRequest("email and URI subjectAltNames are not allowed")
    if not set(usages) <= _KUBELET_SERVING_USAGES or not {"digital signature", "server auth"} <= set(usages):
        raise InvalidRequest('usages did not match ["digital signature" "key encipherment" "server auth"]')


def validate_kube_apiserver_client(req: x509.CertificateSigningRequest, usages: list[str]) -> None:
    if "client auth" not in usages:
        raise InvalidRequest('usages must include "client auth"')
    if not set(usages) <= {"digital signature", "key encipherment", "client auth"}:
        raise InvalidRequest('only "digital signature", "key encipherment" and "client auth" usages are allowed')


#: signer → its check; the csrsigning controller issues for these
VALIDATORS = {
    csr_api.KUBE_APISERVER_CLIENT_KUBELET: validate_kubelet_client,
    csr_api.KUBELET_SERVING: validate_kubelet_serving,
    csr_api.KUBE_APISERVER_CLIENT: validate_kube_apiserver_client,
}
