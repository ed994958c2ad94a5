"""Watch over WebSocket against watch over chunked HTTP: what a watcher costs the apiserver
either way, and how soon it has each event.

One apiserver process (HTTPS, admin certificate). In alternating rounds, C clients create N pods
(api_bench's pods and creates) while W watchers follow them from the list's resourceVersion:

* ``none``: no watcher (the creates' own cost, subtracted from the others);
* ``http``: chunked HTTP, newline-delimited events (aiohttp, as api_bench's watchers);
* ``ws``: WebSocket, one event per text message, no compression;
* ``ws+deflate``: WebSocket with permessage-deflate, which browsers offer and the apiserver's
  uvicorn accepts (Kubernetes' own handler, golang.org/x/net/websocket, does not compress).

Watchers run in a separate process so their parsing does not load the apiserver's core
measurements. Reports the apiserver's CPU (user+system) per delivered event beyond the creates'
own, and delivery latency (create sent to event parsed), with the WebSocket modes as ratios to
HTTP measured in the same run.

    .venv/bin/python tests/perf/watch_ws_bench.py --clients 16 --pods 1000 --watchers 20 --rounds 3

Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import httpx
import orjson
import websockets
from websockets.asyncio.client import connect

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tests.perf.api_bench import api_creates, client_ssl, cpu_seconds, free_port, pct  # noqa: E402 - after the sys.path set-up above

MODES = ("none", "http", "ws", "ws+deflate")


def watchers(url: str, pki: str, mode: str, count: int, expect: int, rv: str, out: Any, ready: Any) -> None:
    """``count`` watches of the default namespace's pods from ``rv`` over ``mode``, each until
    it has ``expect`` ADDED events; puts the delivery latencies on ``out``."""
    path = f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}"
    opened: list[int] = []

    def seen(raw: bytes | str, lat: list[float], now: float) -> int:
        ev = orjson.loads(raw)
        if ev["type"] != "ADDED":
            return 0
        lat.append(now - float(ev["object"]["metadata"]["annotations"]["bench/sent"]))
        return 1

    def opened_one() -> None:
        opened.append(1)
        if len(opened) == count:
            ready.set()

    async def over_http(lat: list[float]) -> None:
        got = 0
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=None),
                                         connector=aiohttp.TCPConnector(ssl=client_ssl(pki))) as c, \
                c.get(path) as r:
            opened_one()
            buf = b""
            async for chunk in r.content.iter_any():
                now = time.time()
                *lines, buf = (buf + chunk).split(b"\n")
                got += sum(seen(line, lat, now) for line in lines if line)
                if got >= expect:
                    return

    async def over_ws(lat: list[float]) -> None:
        got = 0
        async with connect(url.replace("https://", "wss://") + path, ssl=client_ssl(pki), max_size=None,
                           compression="deflate" if mode == "ws+deflate" else None) as ws:
            opened_one()
            async for message in ws:
                got += seen(message, lat, time.time())
                if got >= expect:
                    return

    async def main() -> None:
        lats: list[list[float]] = [[] for _ in range(count)]
        one = over_http if mode == "http" else over_ws
        await asyncio.wait_for(asyncio.gather(*(one(lat) for lat in lats)), timeout=600)
        out.put([x for lat in lats for x in lat])

    asyncio.run(main())


def measure(url: str, pki: str, a: argparse.Namespace, mode: str, first: int) -> dict[str, Any]:
    with httpx.Client(base_url=url, verify=client_ssl(pki)) as c:
        rv = c.get("/api/v1/namespaces/default/pods", params={"limit": "1"}).json()["metadata"]["resourceVersion"]
    out: Any = multiprocessing.Queue()
    ready = multiprocessing.Event()
    proc = None
    if mode != "none":
        proc = multiprocessing.Process(target=watchers, args=(url, pki, mode, a.watchers, a.pods, rv, out, ready))
        proc.start()
        if not ready.wait(120):
            raise RuntimeError(f"{mode}: the watchers did not open")
    return {"proc": proc, "out": out, "first": first}


def run_round(url: str, pki: str, pid: int, a: argparse.Namespace, mode: str, first: int) -> dict[str, Any]:
    started = measure(url, pki, a, mode, first)
    cpu0 = cpu_seconds(pid)
    asyncio.run(api_creates(url, pki, a.clients, a.pods, first=first))
    lat: list[float] = started["out"].get(timeout=600) if started["proc"] else []
    cpu = cpu_seconds(pid) - cpu0
    if started["proc"]:
        started["proc"].join(30)
    return {"cpu": cpu, "lat": lat}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--watchers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores; clients={a.clients} pods={a.pods} watchers={a.watchers} "
          f"rounds={a.rounds}")
    with tempfile.TemporaryDirectory(prefix="watch-ws-bench-") as data:
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        pki = f"{data}/pki"
        proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", data, "--port", str(port),
                                 "--log-level", "warning", "--disable-admission-plugins", "ServiceAccount"],
                                cwd=REPO, env={**os.environ, "PYTHONPATH": REPO})
        try:
            for _ in range(600):
                try:
                    if os.path.exists(f"{data}/kubeconfig") and httpx.get(
                            f"{url}/readyz", timeout=1, verify=client_ssl(pki)).status_code == 200:
                        break
                except (httpx.HTTPError, OSError):
                    pass
                time.sleep(0.05)
            results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
            first = 0
            for r in range(a.rounds):
                for mode in MODES if r % 2 == 0 else tuple(reversed(MODES)):
                    res = run_round(url, pki, proc.pid, a, mode, first)
                    first += a.pods
                    results[mode].append(res)
                    print(f"round {r + 1} {mode:>10}: apiserver CPU {res['cpu']:.2f} s"
                          + (f", delivery p50 {1000 * pct(res['lat'], 50):.1f} ms p99 "
                             f"{1000 * pct(res['lat'], 99):.1f} ms" if res["lat"] else ""), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    events = a.pods * a.watchers
    per_event: dict[str, list[float]] = {}
    for mode in MODES[1:]:
        per_event[mode] = [1e6 * (res["cpu"] - none["cpu"]) / events
                           for res, none in zip(results[mode], results["none"])]
        lat = [x for res in results[mode] for x in res["lat"]]
        print(f"{mode:>10}: apiserver CPU per delivered event {statistics.median(per_event[mode]):.1f} us "
              f"(rounds: {', '.join(f'{x:.1f}' for x in per_event[mode])}); delivery p50 "
              f"{1000 * pct(lat, 50):.1f} ms p99 {1000 * pct(lat, 99):.1f} ms")
    for mode in ("ws", "ws+deflate"):
        ratios = [x / y for x, y in zip(per_event[mode], per_event["http"])]
        print(f"{mode} / http CPU per event (median of {len(ratios)} rounds): {statistics.median(ratios):.2f}")
    print(f"creates alone: apiserver CPU {1000 * statistics.median(r['cpu'] for r in results['none']) / a.pods:.3f} "
          f"ms per create")


if __name__ == "__main__":
    try:
        main()
    except websockets.InvalidStatus as e:
        sys.exit(f"watch_ws_bench: the WebSocket upgrade was refused: {e}")
