"""ServiceAccount tokens: RS256 JWTs the apiserver signs and checks (Kubernetes'
``pkg/serviceaccount``: ``jwt.go`` and ``claims.go``).

A token's claims, as Kubernetes writes them::

    {"iss": <issuer>, "sub": "system:serviceaccount:<ns>:<name>", "aud": [...],
     "iat": now, "nbf": now, "exp": now + expirationSeconds, "jti": <uuid>,
     "kubernetes.io": {"namespace": ns, "serviceaccount": {"name", "uid"},
                       "pod": {"name", "uid"} | "secret": {...} | "node": {...},
                       "node": {...} (the pod's node, for a pod-bound token),
                       "warnafter": <unix time> (only for an extended token)}}

The header's ``kid`` is the unpadded base64url SHA-256 of the public key's DER
(SubjectPublicKeyInfo), as Kubernetes computes it, so a verifier picks the right key.

:class:`TokenIssuer` signs with ``sa.key`` (``--service-account-signing-key-file``);
:class:`TokenValidator` checks the signature against every key of ``sa.pub``
(``--service-account-key-file``), the issuer, the audiences and the times (one minute of
leeway, go-jose's), then that the bound objects still exist with the same uid and are not
being deleted for more than that leeway (a deleted pod, secret, node or ServiceAccount
invalidates the token at once). What it returns is the user the token authenticates as:
``system:serviceaccount:<ns>:<name>`` in ``system:serviceaccounts`` and
``system:serviceaccounts:<ns>``, uid the account's, with the pod, node and token id as extras.

The key files are laid out as kubeadm does (``<cert-dir>/sa.key``, ``<cert-dir>/sa.pub``, RSA
2048, PEM), made with the cluster's PKI (:func:`minik8s.pki.ensure_sa_keys`).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver.auth.user import SERVICEACCOUNTS, UserInfo
from minik8s.api.wellknown import serviceaccounts as sa_api
from minik8s.timestamps import to_unix

__all__ = [
    "DEFAULT_ISSUER", "EXPIRATION_EXTENSION_SECONDS", "LEEWAY", "TokenInvalid", "TokenIssuer",
    "TokenValidator", "ServiceAccountInfo", "Bound", "key_id", "load_private_key",
    "load_public_keys", "looks_like_jwt",
]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: the issuer of legacy tokens kept in ``kubernetes.io/service-account-token`` Secrets (the
#: controller-manager's tokens controller writes them); always accepted, as Kubernetes does
LEGACY_ISSUER = "kubernetes/serviceaccount"
_LEGACY = "kubernetes.io/serviceaccount/"
#: how long a "warn only" token (the kubelet's default request) really lives
EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60
#: clock skew tolerated, and how long a deleted bound object keeps its tokens valid (go-jose's)
LEEWAY = 60
# Extras Kubernetes puts on a ServiceAccount user (k8s.io/apiserver/pkg/authentication/serviceaccount).
EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"
EXTRA_NODE_NAME = "authentication.kubernetes.io/node-name"
EXTRA_NODE_UID = "authentication.kubernetes.io/node-uid"
EXTRA_CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class TokenInvalid(Exception):
    """Raised by :class:`TokenValidator` for a token it issued that is not (or no longer) good:
    expired, wrong audience, bad signature, or bound to an object that is gone."""


# --- keys ------------------------------------------------------------------------------------


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError(f"{path}: the ServiceAccount signing key must be RSA or ECDSA")
    return key


def load_public_keys(path: str | os.PathLike[str]) -> list[PublicKey]:
    """Every public key in a PEM file: public keys, or private keys (their public half), as
    ``--service-account-key-file`` accepts."""
    data = Path(path).read_bytes()
    keys: list[PublicKey] = []
    for block in data.split(b"-----END ")[:-1]:
        start = block.rfind(b"-----BEGIN ")
        if start < 0:
            continue
        label = block[start + 11:block.index(b"-----", start + 11)]
        pem = block[start:] + b"-----END " + label + b"-----\n"
        if b"PRIVATE" in label:
            key: Any = serialization.load_pem_private_key(pem, password=None).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
        if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no RSA or ECDSA key found")
    return keys


def key_id(public: PublicKey) -> str:
    """Kubernetes' key id: unpadded base64url of SHA-256 over the DER SubjectPublicKeyInfo."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


# --- issuing ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Bound:
    """An object a token is bound to: its kind (``Pod``, ``Secret``, ``Node``), name and uid."""

    kind: str
    name: str
    uid: str


