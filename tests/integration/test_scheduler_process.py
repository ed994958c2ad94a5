"""The scheduler process (``python -m scheduler.main``) against a real apiserver.

Each test gets its own apiserver (Nodes are cluster-wide, so tests cannot share one) and
registers Node objects through the API, as a kubelet would (allocatable, Ready condition); no
kubelet runs, so bound pods simply stay Pending on their node. The real kubectl cordons and
describes.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minik8s import errors
from minik8s.api.resources import EVENTS, LEASES, NODES, PODS
from minik8s.client.rest import ApiClient
from tests import waiting

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0


def node(name: str, *, cpu: str = "2", memory: str = "4Gi", pods: int = 110,
         labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"capacity": dict(alloc), "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }
    if taints:
        body["spec"]["taints"] = taints
    return body


def pod(name: str, *, cpu: str | None = None, owner: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    md: dict[str, Any] = {"name": name}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                  "uid": owner, "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"containers": [container], **spec}}


class SchedulerProcess:
    def __init__(self, kubeconfig: Path, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        # no secure port unless asked: parallel tests would all want 10259
        secure = () if any(a.startswith("--secure-port") for a in args) else ("--secure-port=0",)
        cmd = [sys.executable, "-m", "scheduler.main", "--kubeconfig", str(kubeconfig), "--log-level", "debug",
               *secure, *args]
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def identity(self) -> str:
        m = re.search(r"identity='([^']+)'", self.log())
        assert m, self.log()
        return m.group(1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def server(apiserver_factory):
    return apiserver_factory()


@pytest.fixture
async def client(server) -> AsyncIterator[ApiClient]:
    async with server.client() as c:
        yield c


@pytest.fixture
def start_scheduler(server, tmp_path) -> Iterator[Callable[..., SchedulerProcess]]:
    started: list[SchedulerProcess] = []

    def start(*args: str) -> SchedulerProcess:
        sp = SchedulerProcess(server.kubeconfig, tmp_path / f"scheduler-{len(started)}.log", *args)
        started.append(sp)
        return sp

    yield start
    for sp in started:
        sp.stop()


# tests/waiting.py's eventually, with these tests' deadline
eventually = functools.partial(waiting.eventually, timeout=WAIT)


async def placement(client: ApiClient, namespace: str = "default") -> dict[str, str]:
    """pod name -> node name ("" while pending)."""
    lst = await client.list(PODS, namespace=namespace)
    return {p["metadata"]["name"]: p["spec"].get("nodeName") or "" for p in lst["items"]}


def scheduled_condition(p: dict[str, Any]) -> dict[str, Any] | None:
    for c in (p.get("status") or {}).get("conditions") or ():
        if c.get("type") == "PodScheduled":
            return c
    return None


async def unschedulable_message(client: ApiClient, name: str) -> str | None:
    cond = scheduled_condition(await client.get(PODS, name, namespace="default"))
    if cond and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return cond.get("message")
    return None


async def test_spreads_replicas_across_nodes(client, start_scheduler):
    for i in range(3):
        await client.create(NODES, node(f"n{i}"))
    start_scheduler("--leader-elect=false")
    for i in range(6):
        await client.create(PODS, pod(f"web-{i}", owner="rs-uid-1"))
    where = await eventually(lambda: _all_bound(client, 6), what="6 pods bound")
    assert collections.Counter(where.values()) == {"n0": 2, "n1": 2, "n2": 2}
    p = await client.get(PODS, "web-0", namespace="default")
    assert scheduled_condition(p)["status"] == "True"


async def _all_bound(client: ApiClient, n: int) -> dict[str, str] | None:
    where = await placement(client)
    return where if len(where) == n and all(where.values()) else None


async def test_respects_requests_and_explains_why_a_pod_does_not_fit(client, start_scheduler, server, kubectl):
    for i in range(3):
        await client.create(NODES, node(f"n{i}", cpu="2"))
    start_scheduler("--leader-elect=false")
    for i in range(3):
        await client.create(PODS, pod(f"fits-{i}", cpu="1500m"))
    where = await eventually(lambda: _all_bound(client, 3), what="3 pods bound")
    assert sorted(where.values()) == ["n0", "n1", "n2"]  # 1.5 cpu of 2: one per node

    await client.create(PODS, pod("too-big", cpu="1"))
    msg = await eventually(lambda: unschedulable_message(client, "too-big"), what="PodScheduled=False")
    assert msg == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                   "3 No preemption victims found for incoming pod.")
    assert (await placement(client))["too-big"] == ""

    described = await eventually(
        lambda: (out := kubectl("describe", "pod", "too-big", server=server).stdout)
        and "FailedScheduling" in out and out, what="FailedScheduling in describe")
    assert "0/3 nodes are available: 3 Insufficient cpu." in described
    events = kubectl("get", "events", "-o", "json", server=server)
    assert events.returncode == 0, events.stderr
    items = json.loads(events.stdout)["items"]
    failed = [e for e in items if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "too-big"]
    assert failed and failed[0]["type"] == "Warning" and failed[0]["source"]["component"] == "default-scheduler"
    scheduled = [e for e in items if e["reason"] == "Scheduled"]
    assert {e["message"] for e in scheduled} == {f"Successfully assigned default/fits-{i} to {where[f'fits-{i}']}"
                                                for i in range(3)}


async def test_node_selector_and_taints(client, start_scheduler):
    await client.create(NODES, node("ssd", labels={"disk": "ssd"}))
    await client.create(NODES, node("batch", taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]))
    await client.create(NODES, node("plain"))
    start_scheduler("--leader-elect=false")
    await client.create(PODS, pod("wants-ssd", nodeSelector={"disk": "ssd"}))
    on_batch = {"nodeSelector": {"kubernetes.io/hostname": "batch"}}
    await client.create(PODS, pod("intolerant", **on_batch))
    await client.create(PODS, pod("tolerant", **on_batch, tolerations=[
        {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]))
    for i in range(4):
        await client.create(PODS, pod(f"any-{i}"))

    msg = await eventually(lambda: unschedulable_message(client, "intolerant"), what="intolerant unschedulable")
    assert msg.startswith("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: batch}, "
                          "2 node(s) didn't match Pod's node affinity/selector.")
    where = await eventually(lambda: _bound_except(client, {"intolerant"}, 6), what="others bound")
    assert where["wants-ssd"] == "ssd"
    assert where["tolerant"] == "batch"
    assert all(where[f"any-{i}"] in ("ssd", "plain") for i in range(4))


async def _bound_except(client: ApiClient, pending: set[str], n: int) -> dict[str, str] | None:
    where = await placement(client)
    ok = len(where) == n + len(pending) and all(v for k, v in where.items() if k not in pending)
    return where if ok else None


async def test_cordoned_node_gets_nothing_until_uncordoned(client, start_scheduler, server, kubectl):
    await client.create(NODES, node("n0"))
    out = kubectl("cordon", "n0", server=server)
    assert out.returncode == 0, out.stderr
    start_scheduler("--leader-elect=false")
    await client.create(PODS, pod("waits"))
    msg = await eventually(lambda: unschedulable_message(client, "waits"), what="unschedulable")
    assert msg.startswith("0/1 nodes are available: 1 node(s) were unschedulable.")

    await client.create(NODES, node("n1"))
    for i in range(3):
        await client.create(PODS, pod(f"p{i}"))
    where = await eventually(lambda: _all_bound(client, 4), what="all on the uncordoned node")
    assert set(where.values()) == {"n1"}

    await client.create(PODS, pod("after", nodeSelector={"kubernetes.io/hostname": "n0"}))
    await eventually(lambda: unschedulable_message(client, "after"), what="after unschedulable")
    assert kubectl("uncordon", "n0", server=server).returncode == 0
    where = await eventually(lambda: _all_bound(client, 5), what="scheduled once uncordoned")
    assert where["after"] == "n0"


async def test_pending_pod_is_placed_when_a_fitting_node_appears(client, start_scheduler):
    await client.create(NODES, node("small", cpu="1"))
    start_scheduler("--leader-elect=false")
    await client.create(PODS, pod("big", cpu="3"))
    await eventually(lambda: unschedulable_message(client, "big"), what="big unschedulable")
    await client.create(NODES, node("large", cpu="4"))
    where = await eventually(lambda: _all_bound(client, 1), what="big bound")
    assert where["big"] == "large"
    cond = scheduled_condition(await client.get(PODS, "big", namespace="default"))
    assert cond["status"] == "True"


async def test_pod_is_placed_when_an_assigned_pod_leaves(client, start_scheduler):
    await client.create(NODES, node("only", cpu="1"))
    start_scheduler("--leader-elect=false")
    await client.create(PODS, pod("first", cpu="800m"))
    await eventually(lambda: _all_bound(client, 1), what="first bound")
    await client.create(PODS, pod("second", cpu="800m"))
    await eventually(lambda: unschedulable_message(client, "second"), what="second unschedulable")
    await client.delete(PODS, "first", namespace="default", grace_period_seconds=0)
    await eventually(lambda: _gone(client, "first"), what="first deleted")
    where = await eventually(lambda: _all_bound(client, 1), what="second bound")
    assert where == {"second": "only"}


async def _gone(client: ApiClient, name: str) -> bool:
    try:
        await client.get(PODS, name, namespace="default")
    except errors.NotFound:
        return True
    return False


async def test_no_double_booking_when_many_pods_arrive_at_once(client, start_scheduler):
    for i in range(5):
        await client.create(NODES, node(f"n{i}", cpu="1"))
    start_scheduler("--leader-elect=false", "--bind-workers", "16")
    # 40 pods of 300m on 5 nodes of 1 cpu: room for exactly 3 per node.
    await asyncio.gather(*(client.create(PODS, pod(f"p{i:02}", cpu="300m")) for i in range(40)))

    async def settled() -> dict[str, str] | None:
        lst = (await client.list(PODS, namespace="default"))["items"]
        bound = [p for p in lst if p["spec"].get("nodeName")]
        refused = [p for p in lst if (scheduled_condition(p) or {}).get("reason") == "Unschedulable"]
        return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in bound} if len(bound) == 15 and \
            len(refused) == 25 else None

    where = await eventually(settled, what="15 bound, 25 unschedulable")
    assert collections.Counter(where.values()) == {f"n{i}": 3 for i in range(5)}


async def test_two_schedulers_with_leader_election_only_the_leader_binds(client, start_scheduler, server):
    for i in range(2):
        await client.create(NODES, node(f"n{i}"))
    fast = ("--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
            "--leader-elect-retry-period", "1")
    a = start_scheduler(*fast)

    async def holder() -> str | None:
        try:
            lease = await client.get(LEASES, "kube-scheduler", namespace="kube-system")
        except errors.NotFound:
            return None
        return lease["spec"].get("holderIdentity") or None

    assert await eventually(holder, what="a leader") == a.identity
    b = start_scheduler(*fast)
    await eventually(lambda: "waiting to lead" in b.log(), what="second scheduler campaigning")
    for i in range(8):
        await client.create(PODS, pod(f"p{i}"))
    await eventually(lambda: _all_bound(client, 8), what="8 pods bound")
    assert a.log().count("DEBUG scheduler.scheduler: bound ") == 8
    assert "became leader" not in b.log() and "bound " not in b.log()
    events = (await client.list(EVENTS, namespace="default"))["items"]
    assert not [e for e in events if e["reason"] == "FailedScheduling"]

    # The leader steps down (releasing the Lease): the other takes over and schedules.
    assert a.stop() == 0
    assert await eventually(holder, what="the follower leading") == b.identity
    await client.create(PODS, pod("later"))
    await eventually(lambda: _all_bound(client, 9), what="the new leader binds")
    assert "bound default/later" in b.log()
