"""kubectl port-forward's cost: the same HTTP transfers through ``kubectl port-forward`` (kubectl
→ WebSocket/SPDY → apiserver → kubelet → the pod's network namespace) beside straight to the
pod's IP from the host (the baseline: one TCP hop on the Docker bridge), measured in the same
run, interleaved.

Starts its own apiserver (temp data dir), one kubelet on the local Docker engine and one pod
running busybox ``httpd`` with a ``--mib`` MiB file of random bytes, then the real kubectl
port-forward. ``--rounds`` times each: (a) download the file (MiB/s), (b) ``--requests``
small GETs one after another, a new connection each (per-connection latency: port-forward
opens two SPDY streams per connection). Prints each figure and the ratio port-forward / direct.
Not a test: numbers, not pass/fail. KEEP=1 keeps the temp dir (apiserver, kubelet and kubectl
logs) for a look afterwards.

Known: a port-forwarded connection among the small GETs after the big downloads sometimes
never ends (every run with ``--mib 16``, one run in three with 1 MiB): the kubelet reads the pod's end of output but never finishes the connection: its
error stream is not FINned; the bench stops with a message saying so (tests/perf/RESULTS.md).

    .venv/bin/python tests/perf/portforward_bench.py [--mib 1] [--rounds 3] [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
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

from minik8s.api.resources import NAMESPACES, PODS, SERVICEACCOUNTS  # noqa: E402
from tests.conftest import ApiServer  # noqa: E402
from tests.kubelet_harness import KubeletProc  # noqa: E402

BUSYBOX = "minik8s/busybox:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def give_pod_cidr(api: ApiServer, node: str, cidr: str) -> None:
    with api.http() as c:
        for _ in range(300):
            if c.get(f"/api/v1/nodes/{node}").status_code == 200:
                r = c.patch(f"/api/v1/nodes/{node}", json={"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                            headers={"Content-Type": "application/merge-patch+json"})
                r.raise_for_status()
                return
            time.sleep(0.1)
    raise SystemExit(f"node {node} did not register")


def fetch(host: str, port: int, path: str) -> int:
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        n = 0
        while chunk := s.recv(1 << 20):
            n += len(chunk)
        return n


def download(host: str, port: int, size: int) -> float:
    start = time.perf_counter()
    got = fetch(host, port, "/big")
    took = time.perf_counter() - start
    if got < size:
        raise SystemExit(f"short read from {host}:{port}: {got} of {size}")
    return size / (1 << 20) / took


def small(host: str, port: int, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        try:
            fetch(host, port, "/index.html")
        except TimeoutError:
            raise SystemExit(f"GET {i + 1} of {n} to {host}:{port} got no end of reply in 20 s") from None
        out.append(time.perf_counter() - start)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    subprocess.run([str(REPO / "tests/images/build.sh")], check=True)
    work = Path(tempfile.mkdtemp(prefix="portforward-bench-"))
    run_id = uuid.uuid4().hex[:8]
    node = f"bench-{run_id}"
    procs: list[subprocess.Popen] = []
    dc = docker.from_env(timeout=120)
    size = args.mib << 20
    # The tests' harness starts the two with the certificates they need to talk to each other
    # (the kubelet's serving certificate of the cluster CA, the apiserver's client one).
    api = ApiServer(data_dir=work / "data", port=free_port(), log_path=work / "apiserver.log")
    kubelet = KubeletProc(server=api, node=node, root=work / "kubelet", log_path=work / "kubelet.log",
                          extra_args=["--cluster-cidr", "10.213.0.0/16"])
    try:
        api.start()
        kubelet.start(wait_ready=False)
        give_pod_cidr(api, node, "10.213.77.0/24")  # node IPAM's job; no controller-manager runs here
        kubelet.wait_node_ready(node, timeout=60)
        kubeconfig = str(api.kubeconfig)
        ns = f"bench-{run_id}"
        serve = (f"mkdir -p /www && echo hi > /www/index.html && head -c {size} /dev/urandom > /www/big && "
                 "exec httpd -f -p 8080 -h /www")
        async with api.client() as client:
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            # No controller-manager here to make the namespace's default ServiceAccount.
            await client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "default"}}, namespace=ns)
            await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pf"},
                                       "spec": {"nodeName": node, "containers": [{
                                           "name": "web", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                           "command": ["sh", "-c", serve]}]}}, namespace=ns)
            for _ in range(600):
                pod = await client.get(PODS, "pf", namespace=ns)
                if any(c["type"] == "Ready" and c["status"] == "True"
                       for c in (pod.get("status") or {}).get("conditions") or []):
                    break
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(f"the pod did not become Ready: {pod.get('status')}")
        pod_ip = pod["status"]["podIP"]
        env = {**os.environ, "HOME": str(work)}
        pf = subprocess.Popen(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", str(work / "cache"), "-n", ns,
                               "port-forward", "pod/pf", ":8080"], stdout=subprocess.PIPE,
                              stderr=open(work / "pf.err", "w"), text=True, env=env)
        procs.append(pf)
        assert pf.stdout is not None
        m = re.search(r"127\.0\.0\.1:(\d+)", pf.stdout.readline())
        if not m:
            raise SystemExit(f"kubectl port-forward did not start: {(work / 'pf.err').read_text()}")
        local = int(m.group(1))
        for _ in range(600):  # httpd starts once the file is written
            try:
                if fetch(pod_ip, 8080, "/index.html"):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        fetch("127.0.0.1", local, "/index.html")  # warm-up, not counted
        direct_mib, pf_mib, direct_lat, pf_lat = [], [], [], []
        for _ in range(args.rounds):
            direct_mib.append(download(pod_ip, 8080, size))
            pf_mib.append(download("127.0.0.1", local, size))
            direct_lat += small(pod_ip, 8080, args.requests)
            pf_lat += small("127.0.0.1", local, args.requests)
        d, p = statistics.median(direct_mib), statistics.median(pf_mib)
        dl, pl = statistics.median(direct_lat), statistics.median(pf_lat)
        print(f"{args.mib} MiB download x {args.rounds}, {args.requests} small GETs x {args.rounds}, "
              f"{os.cpu_count()} cores")
        print(f"direct to pod IP:   {d:8.1f} MiB/s   small GET p50 {dl * 1000:6.2f} ms")
        print(f"kubectl port-forward:{p:7.1f} MiB/s   small GET p50 {pl * 1000:6.2f} ms")
        print(f"ratio port-forward / direct: throughput {p / d:.3f}x, latency {pl / dl:.1f}x")
    finally:
        for proc in reversed(procs):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        kubelet.stop()
        api.stop()
        for c in dc.containers.list(all=True, filters={"label": f"io.minik8s.node={node}"}):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        dc.close()
        if not os.environ.get("KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)


if __name__ == "__main__":
    asyncio.run(main())
