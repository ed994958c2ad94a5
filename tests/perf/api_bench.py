"""API throughput benchmark: C concurrent clients create N pods over HTTP while W watchers
follow the pods; then the same writes straight against the SQLite store, as the baseline.

Prints creates/s, p50/p99 create latency, p50/p99 watch delivery latency (from the moment a
create was sent to the moment each watcher has the event), and the ratio API/raw store.

    .venv/bin/python tests/perf/api_bench.py --clients 32 --pods 5000 --watchers 50 [--profile out.txt]

``--profile`` records the apiserver with py-spy (raw collapsed stacks) while the creates run.

Not a test: it prints figures and asserts nothing. The apiserver runs as its own process
(as users run it); watchers run in a separate process so their parsing does not slow the
clients.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import httpx
import orjson

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from apiserver.storage.sqlite import SQLiteStorage  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_body(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "labels": {"app": "bench", "shard": str(i % 10)},
                         "annotations": {"bench/sent": repr(time.time())}},
            "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (steadier than wall-clock on a shared machine)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ---- watchers (separate process) ----------------------------------------------------------

def watcher_process(url: str, watchers: int, expect: int, rv: str,
                    out: "multiprocessing.Queue[tuple[list[float], float]]",
                    ready: "multiprocessing.Event") -> None:
    async def one(lat: list[float]) -> None:
        seen = 0
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=None)) as c:
            async with c.get("/api/v1/namespaces/default/pods",
                             params={"watch": "1", "resourceVersion": rv}) as r:
                ready_counter.append(1)
                if len(ready_counter) == watchers:
                    ready.set()
                buf = b""
                async for chunk in r.content.iter_any():
                    now = time.time()
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if not line:
                            continue
                        ev = orjson.loads(line)
                        if ev["type"] != "ADDED":
                            continue
                        sent = float(ev["object"]["metadata"]["annotations"]["bench/sent"])
                        lat.append(now - sent)
                        seen += 1
                    if seen >= expect:
                        return

    ready_counter: list[int] = []

    async def main() -> None:
        lats: list[list[float]] = [[] for _ in range(watchers)]
        await asyncio.wait_for(asyncio.gather(*(one(lat) for lat in lats)), timeout=600)
        # the watchers' own CPU: when it nears a whole core, delivery latency is the
        # watchers' parsing falling behind, not the apiserver
        out.put(([x for lat in lats for x in lat], time.process_time()))

    asyncio.run(main())


# ---- API creates ----------------------------------------------------------------------------

async def api_creates(url: str, clients: int, n: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker(c: aiohttp.ClientSession) -> None:
        for i in counter:
            body = orjson.dumps(pod_body(i))
            t0 = time.perf_counter()
            async with c.post("/api/v1/namespaces/default/pods", data=body,
                              headers={"content-type": "application/json"}) as r:
                text = await r.read()
            latencies.append(time.perf_counter() - t0)
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status} {text[:200]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=60)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return n / elapsed, latencies


async def raw_creates(path: str, clients: int, n: int) -> tuple[float, list[float]]:
    """The same objects, serialized the same way, written straight into the store."""
    store = SQLiteStorage(path)
    await store.start()
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            body = orjson.dumps(pod_body(i))
            t0 = time.perf_counter()
            await store.create(f"/registry/pods/default/bench-{i}", body)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    await store.close()
    return n / elapsed, latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--watchers", type=int, default=50)
    ap.add_argument("--profile", help="py-spy raw output file for the apiserver process")
    ap.add_argument("--profile-gil", action="store_true",
                    help="sample only the thread holding the GIL (where the Python CPU goes; a thread "
                         "blocked in a lock or fsync is not counted)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", f"{tmp}/api",
                                 "--port", str(port), "--log-level", "warning"], cwd=REPO)
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            rv = httpx.get(f"{url}/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]
            out: multiprocessing.Queue[tuple[list[float], float]] = multiprocessing.Queue()
            ready = multiprocessing.Event()
            wp = None
            if a.watchers:
                wp = multiprocessing.Process(target=watcher_process, args=(url, a.watchers, a.pods, rv, out, ready))
                wp.start()
                ready.wait(60)
            profiler = None
            if a.profile:
                spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"
                profiler = subprocess.Popen([spy, "record", "--format", "raw", "-o", a.profile, "--rate", "200",
                                             "--pid", str(proc.pid), *(["--gil"] if a.profile_gil else [])],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)  # py-spy attaches before the load starts
            cpu0 = cpu_seconds(proc.pid)
            t_creates = time.perf_counter()
            api_rate, api_lat = asyncio.run(api_creates(url, a.clients, a.pods))
            api_cpu = cpu_seconds(proc.pid) - cpu0
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            watch_lat, watch_cpu = out.get(timeout=600) if wp else ([], 0.0)
            watch_wall = time.perf_counter() - t_creates
            if wp:
                wp.join(30)
        finally:
            proc.terminate()
            proc.wait(10)
        raw_rate, raw_lat = asyncio.run(raw_creates(f"{tmp}/raw.db", a.clients, a.pods))

    ms = lambda x: f"{x * 1000:.1f} ms"  # noqa: E731
    print(f"machine: {os.cpu_count()} cores; clients={a.clients} pods={a.pods} watchers={a.watchers}")
    print(f"API creates/s:        {api_rate:8.0f}   p50 {ms(statistics.median(api_lat))}   p99 {ms(pct(api_lat, 99))}")
    print(f"apiserver CPU/create: {api_cpu / a.pods * 1000:8.3f} ms  (load average {os.getloadavg()[0]:.1f})")
    print(f"raw store creates/s:  {raw_rate:8.0f}   p50 {ms(statistics.median(raw_lat))}   p99 {ms(pct(raw_lat, 99))}")
    print(f"ratio API/raw:        {api_rate / raw_rate:8.2f}")
    if watch_lat:
        print(f"watch delivery ({len(watch_lat)} events to {a.watchers} watchers): "
              f"p50 {ms(pct(watch_lat, 50))}   p99 {ms(pct(watch_lat, 99))}")
        print(f"watcher process CPU:  {watch_cpu:8.1f} s over {watch_wall:.1f} s of creates+delivery "
              f"({watch_cpu / watch_wall:.0%} of a core)")


if __name__ == "__main__":
    main()
