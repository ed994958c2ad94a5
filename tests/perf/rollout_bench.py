"""Rollout speed: a 50-replica Deployment on one real Docker node, beside Docker Swarm.

minik8s side: its own apiserver (temp data dir), scheduler, controller-manager and one kubelet
on the local engine. Timed: (1) creating a Deployment of ``--replicas`` until its status shows
them all Ready and available; (2) changing its image until every replica is updated, Ready,
and the old ones are gone from the status (RollingUpdate, Kubernetes' default 25%/25%).

Swarm side, same machine, same run: ``docker service create --replicas N`` until N tasks are
running, then ``docker service update --image`` until N tasks of the new image run and none of
the old — once with Swarm's defaults (parallelism 1, stop-first) and once with parallelism
matching Kubernetes' 25% (``--update-parallelism ceil(N/4)``), so the comparison is shown both
ways. Both run the same local image (two tags of the test busybox) with a command that exits
at once on SIGTERM, so neither waits out a grace period. Prints seconds and ratios.

    .venv/bin/python tests/perf/rollout_bench.py [--replicas 50]

Not a test: numbers, not pass/fail. Swarm is initialised if the engine is not in one, and left
again at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import perf_cluster  # noqa: E402 - beside this file

from minik8s.api.resources import DEPLOYMENTS, NAMESPACES  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

BUSYBOX = "minik8s/busybox:latest"
V1, V2 = "minik8s/busybox:rollout-bench-1", "minik8s/busybox:rollout-bench-2"
# Exits at once on SIGTERM (a bare `sleep` as PID 1 would ignore it and wait out the grace).
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
POLL = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- minik8s ----------------------------------------------------------------------------------

NAMES: list[str] = []
CPU: dict[str, float] = {}  # component -> CPU seconds used over both phases


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), to show where the machine's time went."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deployment(n: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"}},
                                  "spec": {"terminationGracePeriodSeconds": 5,
                                           "containers": [{"name": "main", "image": V1, "command": COMMAND}]}}}}


async def wait_rolled_out(client: ApiClient, ns: str, n: int, image: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = await client.get(DEPLOYMENTS, "bench", namespace=ns)
        st = d.get("status") or {}
        if (d["spec"]["template"]["spec"]["containers"][0]["image"] == image
                and (st.get("observedGeneration") or 0) >= d["metadata"]["generation"]
                and st.get("updatedReplicas") == n and st.get("replicas") == n
                and st.get("readyReplicas") == n and st.get("availableReplicas") == n):
            return
        await asyncio.sleep(POLL)
    raise SystemExit(f"minik8s: deployment not rolled out to {image} within {timeout}s")


async def minik8s_run(n: int, work: Path, node: str) -> tuple[float, float]:
    api_port, kubelet_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    kubeconfig = str(perf_cluster.kubeconfig(work / "data"))

    def spawn(name: str, *cmd: str) -> None:
        NAMES.append(name)
        procs.append(subprocess.Popen([sys.executable, "-m", *cmd], cwd=REPO,
                                      stdout=open(work / f"{name}.log", "wb"), stderr=subprocess.STDOUT))
    try:
        spawn("apiserver", "apiserver.main", "--data-dir", str(work / "data"), "--port", str(api_port),
              "--log-level", "warning")
        perf_cluster.wait_ready(work / "data", api_port)
        spawn("kubelet", "kubelet.main", "--kubeconfig", kubeconfig, "--node-name", node, "--port", str(kubelet_port),
              "--address", "127.0.0.1", "--root-dir", str(work / "kubelet"), "--log-level", "warning",
              # the node must be Ready before the controller-manager (node IPAM) starts below
              "--runtime-default-network")
        perf_cluster.node_ready(work / "data", api_port, node)
        spawn("scheduler", "scheduler.main", "--kubeconfig", kubeconfig, "--leader-elect=false", "--log-level", "warning")
        spawn("controller-manager", "controllers.main", "--kubeconfig", kubeconfig, "--leader-elect=false",
              "--log-level", os.environ.get("CM_LOG_LEVEL", "warning"))
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            ns = "bench"
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            await asyncio.sleep(2.0)  # let the scheduler and controllers list and start watching
            t0 = time.perf_counter()
            await client.create(DEPLOYMENTS, deployment(n), namespace=ns)
            await wait_rolled_out(client, ns, n, V1)
            t_create = time.perf_counter() - t0
            t0 = time.perf_counter()
            await client.patch(DEPLOYMENTS, "bench", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": V2}]}}}}, namespace=ns, patch_type="strategic")
            await wait_rolled_out(client, ns, n, V2)
            t_update = time.perf_counter() - t0
            CPU.update({name: cpu_seconds(p.pid) for name, p in zip(NAMES, procs)})
            # Leave nothing running: delete, and let the kubelet stop the pods.
            await client.delete(DEPLOYMENTS, "bench", namespace=ns, propagation_policy="Foreground")
        return t_create, t_update
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(15)
            if p.poll() is None:
                p.kill()


# -- Swarm ------------------------------------------------------------------------------------

def swarm_running(dc: docker.DockerClient, service, image: str) -> tuple[int, int]:
    """(running tasks of ``image``, running tasks of any other image)."""
    ours = others = 0
    for t in service.tasks(filters={"desired-state": "running"}) + service.tasks(filters={"desired-state": "shutdown"}):
        if (t.get("Status") or {}).get("State") != "running":
            continue
        img = ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Image", "")
        if img.split("@")[0] == image:
            ours += 1
        else:
            others += 1
    return ours, others


def wait_swarm(dc: docker.DockerClient, service, n: int, image: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ours, others = swarm_running(dc, service, image)
        if ours == n and others == 0:
            return
        time.sleep(POLL)
    raise SystemExit(f"swarm: service not at {n} x {image} within {timeout}s")


def swarm_run(dc: docker.DockerClient, n: int, run_id: str, *, parallelism: int | None) -> tuple[float, float]:
    name = f"rollout-bench-{run_id}-{parallelism or 'default'}"
    create = ["docker", "service", "create", "--detach", "--quiet", "--name", name, "--replicas", str(n),
              "--stop-grace-period", "5s", V1, *COMMAND]
    update = ["docker", "service", "update", "--detach", "--quiet", "--image", V2]
    if parallelism:
        update += ["--update-parallelism", str(parallelism)]
    try:
        t0 = time.perf_counter()
        subprocess.run(create, check=True, capture_output=True)
        service = dc.services.get(name)
        wait_swarm(dc, service, n, V1)
        t_create = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([*update, name], check=True, capture_output=True)
        wait_swarm(dc, service, n, V2)
        t_update = time.perf_counter() - t0
        return t_create, t_update
    finally:
        subprocess.run(["docker", "service", "rm", name], capture_output=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and dc.containers.list(all=True, sparse=True, filters={"label": f"com.docker.swarm.service.name={name}"}):
            time.sleep(0.2)


# -- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=50)
    ap.add_argument("--skip-swarm", action="store_true")
    args = ap.parse_args()
    n = args.replicas
    subprocess.run([str(REPO / "tests/images/build.sh")], check=True, capture_output=True)
    dc = docker.from_env(timeout=300)
    busybox = dc.images.get(BUSYBOX)
    for tag in (V1, V2):
        repo, _, t = tag.partition(":")
        busybox.tag(repo, t)
    run_id = uuid.uuid4().hex[:8]
    node = f"rollout-bench-{run_id}"
    work = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
    joined_swarm = False
    results: dict[str, tuple[float, float]] = {}
    try:
        results["minik8s (RollingUpdate 25%/25%)"] = asyncio.run(minik8s_run(n, work, node))
        # The kubelet is gone: remove whatever it left so Swarm starts on an idle engine.
        for c in dc.containers.list(all=True, sparse=True, filters={"label": f"io.minik8s.node={node}"}):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        if not args.skip_swarm:
            if dc.info().get("Swarm", {}).get("LocalNodeState") != "active":
                subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True,
                               capture_output=True)
                joined_swarm = True
            results["swarm (defaults: parallelism 1, stop-first)"] = swarm_run(dc, n, run_id, parallelism=None)
            par = math.ceil(n / 4)
            results[f"swarm (--update-parallelism {par})"] = swarm_run(dc, n, run_id, parallelism=par)
    finally:
        if joined_swarm:
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
        for tag in (V1, V2):
            with contextlib.suppress(docker.errors.APIError):
                dc.images.remove(tag)
        dc.close()

    print(f"{n} replicas on one node, {os.cpu_count()} cores; logs in {work}")
    print(f"{'':48} {'create → all Ready':>20} {'image change → all updated':>28}")
    for label, (c, u) in results.items():
        print(f"{label:48} {c:18.2f} s {u:26.2f} s")
    if CPU:
        print("minik8s CPU seconds (start-up included): " + ", ".join(f"{k} {v:.1f}" for k, v in CPU.items()))
    mk = next(iter(results.values()))
    for label, (c, u) in list(results.items())[1:]:
        print(f"ratio minik8s / {label}: create {mk[0] / c:.2f}x, update {mk[1] / u:.2f}x")


if __name__ == "__main__":
    main()
