"""How a node joins with a bootstrap token, as ``kubeadm join`` and the kubelet's TLS bootstrap
do it, without ever holding the admin's credentials:

1. **Discovery** (:func:`discover_ca`): read the public ``kube-public/cluster-info`` ConfigMap
   (anonymous, over TLS without verification: nothing is trusted yet), check the detached JWS
   the bootstrap signer put there for this token (the cluster knows the token), take the CA
   from the kubeconfig it holds, and trust it only if its public key matches the pin given with
   ``--discovery-token-ca-cert-hash sha256:<hex>`` (:func:`ca_hash`: SHA-256 over the CA's
   DER SubjectPublicKeyInfo, kubeadm's format).
2. **TLS bootstrap** (:func:`request_client_certificate`): make a key, send a
   CertificateSigningRequest for ``CN=system:node:<name>, O=system:nodes`` to the
   ``kubernetes.io/kube-apiserver-client-kubelet`` signer, authenticated by the bootstrap
   token (``system:bootstrappers``), and wait until the controller-manager's csrapproving and
   csrsigning controllers approve and issue it. The node then talks to the cluster with its
   own certificate.

:func:`publish` is the ``minik8s up`` half: the bootstrap token Secret, the ``cluster-info``
ConfigMap and the Role/RoleBinding that let anonymous clients read it (kubeadm's
``bootstrap-token`` phase).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import tempfile
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from minik8s import csr_request, errors
from minik8s.api import bootstraptoken
from minik8s.api.resources import (
    CONFIGMAPS,
    ROLEBINDINGS,
    ROLES,
    SECRETS,
)
from minik8s.client import kubeconfig
from minik8s.client.rest import ApiClient

__all__ = ["JoinError", "ca_hash", "client_for", "discover_ca", "request_client_certificate", "publish"]

CLUSTER_INFO = "cluster-info"
PUBLIC_NAMESPACE = "kube-public"
CLUSTER_INFO_ROLE = "kubeadm:bootstrap-signer-clusterinfo"
JWS_PREFIX = "jws-kubeconfig-"
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
DEFAULT_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
TOKEN_TTL_SECONDS = 24 * 3600  # kubeadm's default --token-ttl


class JoinError(Exception):
    """Raised when discovery or the TLS bootstrap cannot go on (the message says why)."""


def ca_hash(ca_pem: bytes) -> str:
    """``sha256:<hex>`` of the CA certificate's public key (DER SubjectPublicKeyInfo)."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def client_for(server: str, **creds: Any) -> tuple[ApiClient, str]:
    """A client for ``server`` with ``creds`` (kubeconfig.write's), through a temporary
    kubeconfig the caller removes (its path is returned)."""
    fd, path = tempfile.mkstemp(prefix="minik8s-join-", suffix=".kubeconfig")
    os.close(fd)
    kubeconfig.write(path, server, **creds)
    return ApiClient.from_kubeconfig(path, timeout=10.0, user_agent="minik8s-join"), path


