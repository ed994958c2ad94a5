"""The bootstrap signer and token cleaner on a real apiserver: cluster-info gets a detached JWS
per signing token (verifiable with the token, removed with it), and an expired token Secret is
deleted while a live one stays."""

from __future__ import annotations

import datetime
import warnings

import jwt

from controllers.bootstrapsigner import BootstrapSigner
from controllers.tokencleaner import TokenCleaner
from minik8s.api import bootstraptoken as bt
from minik8s.api.resources import CONFIGMAPS, SECRETS
from tests.integration.controller_harness import get_or_none, running
from tests.waiting import eventually


async def test_cluster_info_signed_per_token(apiserver_process) -> None:
    async with apiserver_process.client() as client:
        token = bt.new_token()
        await client.create(SECRETS, bt.secret_for(token, ttl_seconds=3600), namespace="kube-system")
        await client.create(CONFIGMAPS, {"metadata": {"name": "cluster-info"}, "data": {"kubeconfig": "kc-content"}},
                            namespace="kube-public")
        key = "jws-kubeconfig-" + token[:6]
        async with running(client, lambda f: BootstrapSigner(client, f)):
            async def signed():
                cm = await client.get(CONFIGMAPS, "cluster-info", namespace="kube-public")
                return (cm.get("data") or {}).get(key)
            sig = await eventually(signed, what="cluster-info signed")
            header, payload, signature = sig.split(".")
            assert payload == ""
            # a joining node checks it with the token it holds; a standard JWS library agrees
            assert bt.verify_detached_signature("kc-content", sig, token)
            assert not bt.verify_detached_signature("other content", sig, token)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the token format's 23-byte HMAC key
                full = f"{header}.{jwt.utils.base64url_encode(b'kc-content').decode()}.{signature}"
                assert jwt.api_jws.decode(full, token, algorithms=["HS256"]) == b"kc-content"
            assert jwt.get_unverified_header(full)["kid"] == token[:6]
            await client.delete(SECRETS, "bootstrap-token-" + token[:6], namespace="kube-system")

            async def unsigned():
                cm = await client.get(CONFIGMAPS, "cluster-info", namespace="kube-public")
                return key not in (cm.get("data") or {})
            await eventually(unsigned, what="signature removed with the token")
        await client.delete(CONFIGMAPS, "cluster-info", namespace="kube-public")


async def test_expired_tokens_are_deleted(apiserver_process) -> None:
    async with apiserver_process.client() as client:
        old, live = bt.new_token(), bt.new_token()
        s = bt.secret_for(old, ttl_seconds=None)
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
        s["stringData"]["expiration"] = past.strftime("%Y-%m-%dT%H:%M:%SZ")
        await client.create(SECRETS, s, namespace="kube-system")
        await client.create(SECRETS, bt.secret_for(live, ttl_seconds=3600), namespace="kube-system")
        async with running(client, lambda f: TokenCleaner(client, f)):
            async def gone():
                return await get_or_none(client, SECRETS, "bootstrap-token-" + old[:6], namespace="kube-system") is None
            await eventually(gone, what="expired token deleted")
            assert await get_or_none(client, SECRETS, "bootstrap-token-" + live[:6], namespace="kube-system")
        await client.delete(SECRETS, "bootstrap-token-" + live[:6], namespace="kube-system")
