"""The cluster's public-key infrastructure: a CA and the certificates it signs, as kubeadm and
k3s lay them out in a cert dir (``<data-dir>/pki`` by default).

``minik8s up`` and ``minik8s-apiserver`` (when given no certificates) call
:func:`ensure_control_plane`; the files stay, so a restart or a second apiserver given the
same cert dir shares them. Every private key is written 0600, atomically.

=============================  ===========================================================
``ca.crt`` / ``ca.key``        the cluster CA: signs every certificate below; clients trust it
``apiserver.crt`` / ``.key``   the apiserver's serving certificate (SANs: loopback, localhost,
                               this host's addresses and name, the ``kubernetes`` service
                               names and its ClusterIP 10.96.0.1, ``--tls-san`` extras)
``apiserver-kubelet-client``   the apiserver's client certificate for kubelets
                               (CN ``kube-apiserver-kubelet-client``, O ``system:masters``)
``sa.key`` / ``sa.pub``        the ServiceAccount token signing key pair (RSA 2048)
``admin.crt`` / ``admin.key``  the admin's client certificate (O ``system:masters``)
=============================  ===========================================================

Client certificates carry the user as CN and the groups as O, which is how the apiserver's
x509 authenticator reads them. Keys are ECDSA P-256 (cheap handshakes); the SA key is RSA
because ServiceAccount tokens are RS256 JWTs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minik8s.files import write_private

__all__ = [
    "CA", "KeyPair", "ensure_ca", "ensure_client_cert", "ensure_serving_cert", "ensure_sa_keys",
    "ensure_control_plane", "apiserver_sans", "cert_subject", "write_private", "host_addresses",
    "ControlPlanePKI", "locked", "SERVICE_NAMES", "KUBERNETES_SERVICE_IP",
]

CA_DAYS = 3650  # kubeadm's CA lifetime
LEAF_DAYS = 365  # kubeadm's leaf lifetime
KUBERNETES_SERVICE_IP = "10.96.0.1"
SERVICE_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
# Reissue a leaf this close to its end (k3s renews within 90 days; we keep it simple).
RENEW_BEFORE = datetime.timedelta(days=30)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if isinstance(key, rsa.RSAPrivateKey) \
        else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """A certificate and its key, as PEM, and where they are on disk."""

    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    @property
    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()


class CA:
    """The cluster CA: loads ``ca.crt``/``ca.key`` and signs leaf certificates."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, cert_path: Path) -> None:
        self.cert = cert
        self.key = key
        self.cert_path = cert_path

    @property
    def cert_pem(self) -> bytes:
        return _cert_pem(self.cert)

    def issue(self, common_name: str, organizations: Sequence[str] = (), *, client: bool = False,
              server: bool = False, dns_names: Iterable[str] = (), ips: Iterable[str] = (),
              days: int = LEAF_DAYS) -> tuple[bytes, bytes]:
        """A new key and a certificate for it signed by this CA: ``(cert_pem, key_pem)``."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = _now()
        usages = ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else []) + \
            ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name(names))
                   .issuer_name(self.cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                                content_commitment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dict.fromkeys(dns_names)]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in dict.fromkeys(ips)]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _cert_pem(cert), _key_pem(key)

    def signed(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` was issued by this CA (its signature checks out)."""
        try:
            cert.verify_directly_issued_by(self.cert)
            return True
        except (ValueError, TypeError, InvalidSignature):
            return False


def ensure_ca(cert_dir: str | os.PathLike[str], *, common_name: str = "minik8s-ca") -> CA:
    """Load the CA from ``cert_dir``, making it first when absent."""
    d = Path(cert_dir)
    cert_path, key_path = d / "ca.crt", d / "ca.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey), f"{key_path}: the CA key must be ECDSA"
        return CA(cert, key, cert_path)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    write_private(key_path, _key_pem(key))
    write_private(cert_path, _cert_pem(cert))
    return CA(cert, key, cert_path)


def cert_subject(cert: x509.Certificate) -> tuple[str, list[str]]:
    """``(CN, [O, ...])`` of a certificate: the user and groups it authenticates as."""
    cn = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (str(cn[0]) if cn else ""), orgs


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(ext.get_values_for_type(x509.DNSName)), {str(i) for i in ext.get_values_for_type(x509.IPAddress)}


