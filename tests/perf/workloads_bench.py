"""Workload controllers on hollow nodes: a DaemonSet across N nodes, and a Job of C completions at
parallelism P, in pods per second, beside a ReplicaSet of the same size in the same run.

Every part runs as its own process, as a cluster runs them: the apiserver (temp data dir), one
hollow kubelet process for the N nodes (``python -m kubelet.main --runtime fake --count N``),
the scheduler and the controller-manager. Timed, one after the other:

1. baseline: a ReplicaSet of N replicas, created → ``status.availableReplicas == N``;
2. a DaemonSet, created → ``status.numberAvailable == N`` (one pod per node);
3. its rolling update (image change, ``maxUnavailable: 10%``) → every node's pod updated and
   available again (``kubectl rollout status``'s condition);
4. a Job of C completions at parallelism P whose hollow containers run to completion at once
   (``MINIK8S_HOLLOW_EXIT=0``, kubelet/runtime/fake.py) → ``Complete``;

and prints pods per second for each and the ratios to the ReplicaSet baseline (pods brought up
by the same scheduler and kubelets, so the ratio isolates the controller).

    .venv/bin/python tests/perf/workloads_bench.py [--nodes 200] [--completions 500] [--parallelism 50]

Not a test: numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from minik8s.api.resources import DAEMONSETS, JOBS, NODES, REPLICASETS  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

PY = sys.executable
IMAGE = "minik8s/pause:latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT)


def stop(p: subprocess.Popen | None) -> None:
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


async def until(probe, what: str, timeout: float, interval: float = 0.2) -> float:
    """Seconds until ``probe()`` is true (raises after ``timeout``)."""
    t0 = time.monotonic()
    while True:
        if await probe():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


def template(app: str, image: str = IMAGE, **spec: object) -> dict:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": image, "imagePullPolicy": "IfNotPresent"}],
                     "terminationGracePeriodSeconds": 0, **spec}}


async def run(args: argparse.Namespace, tmp: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["apiserver"] = start([PY, "-m", "apiserver.main", "--data-dir", str(tmp / "data"), "--port", str(port)],
                                   tmp / "apiserver.log")
        async with ApiClient(url) as client:
            async def healthy() -> bool:
                try:
                    await client.list(NODES)
                    return True
                except Exception:
                    return False
            await until(healthy, "the apiserver", 30)
            procs["kubelet"] = start([PY, "-m", "kubelet.main", "--runtime", "fake", "--count", str(args.nodes),
                                      "--node-name", "hollow", "--apiserver", url, "--port", str(free_port()),
                                      "--root-dir", str(tmp / "kubelet"), "--log-level", "warning"],
                                     tmp / "kubelet.log")
            procs["scheduler"] = start([PY, "-m", "scheduler.main", "--apiserver", url, "--leader-elect=false",
                                        "--log-level", "warning"], tmp / "scheduler.log")
            procs["controller-manager"] = start([PY, "-m", "controllers.main", "--apiserver", url,
                                                 "--leader-elect=false", "--log-level", "warning"],
                                                tmp / "controller-manager.log")

            async def nodes_ready() -> bool:
                items = (await client.list(NODES))["items"]
                ready = [n for n in items if any(c["type"] == "Ready" and c["status"] == "True"
                                                 for c in (n.get("status") or {}).get("conditions") or [])
                         and (n.get("spec") or {}).get("podCIDR")]
                return len(ready) >= args.nodes
            t = await until(nodes_ready, f"{args.nodes} Ready nodes", 600, 1.0)
            print(f"{args.nodes} hollow nodes Ready (with podCIDRs) in {t:.1f} s")
            ns = "default"
            n = args.nodes

            # 1. baseline: a ReplicaSet of N.
            await client.create(REPLICASETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "metadata": {"name": "base"},
                                              "spec": {"replicas": n, "selector": {"matchLabels": {"app": "base"}},
                                                       "template": template("base")}}, namespace=ns)

            async def rs_done() -> bool:
                st = (await client.get(REPLICASETS, "base", namespace=ns)).get("status") or {}
                return st.get("availableReplicas") == n
            t_rs = await until(rs_done, "the ReplicaSet", args.timeout)
            await client.delete(REPLICASETS, "base", namespace=ns)

            # 2. a DaemonSet across every node.
            await client.create(DAEMONSETS, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
                                             "spec": {"selector": {"matchLabels": {"app": "ds"}},
                                                      "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
                                                          "maxUnavailable": "10%"}},
                                                      "template": template("ds")}}, namespace=ns)

            async def ds_done() -> bool:
                ds = await client.get(DAEMONSETS, "ds", namespace=ns)
                st = ds.get("status") or {}
                return (st.get("observedGeneration") == ds["metadata"]["generation"]
                        and st.get("desiredNumberScheduled") == n and st.get("numberAvailable") == n
                        and st.get("updatedNumberScheduled") == n)
            t_ds = await until(ds_done, "the DaemonSet", args.timeout)

            # 3. its rolling update.
            await client.patch(DAEMONSETS, "ds", {"spec": {"template": {"metadata": {"annotations": {
                "bench/rev": "2"}}}}}, namespace=ns, patch_type="merge")
            t_roll = await until(ds_done, "the DaemonSet rolling update", args.timeout)
            await client.delete(DAEMONSETS, "ds", namespace=ns)

            # 4. a Job whose pods run to completion.
            job_tpl = template("job", restartPolicy="Never")
            job_tpl["spec"]["containers"][0]["env"] = [{"name": "MINIK8S_HOLLOW_EXIT", "value": "0"}]
            await client.create(JOBS, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch"},
                                       "spec": {"completions": args.completions, "parallelism": args.parallelism,
                                                "template": job_tpl}}, namespace=ns)

            async def job_done() -> bool:
                st = (await client.get(JOBS, "batch", namespace=ns)).get("status") or {}
                return any(c["type"] == "Complete" and c["status"] == "True" for c in st.get("conditions") or [])
            t_job = await until(job_done, "the Job", args.timeout, 0.5)
            st = (await client.get(JOBS, "batch", namespace=ns))["status"]
    finally:
        for name in ("controller-manager", "scheduler", "kubelet", "apiserver"):
            stop(procs.get(name))

    rs_rate = n / t_rs
    print(f"workloads on {n} hollow nodes (one hollow kubelet process), {os.cpu_count()} cores")
    print(f"  ReplicaSet of {n} (baseline)       : {t_rs:7.1f} s  {rs_rate:7.1f} pods/s")
    print(f"  DaemonSet on {n} nodes             : {t_ds:7.1f} s  {n / t_ds:7.1f} pods/s  "
          f"ratio to baseline {n / t_ds / rs_rate:5.2f}")
    print(f"  DaemonSet rolling update (10%)     : {t_roll:7.1f} s  {n / t_roll:7.1f} pods/s  "
          f"ratio to baseline {n / t_roll / rs_rate:5.2f}")
    print(f"  Job {args.completions} completions at parallelism {args.parallelism}: {t_job:7.1f} s  "
          f"{args.completions / t_job:7.1f} pods/s  ratio to baseline {args.completions / t_job / rs_rate:5.2f}"
          f"  (succeeded {st.get('succeeded')}, failed {st.get('failed', 0)})")
    print(f"  machine load average (1 min)       : {os.getloadavg()[0]:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--completions", type=int, default=500)
    ap.add_argument("--parallelism", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="workloads-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
