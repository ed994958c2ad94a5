"""The highly available control plane under faults (issue #12): a three-member etcd cluster, two
control-plane hosts (``minik8s up`` on that etcd, then ``minik8s join --control-plane``: two
apiservers, two schedulers and two controller-managers, leader-elected) and a hollow node. During
a stream of creates (through a client whose kubeconfig lists both apiservers) and a Deployment
scale, SIGKILL the etcd leader, then one apiserver, then the leading scheduler and
controller-manager. Checked: no acknowledged write lost, the Deployment converges with exactly
its replicas (no duplicate pods). Printed, not asserted: the failover times (writes flowing again,
a new etcd leader, new scheduler and controller-manager leaders). Every process is on loopback of
this machine (the "hosts" are data dirs and ports), and the supervisors restart what is killed,
as they would on real hosts."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

from minik8s import errors
from minik8s.api.resources import CONFIGMAPS, DEPLOYMENTS, PODS
from tests.conftest import ApiServer, pick_free_port
from tests.etcd_harness import require_etcd, start_etcd_cluster
from tests.integration.test_etcd_member_loss import leader
from tests.integration.test_join_control_plane import JOIN_LINE, _join, _stop_hosts, _tail
from tests.minik8s_up_harness import Up, wait_until

NS = "default"
REPLICAS = 12


def _holder(http, name: str) -> str:
    return (http.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}").json()
            .get("spec") or {}).get("holderIdentity") or ""


def _pid_of(hosts: list[tuple[Up, str]], component: str, identity: str) -> int:
    """The pid of the ``component`` whose log names ``identity`` (its leader-election identity)."""
    for host, _ in hosts:
        log = host.data_dir / "logs" / f"{component}.log"
        if identity and identity in log.read_text(errors="replace"):
            return host.state()["components"][component]["pid"]
    raise AssertionError(f"no {component} with identity {identity!r}")


async def test_control_plane_survives_etcd_apiserver_and_leader_loss(tmp_path) -> None:
    require_etcd()
    members = start_etcd_cluster(tmp_path / "etcd")
    etcd = ",".join(m.url for m in members)
    first = Up(data_dir=tmp_path / "first" / "data", port=pick_free_port(), kubelet_port=pick_free_port(),
               node=f"hafault-{uuid.uuid4().hex[:6]}",
               # each component its own process: a fault here is one component's, not its host's
               extra_args=("--process-per-component", f"--apiserver-arg=etcd-servers={etcd}", "--runtime", "fake",
                           "--disable-proxy", "--disable-dns", "--max-pods", "200"))
    first.data_dir.parent.mkdir(parents=True)
    second = Up(data_dir=tmp_path / "second" / "data", port=pick_free_port(), kubelet_port=0, node="")
    second.data_dir.parent.mkdir(parents=True)
    joiner = None
    figures: list[str] = []
    try:
        first.start()
        url, token, pin, key = JOIN_LINE.search(first.out_path.read_text()).groups()
        out2 = second.data_dir.parent / "join.out"
        joiner = _join(second.data_dir, url, token, pin, key, second.port, out2, "--process-per-component")
        wait_until(lambda: "minik8s is up:" in out2.read_text(), "the second control-plane host up",
                   diag=lambda: out2.read_text() + _tail(second.data_dir / "logs" / "apiserver.log"))
        hosts = [(first, "first"), (second, "second")]
        api1 = first.api
        # The second host's admin kubeconfig: its own apiserver, then the first (failover).
        api2 = ApiServer(data_dir=second.data_dir, port=second.port, log_path=second.data_dir / "logs" / "x.log")
        async with api2.client(timeout=10) as client:
            deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
                      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                               "template": {"metadata": {"labels": {"app": "web"}},
                                            "spec": {"containers": [{"name": "c", "image": "minik8s/pause:latest"}]}}}}
            await client.create(DEPLOYMENTS, deploy, namespace=NS)

            acked: list[tuple[str, float]] = []
            unknown: list[str] = []  # a create whose answer was lost: it may or may not have landed
            refused: list[str] = []
            stop = asyncio.Event()

            async def writer() -> None:
                i = 0
                while not stop.is_set():
                    name = f"w{i}"
                    i += 1
                    try:
                        await client.create(CONFIGMAPS, {"metadata": {"name": name}}, namespace=NS)
                        acked.append((name, time.monotonic()))
                    except errors.ConnectionFailed:
                        unknown.append(name)
                        await asyncio.sleep(0.05)
                    except errors.ApiError as e:
                        refused.append(f"{name}: {e.code} {e}")
                        await asyncio.sleep(0.05)

            async def resumed(after: float) -> float:
                """Seconds from ``after`` to the first write acknowledged after it."""
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    later = [t for _, t in acked if t > after]
                    if len(later) >= 3:
                        return later[0] - after
                    await asyncio.sleep(0.05)
                raise AssertionError(f"writes did not resume; refused: {refused[-3:]}, unknown: {unknown[-3:]}")

            task = asyncio.create_task(writer())
            try:
                await resumed(time.monotonic())
                await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": REPLICAS}}, namespace=NS,
                                   patch_type="merge")

                # 1. The etcd leader.
                lost = await asyncio.to_thread(leader, members)
                t0 = time.monotonic()
                members[lost].kill()
                figures.append(f"etcd leader SIGKILLed: writes again after {await resumed(t0):.2f}s")
                while True:
                    try:
                        new = await asyncio.to_thread(leader, members)
                        break
                    except Exception:
                        await asyncio.sleep(0.1)
                figures.append(f"  new etcd leader (member {new}) seen after {time.monotonic() - t0:.2f}s")

                # 2. The apiserver this client uses (the second host's): it fails over to the first.
                pid = second.state()["components"]["apiserver"]["pid"]
                t0 = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                figures.append(f"apiserver SIGKILLed: writes again after {await resumed(t0):.2f}s "
                               f"(client now on {client.server})")

                # 3. The leading scheduler and controller-manager.
                with api1.http(timeout=30) as h1:
                    for lease, component in (("kube-scheduler", "scheduler"),
                                             ("kube-controller-manager", "controller-manager")):
                        holder = _holder(h1, lease)
                        victim = _pid_of(hosts, component, holder)
                        t0 = time.monotonic()
                        os.kill(victim, signal.SIGKILL)
                        deadline = t0 + 90
                        while _holder(h1, lease) in ("", holder):
                            assert time.monotonic() < deadline, f"no new {lease} leader"
                            await asyncio.sleep(0.2)
                        figures.append(f"leading {component} SIGKILLed: new leader after {time.monotonic() - t0:.2f}s")
                await resumed(time.monotonic())
            finally:
                stop.set()
                await task

            # The Deployment converges with exactly its replicas.
            async def converged() -> bool:
                d = await client.get(DEPLOYMENTS, "web", namespace=NS)
                return (d.get("status") or {}).get("availableReplicas") == REPLICAS

            t0 = time.monotonic()
            deadline = t0 + 120
            while not await converged():
                assert time.monotonic() < deadline, "the Deployment did not converge"
                await asyncio.sleep(0.5)
            pods = (await client.list(PODS, namespace=NS, label_selector="app=web"))["items"]
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            assert len(live) == REPLICAS, [p["metadata"]["name"] for p in live]
            assert all(p["spec"].get("nodeName") == first.node for p in live)
            # No acknowledged write lost.
            names = {o["metadata"]["name"] for o in (await client.list_all(CONFIGMAPS, namespace=NS))["items"]}
            missing = [n for n, _ in acked if n not in names]
            assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
            landed_unknown = sum(1 for n in unknown if n in names)
            assert not refused, refused[:3]
        figures.append(f"{len(acked)} creates acknowledged, none lost; {len(unknown)} answers lost with their "
                       f"apiserver ({landed_unknown} of those had landed); Deployment at {REPLICAS} replicas, "
                       f"{len(live)} pods")
        print("\nHA fault test:\n  " + "\n  ".join(figures))
    finally:
        _stop_hosts(first, joiner, second.data_dir)
        for m in members:
            m.stop()

