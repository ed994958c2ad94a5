"""Legacy ServiceAccount token Secrets against the real apiserver: the tokens controller
(``controllers/serviceaccount_tokens.py``) fills a ``kubernetes.io/service-account-token``
Secret with ``token``, ``ca.crt`` and ``namespace``; the apiserver accepts that token as the
account (SelfSubjectReview) while the Secret holds it; deleting the Secret, or the account
(whose token Secrets the controller then deletes), makes it 401."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid

from cryptography.hazmat.primitives import serialization

from controllers.serviceaccount_tokens import TokensController
from minik8s import errors
from minik8s.api.resources import NAMESPACES, SECRETS, SERVICEACCOUNTS
from tests.integration.controller_harness import running
from tests.waiting import eventually


def _whoami(apiserver_process, token: str) -> tuple[int, dict]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    with apiserver_process.http(anonymous=True, timeout=10, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=body)
    return r.status_code, r.json()


async def test_token_secret_is_filled_and_authenticates_while_it_exists(apiserver_process) -> None:
    key = serialization.load_pem_private_key((apiserver_process.pki / "sa.key").read_bytes(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    ca = apiserver_process.ca_file.read_bytes()
    ns = f"legacy-{uuid.uuid4().hex[:6]}"
    async with apiserver_process.client() as client:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                              "metadata": {"name": "robot"}}, namespace=ns)
        for name in ("robot-token", "robot-token-2"):
            await client.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                                          "metadata": {"name": name,
                                                       "annotations": {"kubernetes.io/service-account.name": "robot"}}},
                                namespace=ns)
        async with running(client, lambda f: TokensController(client, f, private_key=key, key_id=kid, root_ca=ca)):
            async def filled(name: str):
                s = await client.get(SECRETS, name, namespace=ns)
                return s if (s.get("data") or {}).get("token") else None
            secret = await eventually(lambda: filled("robot-token"), what="the token filled in")
            await eventually(lambda: filled("robot-token-2"), what="the second token filled in")
            sa = await client.get(SERVICEACCOUNTS, "robot", namespace=ns)
            data = secret["data"]
            assert base64.b64decode(data["namespace"]).decode() == ns
            assert base64.b64decode(data["ca.crt"]) == ca
            assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == sa["metadata"]["uid"]
            token = base64.b64decode(data["token"]).decode()
            code, review = await asyncio.to_thread(_whoami, apiserver_process, token)
            assert code == 201, review
            user = review["status"]["userInfo"]
            assert user["username"] == f"system:serviceaccount:{ns}:robot"
            assert f"system:serviceaccounts:{ns}" in user["groups"] and user["uid"] == sa["metadata"]["uid"]
            # a token the Secret does not hold (re-signed claims, tampered) is refused
            assert (await asyncio.to_thread(_whoami, apiserver_process, token[:-4] + "AAAA"))[0] == 401
            # the Secret deleted: its token is dead
            await client.delete(SECRETS, "robot-token", namespace=ns)
            assert (await asyncio.to_thread(_whoami, apiserver_process, token))[0] == 401
            # the account deleted: the controller deletes its other token Secret
            other = base64.b64decode((await client.get(SECRETS, "robot-token-2", namespace=ns))["data"]["token"]).decode()
            await client.delete(SERVICEACCOUNTS, "robot", namespace=ns)

            async def gone():
                try:
                    await client.get(SECRETS, "robot-token-2", namespace=ns)
                except errors.NotFound:
                    return True
                return None
            await eventually(gone, what="the token Secret of a deleted account deleted")
            assert (await asyncio.to_thread(_whoami, apiserver_process, other))[0] == 401
        await client.delete(NAMESPACES, ns)
