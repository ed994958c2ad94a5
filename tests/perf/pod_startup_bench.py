"""Pod startup latency: create → Ready for single-container pods, beside raw Docker.

Starts its own apiserver (temp data dir) and one kubelet on the local Docker engine, then,
``--pods`` times one after another: (a) the raw baseline -- a pause container and a busybox
container joined to its network namespace, started with the docker SDK exactly as a pod's two
containers are; (b) a Pod bound to the kubelet's node, timed from the create request until a
watch shows its Ready condition True. The two are interleaved so both see the same machine.
Prints p50/p99 of each and the ratios. Not a test: numbers, not pass/fail.

    .venv/bin/python tests/perf/pod_startup_bench.py [--pods 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
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

from minik8s.api.resources import NAMESPACES, PODS, SERVICEACCOUNTS  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

BUSYBOX = "minik8s/busybox:latest"
PAUSE = "minik8s/pause:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def raw_pair(dc: docker.DockerClient, run_id: str, i: int) -> float:
    """Seconds to start a pause container plus a busybox joined to it, as a pod's two are."""
    t0 = time.perf_counter()
    sandbox = dc.containers.run(PAUSE, detach=True, name=f"bench-raw-{run_id}-{i}-pod",
                                labels={"bench": run_id}, ipc_mode="shareable")
    dc.containers.run(BUSYBOX, ["sleep", "600"], detach=True, name=f"bench-raw-{run_id}-{i}-app",
                      labels={"bench": run_id}, network_mode=f"container:{sandbox.id}",
                      ipc_mode=f"container:{sandbox.id}")
    return time.perf_counter() - t0


async def pod_ready(client: ApiClient, namespace: str, node: str, i: int) -> float:
    name = f"p{i}"
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            # No token volume: its kube-root-ca.crt comes from a controller that does not run here,
            # and the raw pair beside it mounts nothing either.
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                     "containers": [{"name": "app", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "600"]}]}}
    t0 = time.perf_counter()
    created = await client.create(PODS, body, namespace=namespace)
    rv = created["metadata"]["resourceVersion"]
    stream = client.watch(PODS, namespace=namespace, resource_version=rv,
                          field_selector=f"metadata.name={name}", timeout_seconds=120)
    async with contextlib.aclosing(stream):
        async for ev in stream:
            conds = (ev.object.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conds):
                return time.perf_counter() - t0
    raise RuntimeError(f"pod {name} never became Ready")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=50)
    args = ap.parse_args()
    subprocess.run([str(REPO / "tests/images/build.sh")], check=True)
    work = Path(tempfile.mkdtemp(prefix="pod-startup-bench-"))
    run_id = uuid.uuid4().hex[:8]
    node = f"bench-{run_id}"
    api_port, kubelet_port = free_port(), free_port()
    procs = []
    dc = docker.from_env(timeout=120)
    try:
        procs.append(perf_cluster.start_apiserver(work / "data", api_port, work / "apiserver.log"))
        perf_cluster.wait_ready(work / "data", api_port)
        kubeconfig = str(perf_cluster.kubeconfig(work / "data"))
        procs.append(subprocess.Popen([sys.executable, "-m", "kubelet.main", "--kubeconfig", kubeconfig, "--node-name", node,
                                       "--port", str(kubelet_port), "--address", "127.0.0.1",
                                       "--root-dir", str(work / "kubelet"), "--log-level", "warning",
                                       # no controller-manager gives the node a podCIDR here (since
                                       # 75f9613 pods wait for one): Docker's default network, as before
                                       "--runtime-default-network"],
                                      cwd=REPO, stdout=open(work / "kubelet.log", "wb"), stderr=subprocess.STDOUT))
        perf_cluster.node_ready(work / "data", api_port, node)
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            ns = f"bench-{run_id}"
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            # No controller-manager runs here: its ServiceAccount controller's default account,
            # which the ServiceAccount admission plugin requires of every pod, is made by hand.
            await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "default"}}, namespace=ns)
            # Warm-up (first image inspect, first connection): not counted, for either side.
            await asyncio.to_thread(raw_pair, dc, run_id, -1)
            await pod_ready(client, ns, node, -1)
            raw, pods = [], []
            for i in range(args.pods):
                raw.append(await asyncio.to_thread(raw_pair, dc, run_id, i))
                pods.append(await pod_ready(client, ns, node, i))
        r50, r99, p50, p99 = pct(raw, 50), pct(raw, 99), pct(pods, 50), pct(pods, 99)
        print(f"{args.pods} pods, one after another, on {os.cpu_count()} cores")
        print(f"raw docker (pause + app, docker SDK): p50 {r50 * 1000:7.1f} ms   p99 {r99 * 1000:7.1f} ms")
        print(f"minik8s create -> Ready:              p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms")
        print(f"ratio minik8s / raw:                  p50 {p50 / r50:7.2f}x     p99 {p99 / r99:7.2f}x")
        print(f"(mean raw {statistics.mean(raw) * 1000:.1f} ms, mean pod {statistics.mean(pods) * 1000:.1f} ms)")
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        for label in (f"bench={run_id}", f"io.minik8s.node={node}"):
            for c in dc.containers.list(all=True, filters={"label": label}):
                with contextlib.suppress(docker.errors.APIError):
                    c.remove(force=True)
        dc.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
