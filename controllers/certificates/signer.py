"""csrsigning: issues the certificates of approved requests for Kubernetes' built-in signers
with the cluster CA, as kube-controller-manager's ``pkg/controller/certificates/signer`` does.

Signers: ``kubernetes.io/kube-apiserver-client-kubelet``, ``kubernetes.io/kubelet-serving`` and
``kubernetes.io/kube-apiserver-client``, each checking the request's shape first
(:mod:`controllers.certificates.csr_utils`); a request that fails gets a ``Failed`` condition
(reason ``SignerValidationFailure``) instead of a certificate. An issued certificate carries
the request's subject, key and SANs, the requested usages, is backdated five minutes, and lives
``--cluster-signing-duration`` (one year) or ``spec.expirationSeconds`` if shorter, never past
the CA's own end. The CA is ``--cluster-signing-cert-file`` / ``--cluster-signing-key-file``
(``minik8s up`` passes the cluster's ``pki/ca.crt`` and ``ca.key``); without them the
controller is not started.
"""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from controllers.base import Controller
from controllers.certificates import csr_utils
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import CERTIFICATESIGNINGREQUESTS
from minik8s.api.wellknown import certificates as csr_api
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

DEFAULT_DURATION = 365 * 24 * 3600.0
BACKDATE = datetime.timedelta(minutes=5)
_EKU = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
        "code signing": ExtendedKeyUsageOID.CODE_SIGNING, "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
        "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING}


class SigningCA:
    """The CA certificate and key the signer issues with."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise ValueError("the cluster signing key must be RSA or ECDSA")
        self.key = key

    @classmethod
    def from_files(cls, cert_file: str, key_file: str) -> SigningCA:
        with open(cert_file, "rb") as c, open(key_file, "rb") as k:
            return cls(c.read(), k.read())

    def issue(self, req: x509.CertificateSigningRequest, usages: list[str], *, duration: float) -> bytes:
        now = datetime.datetime.now(datetime.UTC)
        not_after = min(now + datetime.timedelta(seconds=duration), self.cert.not_valid_after_utc)
        u = set(usages)
        key_usage = x509.KeyUsage(
            digital_signature="digital signature" in u or "signing" in u, content_commitment="content commitment" in u,
            key_encipherment="key encipherment" in u, data_encipherment="data encipherment" in u,
            key_agreement="key agreement" in u, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False)
        builder = (x509.CertificateBuilder().subject_name(req.subject).issuer_name(self.cert.subject)
                   .public_key(req.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - BACKDATE).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(key_usage, critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        ekus = [_EKU[x] for x in usages if x in _EKU]
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        try:
            sans = req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            builder = builder.add_extension(sans, critical=False)
        except x509.ExtensionNotFound:
            pass
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class CSRSigningController(Controller):
    name = "csrsigning"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, ca: SigningCA,
                 duration: float = DEFAULT_DURATION, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.ca = ca
        self.duration = duration
        self.csr_informer = informers.informer(CERTIFICATESIGNINGREQUESTS)
        self.informers = [self.csr_informer]
        self.csr_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur))

    async def sync(self, key: str) -> None:
        cached = self.csr_informer.store.get(key)
        if cached is None:
            return
        csr = typed.certificate_signing_request(cached)
        spec, status = csr.get("spec") or {}, csr.get("status") or {}
        validate = csr_utils.VALIDATORS.get(spec.get("signerName") or "")
        if validate is None or status.get("certificate") or not csr_api.is_approved(csr) \
                or csr_api.condition(csr, csr_api.FAILED):
            return
        usages = spec.get("usages") or []
        try:
            req = csr_utils.parse(csr)
            validate(req, usages)
        except csr_utils.InvalidRequest as e:
            failed = {"type": csr_api.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": str(e)}
            new_status = {**status, "conditions": [*(status.get("conditions") or []), failed]}
            log.info("csrsigning: %s fails validation: %s", key, e)
        else:
            duration = self.duration
            if spec.get("expirationSeconds"):
                duration = min(duration, float(spec["expirationSeconds"]))
            cert = self.ca.issue(req, usages, duration=duration)
            new_status = {**status, "certificate": base64.b64encode(cert).decode()}
            log.info("csrsigning: issued %s for %s", key, spec.get("signerName"))
        try:
            await self.client.update_status(CERTIFICATESIGNINGREQUESTS, {**cached, "status": new_status})
        except errors.NotFound:
            return