def _usable(ca: CA, path: Path, key_path: Path) -> x509.Certificate | None:
    """The certificate at ``path`` when it and its key exist, this CA signed it and it is not
    about to expire; else None (to be issued anew)."""
    if not (path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return None
    if not ca.signed(cert) or cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return None
    return cert


def ensure_client_cert(ca: CA, cert_dir: str | os.PathLike[str], name: str, user: str,
                       groups: Sequence[str] = ()) -> KeyPair:
    """``<name>.crt``/``<name>.key``: a client certificate for ``user`` in ``groups``, kept
    when one for the same subject exists."""
    d = Path(cert_dir)
    pair = KeyPair(d / f"{name}.crt", d / f"{name}.key")
    cert = _usable(ca, pair.cert_path, pair.key_path)
    if cert is not None and cert_subject(cert) == (user, list(groups)):
        return pair
    cert_pem, key_pem = ca.issue(user, groups, client=True)
    write_private(pair.key_path, key_pem)
    write_private(pair.cert_path, cert_pem)
    return pair


def ensure_serving_cert(ca: CA, cert_dir: str | os.PathLike[str], name: str, common_name: str, *,
                        dns_names: Iterable[str] = (), ips: Iterable[str] = ()) -> KeyPair:
    """``<name>.crt``/``<name>.key``: a serving certificate whose SANs include every name and
    address asked for; an existing one lacking any is issued anew (as k3s does when the
    host's addresses change)."""
    d = Path(cert_dir)
    pair = KeyPair(d / f"{name}.crt", d / f"{name}.key")
    dns_names, ips = list(dns_names), [str(ipaddress.ip_address(i)) for i in ips]
    cert = _usable(ca, pair.cert_path, pair.key_path)
    if cert is not None:
        have_dns, have_ips = _sans(cert)
        if set(dns_names) <= have_dns and set(ips) <= have_ips:
            return pair
    cert_pem, key_pem = ca.issue(common_name, server=True, dns_names=dns_names, ips=ips)
    write_private(pair.key_path, key_pem)
    write_private(pair.cert_path, cert_pem)
    return pair


def ensure_sa_keys(cert_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``sa.key``/``sa.pub``: the ServiceAccount token signing key pair (RSA 2048, as kubeadm)."""
    d = Path(cert_dir)
    key_path, pub_path = d / "sa.key", d / "sa.pub"
    if key_path.exists() and pub_path.exists():
        return key_path, pub_path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_private(key_path, _key_pem(key))
    write_private(pub_path, pub)
    return key_path, pub_path


def host_addresses() -> list[str]:
    """This host's IPv4 addresses (the primary one first), loopback included."""
    out: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only the routing table is consulted
            out.append(s.getsockname()[0])
        except OSError:
            pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            out.append(str(info[4][0]))
    except OSError:
        pass
    out.append("127.0.0.1")
    return list(dict.fromkeys(out))


def apiserver_sans(extra: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """``(dns_names, ips)`` for the apiserver's serving certificate; ``extra`` holds names or
    addresses (``--tls-san``)."""
    dns = ["localhost", socket.gethostname().lower(), *SERVICE_NAMES]
    ips = [*host_addresses(), KUBERNETES_SERVICE_IP]
    for item in extra:
        try:
            ips.append(str(ipaddress.ip_address(item)))
        except ValueError:
            dns.append(item)
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


@dataclasses.dataclass(frozen=True)
class ControlPlanePKI:
    """Where the control plane's files are (see the module docstring)."""

    cert_dir: Path
    ca: CA
    serving: KeyPair
    kubelet_client: KeyPair
    admin: KeyPair
    sa_key: Path
    sa_pub: Path

    @property
    def ca_path(self) -> Path:
        return self.ca.cert_path


def ensure_control_plane(cert_dir: str | os.PathLike[str], *, extra_sans: Iterable[str] = ()) -> ControlPlanePKI:
    """Every file the control plane needs under ``cert_dir``, made when missing."""
    d = Path(cert_dir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    with locked(d):
        ca = ensure_ca(d)
        dns, ips = apiserver_sans(extra_sans)
        serving = ensure_serving_cert(ca, d, "apiserver", "kube-apiserver", dns_names=dns, ips=ips)
        kubelet_client = ensure_client_cert(ca, d, "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                                            ["system:masters"])
        admin = ensure_client_cert(ca, d, "admin", "kubernetes-admin", ["system:masters"])
        sa_key, sa_pub = ensure_sa_keys(d)
    return ControlPlanePKI(d, ca, serving, kubelet_client, admin, sa_key, sa_pub)


@contextlib.contextmanager
def locked(cert_dir: str | os.PathLike[str]):  # type: ignore[no-untyped-def]
    """Hold ``<cert_dir>/.lock``: two processes sharing a cert dir never make two CAs."""
    d = Path(cert_dir)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
