"""REST client benchmark: how many requests a second ``minik8s.client.ApiClient`` gets through
against a real apiserver, sequentially and with 32 requests in flight.

Every component reaches the cluster through ApiClient, so its per-request cost and how its
connection pool behaves under concurrency bound the scheduler's bind rate, the controllers'
write rate and the hollow nodes' status rate. Figures, for GET of one object and POST of new
ones: requests/s sequential and 32-concurrent, plus watch events/s parsed from one stream.
The baseline, measured in the same run against the same server, is a bare
``aiohttp.ClientSession`` doing the same GETs without building paths or parsing JSON; the
ratio ApiClient/bare is the client's own overhead.

    .venv/bin/python tests/perf/client_bench.py --requests 3000 --concurrency 32

Not a test: it prints figures and asserts nothing. The apiserver runs as its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import aiohttp  # noqa: E402 - after the sys.path set-up above
import perf_cluster  # noqa: E402 - beside this file

from minik8s.api.resources import CONFIGMAPS, NAMESPACES  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

NS = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"k": "v" * 64}}


async def rate(n: int, concurrency: int, op) -> float:
    """Requests/s for ``n`` calls of ``op(i)`` with ``concurrency`` of them in flight."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def run(url: str, data: Path, n: int, concurrency: int, rounds: int) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    async with ApiClient.from_kubeconfig(str(perf_cluster.kubeconfig(data))) as client:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        await client.create(CONFIGMAPS, cm("target"), namespace=NS)
        rv = (await client.list(CONFIGMAPS, namespace=NS))["metadata"]["resourceVersion"]

        async def get(_i: int) -> None:
            await client.get(CONFIGMAPS, "target", namespace=NS)

        path = f"{url}/api/v1/namespaces/{NS}/configmaps/target"
        # The same headers ApiClient sends: the apiserver negotiates on Accept.
        hdrs = {"Accept": "application/json", "User-Agent": "minik8s"}
        tls = perf_cluster.ssl_context(data)  # the same TLS and client certificate
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000, ssl=tls), headers=hdrs) as bare:
            async def bare_get(_i: int) -> None:
                async with bare.get(path) as r:
                    await r.read()

            # Warm both pools and the server's caches, then alternate client and baseline over
            # a few rounds so that a noisy neighbour on the 2 cores hits both alike; medians.
            await rate(200, concurrency, get)
            await rate(200, concurrency, bare_get)
            runs: dict[str, list[float]] = {"seq": [], "conc": [], "bare_seq": [], "bare_conc": []}
            for _ in range(rounds):
                runs["seq"].append(await rate(n, 1, get))
                runs["bare_seq"].append(await rate(n, 1, bare_get))
                runs["conc"].append(await rate(n, concurrency, get))
                runs["bare_conc"].append(await rate(n, concurrency, bare_get))
        med = {k: statistics.median(v) for k, v in runs.items()}
        rows.append(("ApiClient GET", med["seq"], med["conc"]))
        rows.append(("bare aiohttp GET (baseline)", med["bare_seq"], med["bare_conc"]))

        async def create_seq(i: int) -> None:
            await client.create(CONFIGMAPS, cm(f"s-{i}"), namespace=NS)

        async def create_conc(i: int) -> None:
            await client.create(CONFIGMAPS, cm(f"c-{i}"), namespace=NS)

        rows.append(("ApiClient POST (create)", await rate(n, 1, create_seq), await rate(n, concurrency, create_conc)))

        # Replay every create above from the watch cache: the client's stream parsing rate.
        total = 2 * n
        seen = 0
        start = time.perf_counter()
        async with contextlib.aclosing(client.watch(CONFIGMAPS, namespace=NS, resource_version=rv,
                                                    timeout_seconds=120)) as stream:
            async for ev in stream:
                if ev.type == "ADDED":
                    seen += 1
                    if seen == total:
                        break
        rows.append(("watch events/s (one stream)", total / (time.perf_counter() - start), float("nan")))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=3000, help="requests per figure")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3, help="GET rounds (medians are printed)")
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                    help="the client's event loop (components run uvloop)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = perf_cluster.url(port)
        data = Path(tmp) / "api"
        proc = perf_cluster.start_apiserver(data, port, Path(tmp) / "apiserver.log", "--bind-address", "127.0.0.1")
        try:
            perf_cluster.wait_ready(data, port)
            if a.loop == "uvloop":
                import uvloop

                rows = uvloop.run(run(url, data, a.requests, a.concurrency, a.rounds))
            else:
                rows = asyncio.run(run(url, data, a.requests, a.concurrency, a.rounds))
        finally:
            proc.terminate()
            proc.wait(10)

    print(f"machine: {os.cpu_count()} cores; requests={a.requests} rounds={a.rounds} concurrency={a.concurrency} loop={a.loop}")
    print(f"{'':32} {'sequential/s':>13} {f'{a.concurrency}-concurrent/s':>16}")
    for name, seq, conc in rows:
        conc_s = "" if conc != conc else f"{conc:16.0f}"
        print(f"{name:32} {seq:13.0f} {conc_s}")
    base = next(r for r in rows if r[0].startswith("bare"))
    get = rows[0]
    print(f"ratio ApiClient/bare GET: sequential {get[1] / base[1]:.2f}, concurrent {get[2] / base[2]:.2f}")


if __name__ == "__main__":
    main()
