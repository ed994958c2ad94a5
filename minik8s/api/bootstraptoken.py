"""Bootstrap tokens as Kubernetes stores them (``k8s.io/cluster-bootstrap/token/api``): a token
``<id>.<secret>`` (6 and 16 of ``[a-z0-9]``) is the Secret ``kube-system/bootstrap-token-<id>``
of type ``bootstrap.kubernetes.io/token``. Shared by ``minik8s up`` (which makes one) and the
apiserver's authenticator (which checks it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from typing import Any

from minik8s.timestamps import in_seconds

TOKEN_PATTERN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
USER_PREFIX = "system:bootstrap:"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_token() -> str:
    """A fresh random ``<id>.<secret>`` (kubeadm's ``GenerateBootstrapToken``)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(6)) + "." + \
        "".join(secrets.choice(_ALPHABET) for _ in range(16))


def secret_for(token: str, *, ttl_seconds: float | None, description: str = "",
               extra_groups: Sequence[str] = (), usages: Sequence[str] = ("authentication", "signing")) -> dict[str, Any]:
    """The Secret that makes ``token`` valid (as ``kubeadm token create`` writes it)."""
    m = TOKEN_PATTERN.match(token)
    if m is None:
        raise ValueError("a bootstrap token is <6 of [a-z0-9]>.<16 of [a-z0-9]>")
    data: dict[str, str] = {"token-id": m.group(1), "token-secret": m.group(2)}
    if description:
        data["description"] = description
    if ttl_seconds:
        data["expiration"] = in_seconds(ttl_seconds)
    for u in usages:
        data[f"usage-bootstrap-{u}"] = "true"
    if extra_groups:
        data["auth-extra-groups"] = ",".join(extra_groups)
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET_PREFIX + m.group(1), "namespace": NAMESPACE}, "stringData": data}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def detached_signature(content: str, token_id: str, token_secret: str) -> str:
    """The compact JWS of ``content`` with its payload left out (``header..signature``), HS256
    keyed by the whole token and ``kid`` the token id, as Kubernetes' bootstrap signer makes it
    (the 23-byte key is the token format's, shorter than RFC 7518 recommends)."""
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    signing_input = f"{header}.{_b64url(content.encode())}".encode()
    sig = hmac.new(f"{token_id}.{token_secret}".encode(), signing_input, hashlib.sha256).digest()
    return f"{header}..{_b64url(sig)}"


def verify_detached_signature(content: str, signature: str, token: str) -> bool:
    """Whether ``signature`` (``header..sig``) signs ``content`` with ``token`` (constant time)."""
    m = TOKEN_PATTERN.match(token)
    if m is None:
        return False
    return hmac.compare_digest(detached_signature(content, m.group(1), m.group(2)), signature)
