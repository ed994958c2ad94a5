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
and compare), then ``label --overwrite`` and ``scale`` (verbs mkctl still runs on an event
loop). ``--logs`` also starts a kubelet on the local Docker engine (``tests/images/build.sh``
images) with one container printing 200 lines, and times ``logs`` of it.

    .venv/bin/python tests/perf/mkctl_bench.py [--runs 10] [--baseline-repo /tmp/pre] [--logs]
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
import perf_cluster

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


def start_logger(data_dir: Path, port: int, work: Path) -> tuple[subprocess.Popen, str]:
    """A kubelet on the local Docker engine and a pod on it that printed 200 lines; (kubelet, node)."""
    from minik8s import pki

    node = f"mkctl-bench-{os.getpid()}"
    # a serving certificate of the cluster's CA, as minik8s up issues one: the apiserver verifies kubelets
    serving = pki.ensure_serving_cert(pki.ensure_ca(data_dir / "pki"), work / "kubelet-certs", node,
                                      f"system:node:{node}", dns_names=[node], ips=["127.0.0.1"])
    kubelet = subprocess.Popen([sys.executable, "-m", "kubelet.main", "--kubeconfig",
                                str(perf_cluster.kubeconfig(data_dir)), "--node-name", node, "--port", str(free_port()),
                                "--address", "127.0.0.1", "--root-dir", str(work / "kubelet"), "--log-level", "warning",
                                "--tls-cert-file", str(serving.cert_path), "--tls-private-key-file",
                                str(serving.key_path), "--client-ca-file", str(data_dir / "pki" / "ca.crt"),
                                # no controller-manager gives the node a podCIDR here: Docker's default network
                                "--runtime-default-network"],
                               cwd=REPO, stdout=open(work / "kubelet.log", "wb"), stderr=subprocess.STDOUT)
    try:
        perf_cluster.node_ready(data_dir, port, node, timeout=180)
    except BaseException:
        kubelet.terminate()
        kubelet.wait(10)
        raise
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "logger", "namespace": "bench-a"},
           "spec": {"nodeName": node, "containers": [{
               "name": "c", "image": "minik8s/busybox:latest", "imagePullPolicy": "Never",
               "command": ["sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i of the log; i=$((i+1)); done; "
                                       "sleep 3600"]}]}}
    with httpx.Client(base_url=perf_cluster.url(port), verify=perf_cluster.ssl_context(data_dir), timeout=10) as c:
        c.post("/api/v1/namespaces/bench-a/pods", json=pod).raise_for_status()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (c.get("/api/v1/namespaces/bench-a/pods/logger").json().get("status") or {}).get("phase") == "Running":
                return kubelet, node
            time.sleep(0.2)
    kubelet.terminate()
    kubelet.wait(10)
    remove_containers(node)
    raise SystemExit("the logger pod did not run within 120 s (see kubelet.log)")


def remove_containers(node: str) -> None:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.minik8s.node={node}"], capture_output=True,
                         text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


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
    ap.add_argument("--logs", action="store_true", help="also time logs (a kubelet on the local Docker engine)")
    args = ap.parse_args()
    kubelet: subprocess.Popen | None = None
    node = ""

    tmp = Path(tempfile.mkdtemp(prefix="mkctl-bench-"))
    port = free_port()
    server = perf_cluster.start_apiserver(tmp / "data", port, tmp / "apiserver.log",
                                          "--disable-admission-plugins", "ServiceAccount")
    try:
        perf_cluster.wait_ready(tmp / "data", port)
        seed(tmp / "data", port, args.pods)
        if args.logs:
            subprocess.run([str(REPO / "tests/images/build.sh")], check=True, capture_output=True)
            kubelet, node = start_logger(tmp / "data", port, tmp)
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
            *([("logs (200 lines)", ["logs", "logger", "-n", "bench-a"])] if args.logs else []),
            # verbs that still run on an event loop (not in the aim: "no slower than before")
            ("label --overwrite", ["label", "pod", "pod-1", "-n", "bench-b", "bench=1", "--overwrite"]),
            ("scale deployment", ["scale", "deployment", "bench-web", "-n", "bench-a", "--replicas", "3"]),
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
        if kubelet is not None:
            kubelet.terminate()
            kubelet.wait(10)
            remove_containers(node)
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
