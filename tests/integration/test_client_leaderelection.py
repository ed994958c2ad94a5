"""Lease-based leader election between real candidates on a real apiserver."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from minik8s.api.resources import LEASES
from minik8s.client.rest import ApiClient
from minik8s.leaderelection import LeaderElector

# Short terms so hand-overs happen in about a second; no assertion depends on their length.
FAST = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.2}


def test_timing_is_validated():
    with pytest.raises(ValueError, match="leaseDuration must be greater than renewDeadline"):
        LeaderElector(None, name="x", identity="a", lease_duration=5, renew_deadline=5)
    with pytest.raises(ValueError, match="renewDeadline must be greater than retryPeriod"):
        LeaderElector(None, name="x", identity="a", lease_duration=10, renew_deadline=2, retry_period=2)


async def test_one_leader_then_hand_over_on_release(client: ApiClient):
    name = f"le-{uuid.uuid4().hex[:6]}"
    a = LeaderElector(client, name=name, identity="a", **FAST)
    b = LeaderElector(client, name=name, identity="b", **FAST)
    a_leading, b_leading = asyncio.Event(), asyncio.Event()
    stopped: list[str] = []

    async def lead(ev: asyncio.Event) -> None:
        ev.set()
        await asyncio.Event().wait()  # lead until cancelled

    ta = asyncio.create_task(a.run(lambda: lead(a_leading), lambda: stopped.append("a")))
    await asyncio.wait_for(a_leading.wait(), 30)
    tb = asyncio.create_task(b.run(lambda: lead(b_leading), lambda: stopped.append("b")))
    try:
        assert a.is_leader
        lease = await client.get(LEASES, name, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "a"
        assert lease["spec"]["leaseTransitions"] == 0
        # b keeps trying while a renews; wait for a's renewals to be observed by b
        first_renew = lease["spec"]["renewTime"]
        for _ in range(300):
            lease = await client.get(LEASES, name, namespace="kube-system")
            if lease["spec"]["renewTime"] != first_renew and b.leader == "a":
                break
            await asyncio.sleep(0.05)
        assert lease["spec"]["renewTime"] != first_renew, "the leader renews its lease"
        assert not b.is_leader and not b_leading.is_set()

        ta.cancel()  # a steps down and releases the lease
        await asyncio.gather(ta, return_exceptions=True)
        assert stopped == ["a"] and not a.is_leader
        await asyncio.wait_for(b_leading.wait(), 30)
        assert b.is_leader
        lease = await client.get(LEASES, name, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
    finally:
        for t in (ta, tb):
            t.cancel()
        await asyncio.gather(ta, tb, return_exceptions=True)
    assert stopped == ["a", "b"]
    lease = await client.get(LEASES, name, namespace="kube-system")
    assert not lease["spec"].get("holderIdentity"), "released on the way out"


async def test_expired_lease_of_a_dead_holder_is_taken_over(client: ApiClient):
    name = f"le-{uuid.uuid4().hex[:6]}"
    # A holder that died without releasing: a lease nobody renews.
    await client.create(LEASES, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"holderIdentity": "dead", "leaseDurationSeconds": 1, "leaseTransitions": 3,
                 "acquireTime": "2020-01-01T00:00:00.000000Z", "renewTime": "2020-01-01T00:00:00.000000Z"},
    }, namespace="kube-system")
    b = LeaderElector(client, name=name, identity="b", **FAST)
    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()

    # on_started_leading returning ends the term: run() releases and returns.
    await asyncio.wait_for(b.run(lead), 30)
    assert leading.is_set()
    lease = await client.get(LEASES, name, namespace="kube-system")
    assert lease["spec"]["leaseTransitions"] == 4
    assert not lease["spec"].get("holderIdentity")


async def test_leader_that_loses_its_lease_stops_leading(client: ApiClient):
    name = f"le-{uuid.uuid4().hex[:6]}"
    a = LeaderElector(client, name=name, identity="a", **FAST)
    leading = asyncio.Event()
    cancelled = asyncio.Event()
    stopped: list[str] = []

    async def lead() -> None:
        leading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.create_task(a.run(lead, lambda: stopped.append("a")))
    try:
        await asyncio.wait_for(leading.wait(), 30)
        # Someone else seizes the lease (as an operator could): a must notice and step down.
        for _ in range(50):
            lease = await client.get(LEASES, name, namespace="kube-system")
            lease["spec"]["holderIdentity"] = "usurper"
            lease["spec"]["leaseDurationSeconds"] = 3600
            try:
                await client.update(LEASES, lease)
                break
            except Exception:  # a renewed in between: try again on the new version
                await asyncio.sleep(0.01)
        await asyncio.wait_for(task, 30)
        assert cancelled.is_set() and stopped == ["a"] and not a.is_leader
        lease = await client.get(LEASES, name, namespace="kube-system")
        assert lease["spec"]["holderIdentity"] == "usurper", "a loser does not release someone else's lease"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