class TokenIssuer:
    """Signs ServiceAccount tokens (``TokenGenerator``)."""

    def __init__(self, key: PrivateKey, issuer: str = DEFAULT_ISSUER, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.issuer = issuer
        self.kid = key_id(key.public_key())
        self.algorithm = _algorithm(key)
        self.clock = clock  # for tests

    def issue(self, sa: dict[str, Any], *, audiences: Sequence[str], expiration_seconds: int,
              bound: Bound | None = None, node: Bound | None = None, warn_after: int = 0) -> tuple[str, int]:
        """A signed token for ServiceAccount ``sa``; returns ``(token, exp)`` (unix seconds).

        ``node``: the node of a pod-bound token's pod. ``warn_after``: seconds after which the
        token counts as stale (an extended token), 0 for none."""
        now = int(self.clock())
        md = sa["metadata"]
        k8s: dict[str, Any] = {"namespace": md["namespace"],
                               "serviceaccount": {"name": md["name"], "uid": md["uid"]}}
        if bound is not None:
            k8s[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
        if node is not None and (bound is None or bound.kind != "Node"):
            k8s["node"] = {"name": node.name, "uid": node.uid}
        if warn_after:
            k8s["warnafter"] = now + warn_after
        exp = now + expiration_seconds
        claims = {"aud": list(audiences), "exp": exp, "iat": now, "iss": self.issuer,
                  "jti": str(uuid.uuid4()), "kubernetes.io": k8s, "nbf": now,
                  "sub": sa_api.username(md["namespace"], md["name"])}
        token = jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid})
        return token, exp


# --- validating ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceAccountInfo:
    """Who a valid token speaks for (``serviceaccount.ServiceAccountInfo``)."""

    namespace: str
    name: str
    uid: str
    pod_name: str = ""
    pod_uid: str = ""
    node_name: str = ""
    node_uid: str = ""
    credential_id: str = ""
    audiences: tuple[str, ...] = ()

    def user(self) -> UserInfo:
        extras: list[tuple[str, tuple[str, ...]]] = []
        if self.pod_name:
            extras += [(EXTRA_POD_NAME, (self.pod_name,)), (EXTRA_POD_UID, (self.pod_uid,))]
        if self.node_name:
            extras.append((EXTRA_NODE_NAME, (self.node_name,)))
            if self.node_uid:
                extras.append((EXTRA_NODE_UID, (self.node_uid,)))
        if self.credential_id:
            extras.append((EXTRA_CREDENTIAL_ID, (self.credential_id,)))
        return UserInfo(name=sa_api.username(self.namespace, self.name), uid=self.uid,
                        groups=(SERVICEACCOUNTS, f"{SERVICEACCOUNTS}:{self.namespace}"), extras=tuple(extras))


#: ``(plural, namespace or "", name)`` → the object as stored, or None
Getter = Callable[[str, str, str], Awaitable[dict[str, Any] | None]]


