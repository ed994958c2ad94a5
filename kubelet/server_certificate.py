"""The node API's serving certificate from the cluster, as Kubernetes' kubelet gets it with
``serverTLSBootstrap`` / ``--rotate-server-certificates`` (``pkg/kubelet/certificate``).

A kubelet that joined with a bootstrap token holds a client certificate but no serving
certificate the apiserver trusts. With ``--rotate-server-certificates`` it asks for one with
its own client credentials: a CertificateSigningRequest to ``kubernetes.io/kubelet-serving``,
``CN=system:node:<node>``, ``O=system:nodes``, usages digital signature, key encipherment and
server auth, SANs the node's addresses (its Hostname as a DNS name, its InternalIP). The
controller-manager's csrapproving approves it only for that node and those addresses, and
csrsigning issues it with the cluster CA.

The pair is kept under ``--cert-dir`` (``kubelet-server.crt`` / ``.key``, 0600) and used again
after a restart while it names the same addresses and is not in the last part of its life. A
running kubelet renews it at a jittered 70-90% of its lifetime (client-go's certificate
manager's deadline) and loads the new pair into the server's TLS context, so new connections
get it without a restart.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minik8s import csr_request, pki
from minik8s.client.rest import ApiClient

__all__ = ["KUBELET_SERVING_SIGNER", "USAGES", "ServingCertificate"]

log = logging.getLogger(__name__)

KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
USAGES = ["digital signature", "key encipherment", "server auth"]
_RETRY_S = 10.0


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ServingCertificate:
    """The serving pair of node ``node`` (``client``: the kubelet's ApiClient)."""

    def __init__(self, client: ApiClient, *, node: str, cert_dir: str, hostname: str, ips: list[str],
                 ca_file: str | None = None) -> None:
        self.client = client
        self.node = node
        self.hostname = hostname
        self.ips = list(dict.fromkeys(ips))
        self.ca_file = ca_file
        self.pair = pki.KeyPair(Path(cert_dir) / "kubelet-server.crt", Path(cert_dir) / "kubelet-server.key")

    @property
    def paths(self) -> tuple[str, str]:
        return str(self.pair.cert_path), str(self.pair.key_path)

    def _load(self) -> Any:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature

        if not (self.pair.cert_path.exists() and self.pair.key_path.exists()):
            return None
        try:
            cert = x509.load_pem_x509_certificate(self.pair.cert_pem)
            if self.ca_file:
                with open(self.ca_file, "rb") as f:
                    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(f.read()))
        except (ValueError, TypeError, OSError, InvalidSignature):  # an unusable file is replaced
            return None
        return cert

    def _names_match(self, cert: Any) -> bool:
        from cryptography import x509

        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        dns = set(sans.get_values_for_type(x509.DNSName))
        ips = {str(i) for i in sans.get_values_for_type(x509.IPAddress)}
        return dns == {self.hostname} and ips == {str(ipaddress.ip_address(i)) for i in self.ips} \
            and pki.cert_subject(cert) == (f"system:node:{self.node}", ["system:nodes"])

    @staticmethod
    def renew_at(cert: Any) -> datetime.datetime:
        """A jittered 70-90% of the certificate's lifetime, as client-go's manager schedules it."""
        start: datetime.datetime = cert.not_valid_before_utc
        end: datetime.datetime = cert.not_valid_after_utc
        return start + (end - start) * (0.7 + 0.2 * random.random())

    def usable(self) -> Any:
        """The stored certificate when it can be served now (else None)."""
        cert = self._load()
        if cert is None or not self._names_match(cert):
            return None
        if _now() >= cert.not_valid_after_utc - (cert.not_valid_after_utc - cert.not_valid_before_utc) * 0.1:
            return None
        return cert

    async def request(self) -> Any:
        """Ask the cluster for a new pair and store it; the new certificate."""
        from cryptography import x509

        request, key_pem = await asyncio.to_thread(
            csr_request.new_request, f"system:node:{self.node}", ["system:nodes"],
            dns_names=[self.hostname], ips=self.ips)
        cert_pem = await csr_request.request_certificate(self.client, request, signer=KUBELET_SERVING_SIGNER,
                                                         usages=USAGES, generate_name="csr-", timeout=300.0)
        os.makedirs(self.pair.cert_path.parent, exist_ok=True)
        pki.write_private(self.pair.key_path, key_pem)
        pki.write_private(self.pair.cert_path, cert_pem)
        log.info("serving certificate for node %s issued (SANs %s, %s)", self.node, self.hostname, ", ".join(self.ips))
        return x509.load_pem_x509_certificate(cert_pem)

    async def ensure(self) -> Any:
        """The certificate to serve: the stored one when usable, else a new one (retried until issued)."""
        cert = await asyncio.to_thread(self.usable)
        while cert is None:
            try:
                cert = await self.request()
            except csr_request.CSRFailed as e:
                log.warning("serving certificate for node %s: %s; asking again in %.0fs", self.node, e, _RETRY_S)
                await asyncio.sleep(_RETRY_S)
        return cert

    async def rotate(self, cert: Any, reload: Callable[[str, str], None]) -> None:
        """Renew ``cert`` before it expires, forever; ``reload(cert_file, key_file)`` serves the new pair."""
        while True:
            wait = (self.renew_at(cert) - _now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, 3600.0))
                continue
            try:
                cert = await self.request()
            except csr_request.CSRFailed as e:
                log.warning("renewing the serving certificate of node %s: %s", self.node, e)
                await asyncio.sleep(_RETRY_S)
                continue
            reload(*self.paths)
