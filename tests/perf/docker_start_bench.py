"""What Docker itself costs for what a pod start asks of it, beside what a Swarm task asks.

On the local engine, 30 (``--count``) at once (``--concurrency`` threads), each kind in turn
and alternating over ``--rounds``, everything removed between kinds:

- ``task``: one busybox container on Docker's default bridge -- what Swarm starts per task of
  a service with no network of its own;
- ``pod-bridge``: a pod as the kubelet starts it on the default bridge (``--runtime-default-network``):
  the pause sandbox, then a busybox joined to its network and IPC namespaces;
- ``pod-network``: the same pair with the sandbox on a user-defined bridge network, as on a node
  with its podCIDR (Docker then sets up its embedded DNS resolver in every sandbox);
- ``sandbox-bridge`` / ``sandbox-network``: the pause container alone on each, to split the two.

Prints seconds per kind and round, and the ratios to ``task``. Not a test: numbers only.

    .venv/bin/python tests/perf/docker_start_bench.py [--count 30] [--concurrency 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import docker.types

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

BUSYBOX = "minik8s/busybox:latest"
PAUSE = "minik8s/pause:latest"
# Exits at once on SIGTERM, as the rollout benchmark's replicas.
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    dc = docker.from_env(timeout=300)
    api = dc.api
    run_id = uuid.uuid4().hex[:8]
    label = {"docker-start-bench": run_id}
    used = {int(str(c.get("Subnet") or "0.0.").split(".")[1]) for n in dc.networks.list(greedy=True)
            for c in (n.attrs.get("IPAM") or {}).get("Config") or [] if str(c.get("Subnet") or "").startswith("10.")}
    octet = next(x for x in range(250, 128, -1) if x not in used and x != 244)
    net = dc.networks.create(f"docker-start-bench-{run_id}", driver="bridge", labels=label, ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=f"10.{octet}.0.0/24")]))

    def container(image: str, name: str, command: list[str] | None = None, **host: str) -> str:
        c = api.create_container(image, command, name=f"dsb-{run_id}-{name}", labels=label,
                                 host_config=api.create_host_config(**host))
        api.start(c["Id"])
        return c["Id"]

    def sandbox(i: int, network: str) -> str:
        return container(PAUSE, f"{network[:6]}-pod-{i}", network_mode=network, ipc_mode="shareable")

    def pod(i: int, network: str) -> None:
        ns = f"container:{sandbox(i, network)}"
        container(BUSYBOX, f"{network[:6]}-app-{i}", COMMAND, network_mode=ns, ipc_mode=ns)

    kinds: dict[str, Callable[[int], object]] = {
        "task": lambda i: container(BUSYBOX, f"task-{i}", COMMAND, network_mode="bridge"),
        "pod-bridge": lambda i: pod(i, "bridge"),
        "pod-network": lambda i: pod(i, net.name),
        "sandbox-bridge": lambda i: sandbox(i, "bridge"),
        "sandbox-network": lambda i: sandbox(i, net.name),
    }
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for _ in range(args.rounds):
            for kind, start in kinds.items():
                t0 = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(start, range(args.count)))
                seconds[kind].append(time.perf_counter() - t0)
                for c in api.containers(all=True, filters={"label": f"docker-start-bench={run_id}"}):
                    with contextlib.suppress(docker.errors.APIError):
                        api.remove_container(c["Id"], force=True, v=True)
    finally:
        for c in api.containers(all=True, filters={"label": f"docker-start-bench={run_id}"}):
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(c["Id"], force=True, v=True)
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
        dc.close()
    task = statistics.mean(seconds["task"])
    print(f"{args.count} at once ({args.concurrency} in flight), {args.rounds} round(s)")
    for kind, runs in seconds.items():
        each = ", ".join(f"{s:.2f}" for s in runs)
        print(f"{kind:16} mean {statistics.mean(runs):6.2f} s  ({each})  {statistics.mean(runs) / task:5.2f}x task")


if __name__ == "__main__":
    main()
