"""Getting a certificate from the cluster through a CertificateSigningRequest, as client-go's
``certificate/csr`` helpers do for the kubelet's TLS bootstrap and certificate rotation: make a
key and a PKCS#10 request, create the CSR for a signer, and wait until the controller-manager
(or a person: ``kubectl certificate approve``) approves it and the signer issues the
certificate. Used by ``minik8s join`` (the node's client certificate, with a bootstrap token)
and by the kubelet (its serving certificate, with its own client certificate).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minik8s import errors
from minik8s.api.resources import CERTIFICATESIGNINGREQUESTS

__all__ = ["CSRFailed", "new_request", "request_certificate"]


class CSRFailed(Exception):
    """Raised when the request was refused, denied, failed or not issued in time (the message says which)."""


def new_request(common_name: str, organizations: Iterable[str], *, dns_names: Iterable[str] = (),
                ips: Iterable[str] = ()) -> tuple[bytes, bytes]:
    """``(request_pem, key_pem)``: a fresh P-256 key and its signed request for that subject and SANs."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    req = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return req.public_bytes(serialization.Encoding.PEM), key_pem


async def request_certificate(client: Any, request_pem: bytes, *, signer: str, usages: list[str],
                              generate_name: str, timeout: float = 120.0, poll: float = 0.5) -> bytes:
    """The issued certificate (PEM) of a new CSR for ``request_pem`` (``client``: an ApiClient)."""
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": generate_name},
            "spec": {"request": base64.b64encode(request_pem).decode(), "signerName": signer, "usages": usages}}
    try:
        created = await client.create(CERTIFICATESIGNINGREQUESTS, body)
    except errors.MiniK8sError as e:
        raise CSRFailed(f"the apiserver refused the certificate request: {e}") from None
    name = created["metadata"]["name"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        csr = await client.get(CERTIFICATESIGNINGREQUESTS, name)
        status = csr.get("status") or {}
        cert = status.get("certificate")
        if cert:
            return base64.b64decode(cert)
        for c in status.get("conditions") or []:
            if c.get("type") in ("Denied", "Failed"):
                raise CSRFailed(f"certificate request {name} {c['type'].lower()}: {c.get('message') or ''}")
        if loop.time() > deadline:
            raise CSRFailed(f"certificate request {name} was not issued within {timeout:.0f}s "
                            f"(approve it with: kubectl certificate approve {name})")
        await asyncio.sleep(poll)
