"""What a second apiserver process buys on one host: the same pod creates through one apiserver
and through two, both on one etcd (the store several apiservers can share), alternating.

    .venv/bin/python tests/perf/apiservers_bench.py [--clients 32] [--pods 5000] [--rounds 2]

With two, each apiserver gets half the clients and half the pods (distinct names); etcd is a
fresh one for every measurement. Prints creates/s, p99 and the CPU per create of the
apiservers, etcd and the load client: how far a multi-process apiserver could move issue #15's
rows 3 and 4 on this machine before any of its own costs. The apiservers run as api_bench's
default (TLS, authentication, RBAC; no audit log), each with its own data and certificate dir.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench


def measure(servers: int, clients: int, pods: int, tmp: str) -> dict[str, float]:
    etcd, etcd_url = api_bench.start_etcd(tmp)
    apis = []
    try:
        for i in range(servers):
            apis.append(api_bench.start_api(api_bench.REPO, True, tmp, (
                "--etcd-servers", etcd_url, "--advertise-address", f"127.0.0.{2 + i}")))
        pids = [etcd.pid, *(proc.pid for proc, _, _ in apis)]
        cpu0 = [api_bench.cpu_seconds(p) for p in pids]
        client0 = time.process_time()
        share = pods // servers

        async def load() -> list[tuple[float, list[float]]]:
            return await asyncio.gather(*(api_bench.api_creates(url, pki, clients // servers, share, first=i * share)
                                          for i, (_, url, pki) in enumerate(apis)))

        t0 = time.perf_counter()
        results = asyncio.run(load())
        wall = time.perf_counter() - t0
        client_cpu = time.process_time() - client0
        cpu = [api_bench.cpu_seconds(p) - c for p, c in zip(pids, cpu0)]
    finally:
        for proc, _, _ in apis:
            proc.terminate()
            proc.wait(10)
        etcd.terminate()
        etcd.wait(10)
    lat = [x for _, ls in results for x in ls]
    n = share * servers
    return {"rate": n / wall, "p99": api_bench.pct(lat, 99) * 1000, "apiservers": sum(cpu[1:]) / n * 1000,
            "etcd": cpu[0] / n * 1000, "client": client_cpu / n * 1000}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; clients={a.clients} pods={a.pods}")
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for servers in (1, 2):
                m = measure(servers, a.clients, a.pods, tmp)
                rates[servers].append(m["rate"])
                print(f"round {r + 1}, {servers} apiserver(s): {m['rate']:6.0f} creates/s  p99 {m['p99']:5.1f} ms  "
                      f"CPU per create: apiservers {m['apiservers']:.3f} ms, etcd {m['etcd']:.3f}, "
                      f"client {m['client']:.3f}  (load {os.getloadavg()[0]:.1f})")
    print(f"two apiservers / one, creates/s (median of {a.rounds}): "
          f"{statistics.median(rates[2]) / statistics.median(rates[1]):.2f}")


if __name__ == "__main__":
    main()
