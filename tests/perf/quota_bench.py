"""Quota admission overhead: pod creates/s in a namespace with a ResourceQuota against the same
creates in a namespace without one, on one apiserver, in one run.

    .venv/bin/python tests/perf/quota_bench.py --clients 32 --pods 2000 --rounds 3

The quota namespace holds a quota on ``pods``, ``count/pods``, ``requests.cpu`` and
``requests.memory`` (high enough never to refuse), so every create there is evaluated,
charged and written to the quota's status (batched per namespace, as admission does). Its
status is first filled through ``/status`` as the quota controller would. Rounds alternate
which namespace goes first, so a warming or slowing machine hurts both alike; the figure is
the median per side and the ratio quota / no quota. The apiserver's own CPU seconds per create
are reported too (steadier than wall-clock on a shared machine).

Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

from tests.perf.api_bench import cpu_seconds, free_port, pct  # noqa: E402 - after the sys.path set-up above

HARD = {"pods": "1000000", "count/pods": "1000000", "requests.cpu": "100k", "requests.memory": "100Ti"}


def pod_body(name: str) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest", "command": ["sleep", "3600"],
                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}})


async def creates(url: str, ns: str, prefix: str, clients: int, n: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker(c: aiohttp.ClientSession) -> None:
        for i in counter:
            body = pod_body(f"{prefix}-{i}")
            t0 = time.perf_counter()
            async with c.post(f"/api/v1/namespaces/{ns}/pods", data=body,
                              headers={"content-type": "application/json"}) as r:
                text = await r.read()
            latencies.append(time.perf_counter() - t0)
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status} {text[:300]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=120)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return n / elapsed, latencies


def setup(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        for ns in ("noquota", "quota"):
            r = c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            r.raise_for_status()
        r = c.post("/api/v1/namespaces/quota/resourcequotas",
                   json={"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": HARD}})
        r.raise_for_status()
        q = r.json()
        q["status"] = {"hard": HARD, "used": {k: "0" for k in HARD}}
        c.put("/api/v1/namespaces/quota/resourcequotas/q/status", json=q).raise_for_status()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=2000, help="creates per namespace per round")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", f"{tmp}/api",
                                 "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=open(f"{tmp}/apiserver.log", "wb"))
        try:
            deadline = time.time() + 30
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline:
                    raise SystemExit("apiserver did not become ready")
                time.sleep(0.1)
            setup(url)
            rev0 = int(httpx.get(f"{url}/api/v1/namespaces/quota/resourcequotas").json()["metadata"]["resourceVersion"])
            results: dict[str, list[tuple[float, float, list[float]]]] = {"noquota": [], "quota": []}
            for rnd in range(a.rounds):
                order = ("noquota", "quota") if rnd % 2 == 0 else ("quota", "noquota")
                for ns in order:
                    cpu0 = cpu_seconds(proc.pid)
                    rate, lat = asyncio.run(creates(url, ns, f"r{rnd}", a.clients, a.pods))
                    cpu = (cpu_seconds(proc.pid) - cpu0) / a.pods
                    results[ns].append((rate, cpu, lat))
                    print(f"round {rnd} {ns:8s} {rate:7.0f} creates/s  {cpu * 1000:.3f} ms CPU/create  "
                          f"p50 {pct(lat, 50) * 1000:.1f} ms  p99 {pct(lat, 99) * 1000:.1f} ms", flush=True)
            used = httpx.get(f"{url}/api/v1/namespaces/quota/resourcequotas/q").json()["status"]["used"]
            print(f"quota status.used after the run: {used}")
            # Every store write bumps the revision: what is not a pod create is a quota charge.
            rev1 = int(httpx.get(f"{url}/api/v1/namespaces/quota/resourcequotas").json()["metadata"]["resourceVersion"])
            charges = rev1 - rev0 - 2 * a.pods * a.rounds
            print(f"quota status writes: {charges} ({a.pods * a.rounds / max(charges, 1):.1f} creates charged per write)")
        finally:
            proc.terminate()
            proc.wait(10)
    med = {ns: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
                pct([x for r in rs for x in r[2]], 50), pct([x for r in rs for x in r[2]], 99))
           for ns, rs in results.items()}
    print(f"\nclients={a.clients} pods/round/namespace={a.pods} rounds={a.rounds}")
    for ns, (rate, cpu, p50, p99) in med.items():
        print(f"{ns:8s} median {rate:7.0f} creates/s  {cpu * 1000:.3f} ms CPU/create  p50 {p50 * 1000:.1f} ms  "
              f"p99 {p99 * 1000:.1f} ms")
    ratio = med["quota"][0] / med["noquota"][0]
    print(f"ratio quota / no quota: creates/s {ratio:.3f} ({(1 - ratio) * 100:.1f}% slower), "
          f"CPU/create {med['quota'][1] / med['noquota'][1]:.3f}")


if __name__ == "__main__":
    main()
