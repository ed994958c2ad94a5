"""The ``minik8s-controller-manager`` process: flags, leader election between two copies, and
the real kubectl's rollout verbs (status, history, undo, pause/resume, restart, scale, set
image) against it and a real apiserver of its own (so that no other test's in-process
controllers share the cluster with it). Pods are made Ready by the test's kubelet stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from controllers import main as cm
from minik8s.api.resources import LEASES, NAMESPACES, PODS, REPLICASETS
from minik8s.client.rest import ApiClient
from tests.conftest import REPO, ApiServer
from tests.integration.workload_helpers import PodReadier, replicaset, wait_for

# -- flags ----------------------------------------------------------------------------------

def test_controllers_flag_follows_kube_controller_manager():
    defaults = [n for n, r in cm.CONTROLLERS.items() if r.enabled_by_default]
    assert cm.enabled_controllers("*") == defaults
    assert cm.enabled_controllers("*,-deployment") == [n for n in defaults if n != "deployment"]
    # the ones off by default (bootstrapsigner, tokencleaner) are named to run, as kubeadm does
    assert cm.enabled_controllers("*,bootstrapsigner,tokencleaner") == [
        n for n in cm.CONTROLLERS if n in defaults or n in ("bootstrapsigner", "tokencleaner")]
    assert cm.enabled_controllers("deployment") == ["deployment"]
    assert cm.enabled_controllers("replicaset-controller") == ["replicaset"]  # the alias
    with pytest.raises(ValueError, match='"nope" is not in the list of known controllers'):
        cm.enabled_controllers("*,nope")


def test_flags_parse_go_style_values():
    cfg = cm.parse_args(["--apiserver", "http://x", "--leader-elect=false", "--leader-elect-lease-duration", "1m30s",
                         "--concurrent-deployment-syncs", "7", "--controllers", "*,-replicaset"])
    assert cfg.leader_elect is False
    assert cfg.lease_duration == 90.0
    assert "deployment" in cfg.controllers and "replicaset" not in cfg.controllers
    assert cfg.workers["deployment"] == 7 and "replicaset" not in cfg.workers
    defaults = cm.parse_args(["--apiserver", "http://x"]).workers
    assert set(defaults) == {n for n, r in cm.CONTROLLERS.items() if r.enabled_by_default}
    assert (defaults["replicaset"], defaults["deployment"]) == (5, 5)  # kube-controller-manager's defaults
    assert cm.parse_duration("500ms") == 0.5
    with pytest.raises(SystemExit):
        cm.parse_args([])  # neither --apiserver nor --kubeconfig


# -- the process ----------------------------------------------------------------------------

class Manager:
    def __init__(self, server: ApiServer, log: Path, *args: str) -> None:
        self.log = log
        with open(log, "ab") as f:
            # no secure port unless asked: parallel tests would all want 10257
            secure = () if any(a.startswith("--secure-port") for a in args) else ("--secure-port=0",)
            self.proc = subprocess.Popen([sys.executable, "-m", "controllers.main", "--kubeconfig",
                                          str(server.kubeconfig), *secure, *args],
                                         cwd=REPO, stdout=f, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def managers(tmp_path):
    started: list[Manager] = []

    def start(server: ApiServer, *args: str) -> Manager:
        m = Manager(server, tmp_path / f"cm-{len(started)}.log", *args)
        started.append(m)
        return m

    yield start
    for m in started:
        m.stop()


FAST_LEASE = ("--leader-elect-lease-duration=2s", "--leader-elect-renew-deadline=1500ms",
              "--leader-elect-retry-period=200ms")


async def _new_namespace(client: ApiClient) -> str:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def test_two_copies_one_leader_and_hand_over(apiserver_factory, managers):
    server = apiserver_factory()
    a = managers(server, "--identity=cm-a", *FAST_LEASE)
    async with server.client() as client:
        async def holder():
            with contextlib.suppress(Exception):
                lease = await client.get(LEASES, "kube-controller-manager", namespace="kube-system")
                return lease["spec"].get("holderIdentity")
        assert await wait_for(holder, what="a leader") == "cm-a"
        b = managers(server, "--identity=cm-b", *FAST_LEASE)
        await wait_for(lambda: _logged(b, "attempting to acquire"), what="b campaigning")
        ns = await _new_namespace(client)
        await client.create(REPLICASETS, replicaset("web", 2, {"app": "web"}), namespace=ns)
        await wait_for(lambda: _pod_count(client, ns, 2), what="pods from the leader")
        assert "successfully acquired" not in b.text()
        assert await holder() == "cm-a"

        a.stop()  # SIGTERM: the leader releases the lease on its way out
        assert await wait_for(lambda: _holder_is(holder, "cm-b"), what="b takes over") == "cm-b"
        await client.patch(REPLICASETS, "web", {"spec": {"replicas": 4}}, namespace=ns)
        await wait_for(lambda: _pod_count(client, ns, 4), what="pods from the new leader")
    assert "released lease" in a.text()


async def _logged(m: Manager, text: str) -> bool:
    return text in m.text()


async def _holder_is(holder, identity: str) -> str | None:
    h = await holder()
    return h if h == identity else None


async def _pod_count(client: ApiClient, ns: str, n: int) -> bool:
    return len((await client.list(PODS, namespace=ns))["items"]) == n


# -- kubectl --------------------------------------------------------------------------------

async def test_kubectl_rollout_workflow(apiserver_factory, managers, kubectl):
    server = apiserver_factory()
    managers(server, "--leader-elect=false")

    async def k(*args: str, timeout: float = 90) -> str:
        r = await asyncio.to_thread(kubectl, *args, "-n", ns, server=server, timeout=timeout)
        assert r.returncode == 0, f"kubectl {' '.join(args)} failed: {r.stderr}"
        return r.stdout

    async with server.client() as client:
        ns = await _new_namespace(client)
        async with PodReadier(client, ns):
            out = await k("create", "deployment", "web", "--image=minik8s/busybox:1", "--replicas=3")
            assert "deployment.apps/web created" in out
            out = await k("rollout", "status", "deploy/web", "--timeout=60s")
            assert 'deployment "web" successfully rolled out' in out

            await k("set", "image", "deploy/web", "busybox=minik8s/busybox:2")
            assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=60s")
            history = await k("rollout", "history", "deploy/web")
            assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

            assert "rolled back" in await k("rollout", "undo", "deploy/web", "--to-revision=1")
            assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=60s")
            assert await k("get", "deploy/web", "-o", "jsonpath={.spec.template.spec.containers[0].image}") \
                == "minik8s/busybox:1"
            history = await k("rollout", "history", "deploy/web")
            assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]

            await k("scale", "deploy/web", "--replicas=5")
            assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=60s")
            row = (await k("get", "deploy/web", "--no-headers")).split()
            assert row[:4] == ["web", "5/5", "5", "5"]

            await k("rollout", "pause", "deploy/web")
            await k("set", "image", "deploy/web", "busybox=minik8s/busybox:3")
            rs_before = await k("get", "rs", "-o", "name")
            await k("rollout", "resume", "deploy/web")
            assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=60s")
            assert len((await k("get", "rs", "-o", "name")).split()) == len(rs_before.split()) + 1

            await k("rollout", "restart", "deploy/web")
            assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=60s")
            history = await k("rollout", "history", "deploy/web")
            assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3", "4", "5"]

            described = await k("describe", "deploy/web")
            assert "ScalingReplicaSet" in described and "deployment-controller" in described
            assert "NewReplicaSetAvailable" in described
