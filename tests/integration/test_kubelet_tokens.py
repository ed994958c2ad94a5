"""The kubelet's token manager against the real apiserver: a pod-bound token cached until 80%
of its life (less the jitter) or 24 hours, then a new TokenRequest; one entry per pod,
audience and lifetime. The manager's clock is moved forward; the apiserver's is real."""

from __future__ import annotations

import time
import uuid

import pytest

from kubelet.tokens import TokenManager
from minik8s.api.resources import NAMESPACES, PODS, SERVICEACCOUNTS


@pytest.fixture
async def pod(apiserver_process):
    async with apiserver_process.client() as client:
        ns = "tok" + uuid.uuid4().hex[:6]
        await client.create(NAMESPACES, {"metadata": {"name": ns}})
        await client.create(SERVICEACCOUNTS, {"metadata": {"name": "robot"}}, namespace=ns)
        p = await client.create(PODS, {"metadata": {"name": "p"}, "spec": {
            "serviceAccountName": "robot", "containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)
        yield client, p


async def test_refresh_at_eighty_percent(pod) -> None:
    client, p = pod
    offset = [0.0]
    tm = TokenManager(client, clock=lambda: time.time() + offset[0], jitter=lambda: 5.0)
    first = await tm.get(p, expiration_seconds=3607)
    assert first.token.count(".") == 2
    assert first.expires_at - first.issued_at == 3607
    assert tm.next_refresh(p["metadata"]["uid"]) == first.issued_at + 3607 * 0.8 - 5.0
    offset[0] = first.refresh_at - time.time() - 30
    assert (await tm.get(p, expiration_seconds=3607)).token == first.token  # not yet due: cached
    offset[0] = first.refresh_at - time.time() + 1
    second = await tm.get(p, expiration_seconds=3607)
    assert second.token != first.token  # due: a new TokenRequest
    other = await tm.get(p, audiences=["vault"], expiration_seconds=3607)
    assert other.token not in (first.token, second.token)
    week = await tm.get(p, expiration_seconds=7 * 24 * 3600)
    assert week.refresh_at == week.issued_at + 24 * 3600 - 5.0  # renewed after a day at the latest
    tm.forget(p["metadata"]["uid"])
    assert tm.next_refresh(p["metadata"]["uid"]) is None
