"""The projected ServiceAccount token volume on real Docker: the kubelet mounts token, ca.crt
and namespace at /var/run/secrets/kubernetes.io/serviceaccount/ (the volume as the
ServiceAccount admission writes it); the token is bound to the pod and signed by the
apiserver's key; a kubelet that restarts writes a fresh token into the running container."""

from __future__ import annotations

import asyncio
import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from apiserver.serviceaccount_admission import token_volume_source
from minik8s.api.resources import CONFIGMAPS, PODS, SERVICEACCOUNTS
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_for,
    wait_pod,
)

pytestmark = pytest.mark.docker

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
CA = "-----BEGIN CERTIFICATE-----\nnot-parsed-by-the-kubelet\n-----END CERTIFICATE-----\n"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_token_volume_mounted_bound_and_renewed(client, namespace, kubelet_factory, test_images, kubectl,
                                                      apiserver_process) -> None:
    k = kubelet_factory()
    await client.create(SERVICEACCOUNTS, {"metadata": {"name": "robot"}}, namespace=namespace)
    # what the root CA publisher keeps in every namespace
    await client.create(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": CA}},
                        namespace=namespace)
    mount = {"name": "kube-api-access-test1", "readOnly": True, "mountPath": MOUNT}
    pod = pod_manifest("reader", k.node, [{"name": "a", "command": ["sleep", "600"], "volumeMounts": [mount]}],
                       serviceAccountName="robot",
                       volumes=[{"name": "kube-api-access-test1", "projected": token_volume_source()}])
    created = await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "reader", is_running, what="Running", kubelet=k)

    def cat(path: str) -> str:
        out = kubectl("exec", "-n", namespace, "reader", "--", "cat", f"{MOUNT}/{path}")
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert cat("namespace") == namespace
    assert cat("ca.crt") == CA
    token = cat("token")
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:robot"
    assert claims["kubernetes.io"]["pod"] == {"name": "reader", "uid": created["metadata"]["uid"]}
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600 and claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
    pub = serialization.load_pem_public_key((apiserver_process.data_dir / "pki" / "sa.pub").read_bytes())
    jwt.decode(token, pub, algorithms=["RS256"], audience=claims["aud"])
    ls = kubectl("exec", "-n", namespace, "reader", "--", "ls", "-l", MOUNT).stdout
    assert all(line.startswith("-rw-r--r--") for line in ls.splitlines() if line.startswith("-"))

    # a restarted kubelet does not know when the token it wrote is due: it renews it at once,
    # in place, in the container that keeps running
    k.kill()
    await asyncio.sleep(1.1)  # the next token's iat is another second
    k.start()

    async def renewed() -> bool:
        out = kubectl("exec", "-n", namespace, "reader", "--", "cat", f"{MOUNT}/token")
        return out.returncode == 0 and out.stdout not in ("", token)
    await wait_for(renewed, what="token renewed after the kubelet restarted")
    assert _claims(cat("token"))["kubernetes.io"]["pod"]["uid"] == created["metadata"]["uid"]
