"""The control plane's shared secrets, handed to a joining control-plane host as kubeadm's
``init phase upload-certs`` and ``join --control-plane --certificate-key`` do it.

Every apiserver, scheduler and controller-manager of one cluster needs the same cluster CA (its
key too: each host issues its own serving and client certificates, and the controller-manager
signs CSRs), the same ServiceAccount signing key pair, the same encryption-at-rest key, and the
etcd cluster's address. ``minik8s up --etcd`` (:func:`upload`) puts them in the Secret
``kube-system/minik8s-certs``, each value encrypted with AES-256-GCM (a random nonce before the
ciphertext, as kubeadm's ``kubeadm-certs``) under a *certificate key*: 32 random bytes, printed
hex-encoded by ``up`` and never stored in the cluster. The Secret is readable by the bootstrap
tokens' group (a Role and RoleBinding, as kubeadm grants its ``kubeadm-certs``) and owned by
the bootstrap token's Secret, so it is garbage-collected when the token expires.

``minik8s join --control-plane`` (:func:`fetch`) finds the CA through token discovery
(:mod:`minik8s.up.tlsbootstrap`), reads the Secret with the bootstrap token over TLS verified
with that CA, decrypts it with ``--certificate-key`` and writes the files where ``up`` keeps
them, so the rest of the host's start is ``up``'s. What is honest about it: whoever holds the
token and the certificate key while the token lives holds the cluster CA's key, exactly as with
kubeadm; the Secret itself (encrypted at rest as every Secret) is useless without the key.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minik8s import errors, pki
from minik8s.api import bootstraptoken
from minik8s.api.resources import ROLEBINDINGS, ROLES, SECRETS
from minik8s.client.rest import ApiClient
from minik8s.up import encryption_config, tlsbootstrap

__all__ = ["SECRET", "fetch", "new_key", "upload", "encrypt", "decrypt"]

SECRET = "minik8s-certs"
NAMESPACE = "kube-system"
ROLE = "minik8s:minik8s-certs"
#: Files of ``<data-dir>/pki`` a control-plane host needs as they are (the rest it issues itself).
PKI_FILES = ("ca.crt", "ca.key", "sa.key", "sa.pub")
ENCRYPTION_KEY = "encryption-config.yaml"
ETCD_KEY = "etcd-servers"
_NONCE = 12


def new_key() -> str:
    """A fresh certificate key: 32 random bytes, hex-encoded (kubeadm's format)."""
    return os.urandom(32).hex()


def _aead(key_hex: str) -> AESGCM:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise tlsbootstrap.JoinError("--certificate-key must be 64 hex digits (the key minik8s up printed)")
    return AESGCM(key)


def encrypt(key_hex: str, data: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + _aead(key_hex).encrypt(nonce, data, None)


def decrypt(key_hex: str, blob: bytes) -> bytes:
    try:
        return _aead(key_hex).decrypt(blob[:_NONCE], blob[_NONCE:], None)
    except InvalidTag:
        raise tlsbootstrap.JoinError(f"{NAMESPACE}/{SECRET} does not decrypt with this --certificate-key") from None


def _bundle(cert_dir: Path, data_dir: Path, etcd_servers: str) -> dict[str, bytes]:
    files = {name: (cert_dir / name).read_bytes() for name in PKI_FILES}
    files[ENCRYPTION_KEY] = encryption_config.path_of(data_dir).read_bytes()
    files[ETCD_KEY] = etcd_servers.encode()
    return files


async def upload(client: ApiClient, cert_dir: Path, data_dir: Path, etcd_servers: str, key_hex: str, token: str) -> None:
    """Put the encrypted bundle in ``kube-system/minik8s-certs`` (replacing an older one: a new
    key each ``up``), readable by bootstrap tokens, owned by ``token``'s Secret."""
    files = await asyncio.to_thread(_bundle, cert_dir, data_dir, etcd_servers)
    token_id = token.partition(".")[0]
    owner = await client.get(SECRETS, bootstraptoken.SECRET_PREFIX + token_id, namespace=bootstraptoken.NAMESPACE)
    secret: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": SECRET, "namespace": NAMESPACE, "ownerReferences": [{
            "apiVersion": "v1", "kind": "Secret", "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
        "data": {name: base64.b64encode(encrypt(key_hex, data)).decode() for name, data in files.items()},
    }
    group = tlsbootstrap.DEFAULT_TOKEN_GROUP
    for rt, obj in (
        (ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": ROLE},
                 "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [SECRET],
                            "verbs": ["get"]}]}),
        (ROLEBINDINGS, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": {"name": ROLE},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
                        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}),
    ):
        try:
            await client.create(rt, obj, namespace=NAMESPACE)
        except errors.AlreadyExists:
            pass
    try:
        await client.create(SECRETS, secret, namespace=NAMESPACE)
    except errors.AlreadyExists:
        current = await client.get(SECRETS, SECRET, namespace=NAMESPACE)
        current["data"] = secret["data"]
        current["metadata"]["ownerReferences"] = secret["metadata"]["ownerReferences"]
        await client.update(SECRETS, current)


async def _download(server: str, ca_pem: bytes, token: str) -> dict[str, bytes]:
    client, path = tlsbootstrap.client_for(server, token=token, ca_data=ca_pem)
    try:
        async with client:
            secret = await client.get(SECRETS, SECRET, namespace=NAMESPACE)
    except errors.NotFound:
        raise tlsbootstrap.JoinError(f"{NAMESPACE}/{SECRET} does not exist (it is uploaded by minik8s up --etcd, "
                                     "and deleted with the token it was uploaded with)") from None
    except errors.MiniK8sError as e:
        raise tlsbootstrap.JoinError(f"cannot read {NAMESPACE}/{SECRET} from {server}: {e}") from None
    finally:
        os.unlink(path)
    return {name: base64.b64decode(value) for name, value in (secret.get("data") or {}).items()}


def fetch(server: str, token: str, pins: list[str], key_hex: str, cert_dir: Path, data_dir: Path) -> str:
    """``join --control-plane``: discover and pin the CA, read and decrypt the bundle, write the
    PKI files and the encryption configuration (0600); returns the etcd servers it names."""
    _aead(key_hex)  # a malformed key is refused before anything is asked

    async def run() -> dict[str, bytes]:
        ca = await tlsbootstrap.discover_ca(server, token, pins)
        return await _download(server, ca, token)

    sealed = asyncio.run(run())
    missing = [name for name in (*PKI_FILES, ENCRYPTION_KEY, ETCD_KEY) if name not in sealed]
    if missing:
        raise tlsbootstrap.JoinError(f"{NAMESPACE}/{SECRET} lacks {', '.join(missing)}")
    files = {name: decrypt(key_hex, sealed[name]) for name in (*PKI_FILES, ENCRYPTION_KEY, ETCD_KEY)}
    cert_dir.mkdir(parents=True, exist_ok=True)
    for name in PKI_FILES:
        pki.write_private(cert_dir / name, files[name])
    pki.write_private(encryption_config.path_of(data_dir), files[ENCRYPTION_KEY])
    return files[ETCD_KEY].decode()
