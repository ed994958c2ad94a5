"""The kubelet's /stats/summary cost per pod, beside Docker's own ``docker stats --no-stream``.

Starts its own apiserver (scrapes off: ``--metric-resolution 0``) and one kubelet on the local
Docker engine with ``--housekeeping-interval 1``, so every request below makes a sweep. For
each pod count in ``--pods`` (busybox pods sleeping; each is a sandbox plus a container):

* idle: the kubelet's CPU time (utime + stime of its process) over ``--seconds`` with nobody
  asking for stats;
* stats: the same span with a /stats/summary request every second (one sweep each), timed;
* peer: ``docker stats --no-stream`` over the same containers (Docker's CLI reading every
  container's stats once), once a second over the same span, timed.

Printed: kubelet CPU per sweep (stats minus idle), per pod per sweep, the request's p50 against
the peer's p50 (a ratio). Not a test: numbers, not pass/fail.

    .venv/bin/python tests/perf/stats_bench.py [--pods 10 30] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker
import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import perf_cluster  # noqa: E402 - beside this file

from minik8s.api.resources import NAMESPACES, PODS, SERVICEACCOUNTS  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

BUSYBOX = "minik8s/busybox:latest"
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def p50(values: list[float]) -> float:
    return statistics.median(values)


async def run_pods(client: ApiClient, ns: str, node: str, start: int, count: int) -> None:
    for i in range(start, start + count):
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"}, "spec": {
            "nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "c", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}],
            "automountServiceAccountToken": False}},
            namespace=ns)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        pods = (await client.list(PODS, namespace=ns))["items"]
        if sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running") >= start + count:
            return
        await asyncio.sleep(0.5)
    raise SystemExit("pods not Running in time")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, nargs="+", default=[10, 30])
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    subprocess.run([str(REPO / "tests/images/build.sh")], check=True)
    work = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    run_id = uuid.uuid4().hex[:8]
    node = f"statsbench-{run_id}"
    api_port, kubelet_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    dc = docker.from_env(timeout=120)
    data = work / "data"
    try:
        procs.append(perf_cluster.start_apiserver(data, api_port, work / "apiserver.log", "--metric-resolution", "0"))
        perf_cluster.wait_ready(data, api_port)
        kubeconfig = str(perf_cluster.kubeconfig(data))
        kubelet = subprocess.Popen([sys.executable, "-m", "kubelet.main", "--kubeconfig", kubeconfig, "--node-name",
                                    node, "--port", str(kubelet_port), "--address", "127.0.0.1", "--root-dir",
                                     str(work / "kubelet"), "--log-level", "warning", "--housekeeping-interval", "1",
                                    "--client-ca-file", str(data / "pki" / "ca.crt"), "--runtime-default-network"],
                                   cwd=REPO, stdout=open(work / "kubelet.log", "wb"), stderr=subprocess.STDOUT)
        procs.append(kubelet)
        try:
            perf_cluster.node_ready(data, api_port, node)
        except SystemExit:
            print((work / "kubelet.log").read_text()[-3000:])
            with httpx.Client(verify=perf_cluster.ssl_context(data)) as c:
                print(c.get(f"{perf_cluster.url(api_port)}/api/v1/nodes/{node}").json().get("status", {}).get(
                    "conditions"))
            raise
        # the admin certificate (system:masters) on the kubelet's self-signed serving certificate
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(str(data / "pki" / "admin.crt"), str(data / "pki" / "admin.key"))
        http = httpx.Client(base_url=f"https://127.0.0.1:{kubelet_port}", verify=ctx, timeout=30)
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            ns = f"bench-{run_id}"
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            # no controller-manager here to make the namespace's default ServiceAccount
            await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "default"}}, namespace=ns)
            made = 0
            print(f"{os.cpu_count()} cores, {args.seconds:.0f} s per phase, one sweep per request")
            print("pods  idle CPU ms/s  stats CPU ms/sweep  per pod  summary p50  docker stats p50  ratio")
            for count in args.pods:
                await run_pods(client, ns, node, made, count - made)
                made = count
                await asyncio.sleep(3)  # let the starts settle
                http.get("/stats/summary").raise_for_status()  # warm-up sweep
                ids = [c.id for c in dc.containers.list(filters={"label": f"io.minik8s.node={node}"})]

                c0, t0 = cpu_seconds(kubelet.pid), time.monotonic()
                await asyncio.sleep(args.seconds)
                idle_rate = (cpu_seconds(kubelet.pid) - c0) / (time.monotonic() - t0)

                latencies: list[float] = []
                c0, t0 = cpu_seconds(kubelet.pid), time.monotonic()
                while time.monotonic() - t0 < args.seconds:
                    s = time.perf_counter()
                    body = http.get("/stats/summary").json()
                    latencies.append(time.perf_counter() - s)
                    assert len(body["pods"]) == count
                    await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - s)))
                span = time.monotonic() - t0
                stats_cpu = cpu_seconds(kubelet.pid) - c0 - idle_rate * span
                per_sweep = stats_cpu / len(latencies)

                peer: list[float] = []
                t0 = time.monotonic()
                while time.monotonic() - t0 < args.seconds:
                    s = time.perf_counter()
                    subprocess.run(["docker", "stats", "--no-stream", *ids], capture_output=True, check=True)
                    peer.append(time.perf_counter() - s)
                    await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - s)))
                print(f"{count:4d}  {idle_rate * 1000:12.1f}  {per_sweep * 1000:18.1f}  "
                      f"{per_sweep * 1000 / count:7.2f}  {p50(latencies) * 1000:8.0f} ms  "
                      f"{p50(peer) * 1000:13.0f} ms  {p50(latencies) / p50(peer):5.2f}x")
        http.close()
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        for c in dc.containers.list(all=True, filters={"label": f"io.minik8s.node={node}"}):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        dc.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
