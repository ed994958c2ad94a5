"""What the kubelet's Docker runtime pays per engine call and per network tool it runs, beside
how it did before.

1. Engine calls: ``--calls`` inspects of 60 created (never started) pause containers, 30 in
   flight, three ways: from 30 threads on the docker SDK's client as it comes (``sdk``: a
   connection pool per request URL, 25 kept, so a call about another container opens a
   connection), from 30 threads on the SDK with one pool for the socket (``one-pool``:
   ``kubelet.runtime.docker._one_engine_pool``, what the runtime's remaining SDK calls use), and
   as the runtime makes its pod calls now, 30 coroutines on the socket engine under uvloop
   (``socket``: ``kubelet.runtime.engine.SocketEngine``). Prints this process's CPU and
   dockerd's per call.
2. Network tools: 60 ``ip -batch -`` (what a pod's wiring runs, here a harmless ``link show``)
   at 8 at once, in a process the kubelet's size (~180 MB, 64 pool threads) under uvloop, as an
   asyncio subprocess (uvloop forks) and through ``kubelet.nettools.run`` (``subprocess`` in a
   worker thread: vfork). Prints the event loop's lag (a 1 ms ticker's delays, summed) and
   this process's CPU.

Sides alternate over ``--rounds``. Not a test: numbers only.

    .venv/bin/python tests/perf/runtime_calls_bench.py [--rounds 3] [--calls 600]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import docker
import uvloop

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kubelet import nettools  # noqa: E402 - after the sys.path set-up above
from kubelet.runtime import docker as docker_runtime  # noqa: E402 - after the sys.path set-up above
from kubelet.runtime import engine  # noqa: E402 - after the sys.path set-up above

PAUSE = "minik8s/pause:latest"


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dockerd_cpu() -> float:
    pid = int(subprocess.check_output(["pidof", "dockerd"]).split()[0])
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_calls(rounds: int, calls: int) -> None:
    setup = docker.from_env()
    ids = [setup.api.create_container(PAUSE, labels={"runtime-calls-bench": "1"})["Id"] for _ in range(60)]
    try:
        for _ in range(rounds):
            for side in ("sdk", "one-pool", "socket"):
                client = docker.from_env(max_pool_size=128)
                if side == "socket":
                    wall, cpu, dcpu = uvloop.run(socket_inspects(client.api, ids, calls))
                else:
                    if side == "one-pool":
                        docker_runtime._one_engine_pool(client.api)
                    with concurrent.futures.ThreadPoolExecutor(30) as pool:
                        list(pool.map(client.api.inspect_container, ids))  # threads and connections warm
                        c0, d0, t0 = own_cpu(), dockerd_cpu(), time.perf_counter()
                        list(pool.map(client.api.inspect_container, (ids[i % len(ids)] for i in range(calls))))
                        wall, cpu, dcpu = time.perf_counter() - t0, own_cpu() - c0, dockerd_cpu() - d0
                client.close()
                print(f"engine calls  {side:9} {calls} inspects at 30 threads: wall {wall:5.2f} s, "
                      f"client CPU {cpu / calls * 1000:.3f} ms/call, dockerd {dcpu / calls * 1000:.3f} ms/call "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        for cid in ids:
            setup.api.remove_container(cid, force=True)
        setup.close()


async def socket_inspects(api: docker.APIClient, ids: list[str], calls: int) -> tuple[float, float, float]:
    """``calls`` inspects at 30 in flight on the runtime's socket engine: wall, own CPU, dockerd CPU."""
    socket_engine = engine.engine_for(api)
    assert isinstance(socket_engine, engine.SocketEngine), "the engine is not on a local unix socket"
    flight = asyncio.Semaphore(30)

    async def one(cid: str) -> None:
        async with flight:
            await socket_engine.inspect(cid)
    try:
        await asyncio.gather(*(one(cid) for cid in ids))  # connections warm
        c0, d0, t0 = own_cpu(), dockerd_cpu(), time.perf_counter()
        await asyncio.gather(*(one(ids[i % len(ids)]) for i in range(calls)))
        return time.perf_counter() - t0, own_cpu() - c0, dockerd_cpu() - d0
    finally:
        await socket_engine.close()


async def tools(rounds: int) -> None:
    ballast = [bytearray(1024) for _ in range(150 * 1024)]  # the kubelet's heap, touched
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(64))
    await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.01) for _ in range(64)))
    argv, text = ["ip", "-batch", "-"], "link show dev lo\n"

    async def forked() -> None:  # what nettools.run did before
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await proc.communicate(text.encode())

    async def threaded() -> None:
        await nettools.run(argv, input=text)

    sides: dict[str, Callable[[], Awaitable[None]]] = {"asyncio": forked, "nettools": threaded}
    for _ in range(rounds):
        for side, spawn in sides.items():
            lag = [0.0, 0.0]
            stop = asyncio.Event()

            async def ticker(stop: asyncio.Event = stop, lag: list[float] = lag) -> None:
                while not stop.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.001)
                    late = time.perf_counter() - t - 0.001
                    lag[0] += max(0.0, late)
                    lag[1] = max(lag[1], late)
            tick = asyncio.create_task(ticker())
            flight = asyncio.Semaphore(8)

            async def one(spawn: Callable[[], Awaitable[None]] = spawn, flight: asyncio.Semaphore = flight) -> None:
                async with flight:
                    await spawn()
            c0, t0 = own_cpu(), time.perf_counter()
            await asyncio.gather(*(one() for _ in range(60)))
            wall, cpu = time.perf_counter() - t0, own_cpu() - c0
            stop.set()
            await tick
            print(f"network tools {side:8} 60 at 8 at once: wall {wall:5.2f} s, event loop lag {lag[0]:.2f} s "
                  f"(longest {lag[1] * 1000:.0f} ms), own CPU {cpu / 60 * 1000:.2f} ms per program "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    del ballast


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=600)
    args = ap.parse_args()
    engine_calls(args.rounds, args.calls)
    uvloop.run(tools(args.rounds))


if __name__ == "__main__":
    main()