class TokenValidator:
    """Checks tokens this cluster issued (``jwtTokenAuthenticator`` + the claims validator)."""

    def __init__(self, keys: Sequence[PublicKey], *, issuers: Sequence[str], audiences: Sequence[str],
                 get: Getter, clock: Callable[[], float] = time.time) -> None:
        self.keys = {key_id(k): k for k in keys}
        self.issuers = tuple(issuers)
        self.audiences = tuple(audiences)
        self.get = get
        self.clock = clock  # for tests

    def has_our_issuer(self, token: str) -> bool:
        """Whether ``token`` is a JWT naming one of our issuers (without checking anything
        else): other JWTs are left to other authenticators, as Kubernetes does."""
        if not looks_like_jwt(token):
            return False
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return False
        return claims.get("iss") in self.issuers or claims.get("iss") == LEGACY_ISSUER

    def _verify(self, token: str, *, legacy: bool = False) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise TokenInvalid(f"malformed token: {e}") from None
        alg = header.get("alg")
        if alg not in ("RS256", "ES256", "ES384", "ES512"):
            raise TokenInvalid(f"unsupported signing algorithm {alg!r}")
        kid = header.get("kid")
        candidates = [self.keys[kid]] if kid in self.keys else list(self.keys.values())
        for key in candidates:
            try:
                return jwt.decode(token, key, algorithms=[alg], issuer=[LEGACY_ISSUER] if legacy else list(self.issuers),
                                  leeway=LEEWAY, options={"verify_aud": False, "require": ["iss", "sub"] if legacy
                                                          else ["exp", "iat", "iss", "sub"]})
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise TokenInvalid("service account token has expired") from None
            except jwt.PyJWTError as e:
                raise TokenInvalid(f"service account token is invalid: {e}") from None
        raise TokenInvalid("token signature is invalid (no key verifies it)")

    async def validate(self, token: str, audiences: Sequence[str] | None = None) -> ServiceAccountInfo:
        """The account a token speaks for; raises :class:`TokenInvalid`.

        ``audiences``: those the caller accepts (the apiserver's own when None); the token
        must name at least one of them."""
        try:
            legacy = jwt.decode(token, options={"verify_signature": False}).get("iss") == LEGACY_ISSUER
        except jwt.PyJWTError as e:
            raise TokenInvalid(f"malformed token: {e}") from None
        if legacy:
            return await self._validate_legacy(token, audiences)
        claims = self._verify(token)
        wanted = tuple(audiences) if audiences else self.audiences
        aud = claims.get("aud")
        token_auds = [aud] if isinstance(aud, str) else list(aud or [])
        matched = tuple(a for a in wanted if a in token_auds)
        if not matched:
            raise TokenInvalid("token audiences " + repr(token_auds) + " is invalid for the target audiences "
                               + repr(list(wanted)))
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            raise TokenInvalid("token lacks the kubernetes.io claims")
        ns = k8s.get("namespace") or ""
        saref = k8s.get("serviceaccount") or {}
        sub = sa_api.split_username(str(claims.get("sub") or ""))
        if not ns or not saref.get("name") or sub != (ns, saref.get("name")):
            raise TokenInvalid("token's subject does not match its kubernetes.io claims")
        deleted_before = self.clock() - LEEWAY

        def gone(obj: dict[str, Any]) -> bool:
            dt = obj["metadata"].get("deletionTimestamp")
            return bool(dt) and (to_unix(dt) or 0.0) < deleted_before

        sa = await self.get("serviceaccounts", ns, saref["name"])
        if sa is None or gone(sa):
            raise TokenInvalid(f"ServiceAccount {ns}/{saref['name']} has been deleted")
        if sa["metadata"].get("uid") != saref.get("uid"):
            raise TokenInvalid(f"ServiceAccount UID ({sa['metadata'].get('uid')}) does not match claim "
                               f"({saref.get('uid')})")
        info: dict[str, str] = {}
        pod_bound = isinstance(k8s.get("pod"), dict)
        for kind, plural, namespaced in (("secret", "secrets", True), ("pod", "pods", True), ("node", "nodes", False)):
            ref = k8s.get(kind)
            if not isinstance(ref, dict):
                continue
            if kind == "node" and pod_bound:
                # a pod-bound token names its pod's node for information only: the pod is
                # what binds it (Kubernetes checks the node only for node-bound tokens)
                info["node_name"], info["node_uid"] = ref.get("name") or "", ref.get("uid") or ""
                continue
            obj = await self.get(plural, ns if namespaced else "", ref.get("name") or "")
            if obj is None or gone(obj):
                raise TokenInvalid("Token has been invalidated")
            if obj["metadata"].get("uid") != ref.get("uid"):
                raise TokenInvalid(f"{kind.capitalize()} UID ({obj['metadata'].get('uid')}) does not match claim "
                                   f"({ref.get('uid')})")
            if kind in ("pod", "node"):
                info[f"{kind}_name"], info[f"{kind}_uid"] = ref["name"], ref["uid"]
        jti = claims.get("jti")
        return ServiceAccountInfo(namespace=ns, name=saref["name"], uid=saref["uid"],
                                  credential_id=f"JTI={jti}" if jti else "", audiences=matched, **info)

    async def _validate_legacy(self, token: str, audiences: Sequence[str] | None) -> ServiceAccountInfo:
        """A token of a ``kubernetes.io/service-account-token`` Secret (Kubernetes' legacy
        validator): valid while that Secret holds this very token and its ServiceAccount has
        the uid the token names. It has no audiences: it is the apiserver's own."""
        claims = self._verify(token, legacy=True)
        matched = tuple(a for a in (audiences or self.audiences) if a in self.audiences)
        if not matched:
            raise TokenInvalid("legacy service account tokens are valid only for the apiserver's audiences")
        ns, secret_name = claims.get(_LEGACY + "namespace"), claims.get(_LEGACY + "secret.name")
        sa_name, sa_uid = claims.get(_LEGACY + "service-account.name"), claims.get(_LEGACY + "service-account.uid")
        if not (ns and secret_name and sa_name and sa_uid) or \
                sa_api.split_username(str(claims.get("sub") or "")) != (ns, sa_name):
            raise TokenInvalid("token lacks the legacy service account claims")
        secret = await self.get("secrets", ns, secret_name)
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            raise TokenInvalid(f"secret {ns}/{secret_name} not found")
        stored = (secret.get("data") or {}).get("token") or ""
        try:
            held = base64.b64decode(stored).decode()
        except ValueError:
            held = ""
        if held != token:
            raise TokenInvalid(f"token does not match the one secret {ns}/{secret_name} holds")
        sa = await self.get("serviceaccounts", ns, sa_name)
        if sa is None or sa["metadata"].get("deletionTimestamp"):
            raise TokenInvalid(f"ServiceAccount {ns}/{sa_name} has been deleted")
        if sa["metadata"].get("uid") != sa_uid:
            raise TokenInvalid(f"ServiceAccount UID ({sa['metadata'].get('uid')}) does not match claim ({sa_uid})")
        return ServiceAccountInfo(namespace=ns, name=sa_name, uid=sa_uid, audiences=matched)