async def discover_ca(server: str, token: str, pins: list[str], *, timeout: float = 60.0) -> bytes:
    """The cluster CA (PEM), read from ``cluster-info`` once it is signed with ``token`` (the
    cluster knows the token: the bootstrap signer may take a moment) and checked against
    ``pins``."""
    m = bootstraptoken.TOKEN_PATTERN.match(token)
    if m is None:
        raise JoinError("--token must be a bootstrap token: <6 of [a-z0-9]>.<16 of [a-z0-9]>")
    client, path = client_for(server, insecure_skip_tls_verify=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with client:
            while True:
                try:
                    cm = await client.get(CONFIGMAPS, CLUSTER_INFO, namespace=PUBLIC_NAMESPACE)
                except errors.MiniK8sError as e:
                    raise JoinError(f"cannot read {PUBLIC_NAMESPACE}/{CLUSTER_INFO} from {server}: {e}") from None
                data = cm.get("data") or {}
                sig = data.get(JWS_PREFIX + m.group(1))
                if sig is not None:
                    break
                if loop.time() > deadline:
                    raise JoinError(f"{PUBLIC_NAMESPACE}/{CLUSTER_INFO} is not signed for token id {m.group(1)}: "
                                    "the cluster does not know this token")
                await asyncio.sleep(1.0)
    finally:
        os.unlink(path)
    content = data.get("kubeconfig") or ""
    if not bootstraptoken.verify_detached_signature(content, sig, token):
        raise JoinError(f"{PUBLIC_NAMESPACE}/{CLUSTER_INFO}'s signature does not match the token: refusing to "
                        "trust it")
    try:
        doc = yaml.safe_load(content)
        ca = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
        found = ca_hash(ca)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise JoinError(f"{PUBLIC_NAMESPACE}/{CLUSTER_INFO} holds no usable CA: {e}") from None
    if found not in pins:
        raise JoinError(f"cluster CA found in {CLUSTER_INFO} ({found}) does not match the "
                        f"--discovery-token-ca-cert-hash given ({', '.join(pins)})")
    return ca


async def request_client_certificate(server: str, ca_pem: bytes, token: str, node: str, *,
                                     timeout: float = 120.0) -> tuple[bytes, bytes]:
    """``(cert_pem, key_pem)`` of the node's client certificate, issued through the API."""
    request, key_pem = csr_request.new_request(f"system:node:{node}", ["system:nodes"])
    client, path = client_for(server, token=token, ca_data=ca_pem)
    try:
        async with client:
            cert = await csr_request.request_certificate(client, request, signer=KUBELET_SIGNER,
                                                         usages=["digital signature", "client auth"],
                                                         generate_name="node-csr-", timeout=timeout)
    except csr_request.CSRFailed as e:
        raise JoinError(str(e)) from None
    finally:
        os.unlink(path)
    return cert, key_pem


async def publish(client: ApiClient, server: str, ca_pem: bytes, token: str, *,
                  ttl_seconds: float = TOKEN_TTL_SECONDS) -> None:
    """Make ``token`` a bootstrap token and publish ``cluster-info`` for discovery (``up``),
    each kept when it exists (a restarted ``up`` keeps its token)."""
    secret = bootstraptoken.secret_for(token, ttl_seconds=ttl_seconds, extra_groups=[DEFAULT_TOKEN_GROUP],
                                       description="The bootstrap token minik8s up prints for minik8s join.")
    info_kc = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "preferences": {}, "users": None,
                              "contexts": None, "current-context": "",
                              "clusters": [{"name": "", "cluster": {
                                  "server": server,
                                  "certificate-authority-data": base64.b64encode(ca_pem).decode()}}]})
    objects = [
        (SECRETS, secret, bootstraptoken.NAMESPACE),
        (CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CLUSTER_INFO},
                      "data": {"kubeconfig": info_kc}}, PUBLIC_NAMESPACE),
        (ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                 "metadata": {"name": CLUSTER_INFO_ROLE},
                 "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [CLUSTER_INFO],
                            "verbs": ["get"]}]}, PUBLIC_NAMESPACE),
        (ROLEBINDINGS, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": {"name": CLUSTER_INFO_ROLE},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CLUSTER_INFO_ROLE},
                        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                      "name": "system:anonymous"}]}, PUBLIC_NAMESPACE),
    ]
    for rt, obj, ns in objects:
        try:
            await client.create(rt, obj, namespace=ns)
        except errors.AlreadyExists:
            if rt is CONFIGMAPS:  # the server's address or CA may have changed
                current = await client.get(CONFIGMAPS, CLUSTER_INFO, namespace=PUBLIC_NAMESPACE)
                if current.get("data") != obj["data"]:
                    await client.update(CONFIGMAPS, {**current, "data": obj["data"]})


def main(argv: list[str] | None = None) -> None:
    """``python -m minik8s.up.tlsbootstrap URL --token T --discovery-token-ca-cert-hash H
    --node-name N --kubeconfig OUT``: discovery and the TLS bootstrap alone (what ``minik8s
    join`` does before it starts the node), writing the node's kubeconfig to OUT."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m minik8s.up.tlsbootstrap")
    p.add_argument("url")
    p.add_argument("--token", required=True)
    p.add_argument("--discovery-token-ca-cert-hash", action="append", required=True)
    p.add_argument("--node-name", required=True)
    p.add_argument("--kubeconfig", required=True)
    a = p.parse_args(argv)

    async def run() -> tuple[bytes, bytes, bytes]:
        ca = await discover_ca(a.url, a.token, a.discovery_token_ca_cert_hash)
        cert, key = await request_client_certificate(a.url, ca, a.token, a.node_name)
        return ca, cert, key

    try:
        ca, cert, key = asyncio.run(run())
    except JoinError as e:
        sys.exit(f"tlsbootstrap: {e}")
    kubeconfig.write(a.kubeconfig, a.url, ca_data=ca, client_cert_data=cert, client_key_data=key)


if __name__ == "__main__":
    main()
