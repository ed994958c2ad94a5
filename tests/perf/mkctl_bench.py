"""mkctl against the real kubectl, on the same requests to the same apiserver (issue #18).

Starts an apiserver of its own (HTTPS, its admin kubeconfig; a node, a few dozen pods in three
namespaces, a Deployment manifest), then for each command runs kubectl and mkctl alternately,
``--runs`` times each after one warm-up run of each (the discovery caches and the bytecode
caches are warm, as for a user's second command), and prints the median wall time of each and
their ratio. ``--baseline-repo DIR`` also runs the mkctl of another checkout in the same
rotation (e.g. ``git worktree add /tmp/pre <commit before the work>``), for "no command slower
than before".

mkctl runs as ``python -m minik8s.cli.main`` from the checkout it belongs to, with bytecode
writing allowed (``PYTHONDONTWRITEBYTECODE`` unset): an installed mkctl runs from compiled
bytecode. Each tool has its own ``--cache-dir``. Commands: ``get nodes``, ``get pods -A``,
``describe pod``, ``apply -f`` of one Deployment (unchanged after the warm-up, so both GET
and compare), ``logs`` is not here: it needs a running container (a kubelet and Docker).

    .venv/bin/python tests/perf/mkctl_bench.py [--runs 10] [--baseline-repo /tmp/pre]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perf_cluster  # noqa: E402

REPO = perf_cluster.REPO
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench-web
  namespace: bench-a
  labels: {app: bench-web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: bench-web}
  template:
    metadata:
      labels: {app: bench-web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: bench}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(data_dir: Path, port: int, pods: int) -> None:
    """A node, namespaces bench-a/b/c with ``pods`` pods among them, and one pod to describe."""
    ctx: ssl.SSLContext = perf_cluster.ssl_context(data_dir)
    with httpx.Client(base_url=perf_cluster.url(port), verify=ctx, timeout=10) as c:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bench-node",
                                                                "labels": {"kubernetes.io/hostname": "bench-node"}}}
        c.post("/api/v1/nodes", json=node).raise_for_status()
        for ns in ("bench-a", "bench-b", "bench-c"):
            c.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
        for i in range(pods):
            ns = ("bench-a", "bench-b", "bench-c")[i % 3]
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"pod-{i}", "namespace": ns, "labels": {"app": "bench", "i": str(i)}},
                   "spec": {"containers": [{"name": "c", "image": "busybox:latest", "command": ["sleep", "3600"],
                                            "resources": {"requests": {"cpu": "10m"}}}]}}
            c.post(f"/api/v1/namespaces/{ns}/pods", json=pod).raise_for_status()


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--pods", type=int, default=30)
    ap.add_argument("--baseline-repo", default=None, help="another checkout whose mkctl runs in the same rotation")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mkctl-bench-"))
    port = free_port()
    server = perf_cluster.start_apiserver(tmp / "data", port, tmp / "apiserver.log",
                                          "--disable-admission-plugins", "ServiceAccount")
    try:
        perf_cluster.wait_ready(tmp / "data", port)
        seed(tmp / "data", port, args.pods)
        manifest = tmp / "deployment.yaml"
        manifest.write_text(DEPLOYMENT)
        kubeconfig = str(perf_cluster.kubeconfig(tmp / "data"))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"KUBECONFIG": kubeconfig, "HOME": str(tmp)})
        tools: list[tuple[str, list[str], Path]] = [
            ("kubectl", [KUBECTL, "--cache-dir", str(tmp / "kubectl-cache")], tmp),
            ("mkctl", [sys.executable, "-m", "minik8s.cli.main", "--cache-dir", str(tmp / "mkctl-cache")], REPO),
        ]
        if args.baseline_repo:
            tools.append(("baseline", [sys.executable, "-m", "minik8s.cli.main", "--cache-dir",
                                       str(tmp / "baseline-cache")], Path(args.baseline_repo).resolve()))
        commands = [
            ("get nodes", ["get", "nodes"]),
            ("get pods -A", ["get", "pods", "-A"]),
            ("describe pod", ["describe", "pod", "pod-0", "-n", "bench-a"]),
            ("apply -f (1 Deployment)", ["apply", "-f", str(manifest)]),
        ]
        print(f"apiserver https://127.0.0.1:{port}, {args.pods} pods, {args.runs} runs of each tool, interleaved; "
              f"median wall seconds (and median CPU seconds, user + system)")
        head = f"{'command':26} {'kubectl':>8} {'mkctl':>8} {'ratio':>6} {'cpu k':>7} {'cpu m':>7} {'ratio':>6}"
        if args.baseline_repo:
            head += f" {'before':>8} {'speed-up':>8}"
        print(head)
        for label, argv in commands:
            for _, base, cwd in tools:  # warm-up: caches filled, the Deployment created
                timed([*base, *argv], env, cwd)
            times: dict[str, list[float]] = {name: [] for name, _, _ in tools}
            cpus: dict[str, list[float]] = {name: [] for name, _, _ in tools}
            for _ in range(args.runs):
                for name, base, cwd in tools:
                    wall, cpu = timed([*base, *argv], env, cwd)
                    times[name].append(wall)
                    cpus[name].append(cpu)
            k, m = statistics.median(times["kubectl"]), statistics.median(times["mkctl"])
            ck, cm = statistics.median(cpus["kubectl"]), statistics.median(cpus["mkctl"])
            line = f"{label:26} {k:8.3f} {m:8.3f} {m / k:6.2f} {ck:7.3f} {cm:7.3f} {cm / ck:6.2f}"
            if args.baseline_repo:
                b = statistics.median(times["baseline"])
                line += f" {b:8.3f} {b / m:7.2f}x"
            print(line, flush=True)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
