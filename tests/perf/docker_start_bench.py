"""What Docker itself costs for what a pod start asks of it, beside what a Swarm task asks.

On the local engine, 30 (``--count``) at once (``--concurrency`` threads), each kind in turn
and alternating over ``--rounds``, everything removed between kinds:

- ``task``: one busybox container on Docker's default bridge -- what Swarm starts per task of
  a service with no network of its own;
- ``pod-bridge``: a pod as the kubelet starts it on the default bridge (``--runtime-default-network``):
  the pause sandbox, then a busybox joined to its network and IPC namespaces;
- ``pod-network``: the same pair with the sandbox on a user-defined bridge network, as on a node
  with its podCIDR (Docker then sets up its embedded DNS resolver in every sandbox);
- ``pod-veth``: the same pair with the sandbox on ``network_mode=none`` and the bench wiring its
  network as Kubernetes' CNI bridge plugin does: a veth pair made with its peer in the
  sandbox's network namespace (found by the sandbox's pid), the host end on a Linux bridge the
  bench makes (hairpin on), the pod end given an address of the bridge's subnet and a default
  route via the bridge; ``ip`` run as asyncio subprocesses through ``kubelet.nettools``, two per
  pod (``ip -batch`` on the host, then in the namespace through ``nsenter``);
- ``sandbox-bridge`` / ``sandbox-network`` / ``sandbox-veth``: the pause container alone on
  each, to split the two.

Every sandbox is inspected once after its start, as the kubelet does (for its IP, and here
its pid). The Docker calls run in ``--concurrency`` threads under an asyncio loop, as the
kubelet makes them. ``--kinds`` picks a subset (in the order given, alternating per round).

Prints seconds per kind and round, and the ratios to the first kind. Not a test: numbers only.

    .venv/bin/python tests/perf/docker_start_bench.py [--count 30] [--concurrency 8] [--rounds 2]
        [--kinds pod-network,pod-veth]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
import docker.types

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kubelet import nettools  # noqa: E402

BUSYBOX = "minik8s/busybox:latest"
PAUSE = "minik8s/pause:latest"
# Exits at once on SIGTERM, as the rollout benchmark's replicas.
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kinds", default="", help="comma-separated subset of the kinds, in this order")
    args = ap.parse_args()
    asyncio.run(bench(args))


async def bench(args: argparse.Namespace) -> None:
    dc = docker.from_env(timeout=300, max_pool_size=args.concurrency + 2)
    api = dc.api
    pool = concurrent.futures.ThreadPoolExecutor(args.concurrency)
    loop = asyncio.get_running_loop()

    def call(fn: Callable[..., Any], *a: Any, **kw: Any) -> Awaitable[Any]:
        return loop.run_in_executor(pool, functools.partial(fn, *a, **kw))

    run_id = uuid.uuid4().hex[:8]
    label = {"docker-start-bench": run_id}
    used = {int(str(c.get("Subnet") or "0.0.").split(".")[1]) for n in dc.networks.list(greedy=True)
            for c in (n.attrs.get("IPAM") or {}).get("Config") or [] if str(c.get("Subnet") or "").startswith("10.")}
    free = [x for x in range(250, 128, -1) if x not in used and x != 244]
    octet, veth_octet = free[0], free[1]
    net = dc.networks.create(f"docker-start-bench-{run_id}", driver="bridge", labels=label, ipam=docker.types.IPAMConfig(
        pool_configs=[docker.types.IPAMPool(subnet=f"10.{octet}.0.0/24")]))
    # The bridge the veth kinds plug into, as the kubelet's node bridge: gateway .1 on a /24.
    bridge, gateway = f"dsb{run_id}", f"10.{veth_octet}.0.1"
    await nettools.run(["ip", "link", "add", bridge, "type", "bridge"])

    async def container(image: str, name: str, command: list[str] | None = None, **host: str) -> str:
        c = await call(api.create_container, image, command, name=f"dsb-{run_id}-{name}", labels=label,
                       host_config=api.create_host_config(**host))
        await call(api.start, c["Id"])
        return str(c["Id"])

    async def wire(pid: int, i: int) -> None:
        """What the CNI bridge plugin does for one pod (host-local IPAM's address is ``i``)."""
        host_end = f"dsb{run_id[:4]}{i:04d}"
        await nettools.run(["ip", "-batch", "-"], input=(
            f"link add {host_end} type veth peer name eth0 netns {pid}\n"
            f"link set {host_end} master {bridge} up\n"
            f"link set {host_end} type bridge_slave hairpin on\n"))
        await nettools.run(["nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"], input=(
            f"addr add 10.{veth_octet}.0.{i + 2}/24 dev eth0\n"
            "link set eth0 up\n"
            "link set lo up\n"
            f"route add default via {gateway}\n"))

    async def sandbox(i: int, network: str) -> str:
        mode = "none" if network == "veth" else network
        sid = await container(PAUSE, f"{network[:6]}-pod-{i}", network_mode=mode, ipc_mode="shareable")
        info = await call(api.inspect_container, sid)  # as the kubelet: its IP, here its pid
        if network == "veth":
            await wire(int(info["State"]["Pid"]), i)
        return sid

    async def pod(i: int, network: str) -> None:
        ns = f"container:{await sandbox(i, network)}"
        await container(BUSYBOX, f"{network[:6]}-app-{i}", COMMAND, network_mode=ns, ipc_mode=ns)

    kinds: dict[str, Callable[[int], Awaitable[object]]] = {
        "task": lambda i: container(BUSYBOX, f"task-{i}", COMMAND, network_mode="bridge"),
        "pod-bridge": lambda i: pod(i, "bridge"),
        "pod-network": lambda i: pod(i, net.name),
        "pod-veth": lambda i: pod(i, "veth"),
        "sandbox-bridge": lambda i: sandbox(i, "bridge"),
        "sandbox-network": lambda i: sandbox(i, net.name),
        "sandbox-veth": lambda i: sandbox(i, "veth"),
    }
    if args.kinds:
        kinds = {k: kinds[k] for k in args.kinds.split(",")}
    seconds: dict[str, list[float]] = {k: [] for k in kinds}
    loads: list[str] = []

    async def clean() -> None:
        for c in await call(api.containers, all=True, filters={"label": f"docker-start-bench={run_id}"}):
            with contextlib.suppress(docker.errors.APIError):
                await call(api.remove_container, c["Id"], force=True, v=True)

    try:
        await nettools.run(["ip", "addr", "add", f"{gateway}/24", "dev", bridge])
        await nettools.run(["ip", "link", "set", bridge, "up"])
        for _ in range(args.rounds):
            for kind, start in kinds.items():
                loads.append(" ".join(open("/proc/loadavg").read().split()[:3]))
                flight = asyncio.Semaphore(args.concurrency)

                async def one(i: int, start: Callable[[int], Awaitable[object]] = start,
                              flight: asyncio.Semaphore = flight) -> None:
                    async with flight:
                        await start(i)
                t0 = time.perf_counter()
                await asyncio.gather(*(one(i) for i in range(args.count)))
                seconds[kind].append(time.perf_counter() - t0)
                await clean()
    finally:
        await clean()
        await nettools.run(["ip", "link", "del", bridge], check=False)
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
        pool.shutdown()
        dc.close()
    first = next(iter(seconds))
    base = statistics.mean(seconds[first])
    print(f"{args.count} at once ({args.concurrency} in flight), {args.rounds} round(s), "
          f"{os.cpu_count()} cores, load average before each kind: {'; '.join(loads)}")
    for kind, runs in seconds.items():
        each = ", ".join(f"{s:.2f}" for s in runs)
        print(f"{kind:16} mean {statistics.mean(runs):6.2f} s  ({each})  {statistics.mean(runs) / base:5.2f}x {first}")


if __name__ == "__main__":
    main()
