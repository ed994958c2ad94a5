"""CustomResourceDefinitions: does serving custom resources slow the built-in paths, and what
does a custom object cost against a built-in one of the same size?

One apiserver process (HTTPS, admin certificate). In alternating rounds, C clients create N
ConfigMaps before any CRD exists and again once K CRDs are established (the registry table then
holds K dynamic entries; lookups of built-in paths must not notice), then N custom objects of a
CRD whose schema validates, prunes and defaults them. Reports creates/s and the apiserver's CPU
per create (user+system, steadier than wall clock on a shared machine), as ratios.

    .venv/bin/python tests/perf/crd_bench.py --clients 16 --objects 2000 --crds 50 --rounds 3

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

from tests.perf.api_bench import client_ssl, cpu_seconds, free_port  # noqa: E402 - after the sys.path set-up above

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$"},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
        "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
        "data": {"type": "object", "additionalProperties": {"type": "string"}},
    }},
    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
}}


def crd(i: int) -> dict:
    group = f"bench{i}.example.com"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"things.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": SCHEMA}, "subresources": {"status": {}}}]}}


DATA = {f"key{k}": "v" * 40 for k in range(8)}


def configmap(prefix: str, i: int) -> tuple[str, bytes]:
    return "/api/v1/namespaces/default/configmaps", orjson.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{prefix}-{i}"}, "data": DATA})


def thing(prefix: str, i: int) -> tuple[str, bytes]:
    return "/apis/bench0.example.com/v1/namespaces/default/things", orjson.dumps(
        {"apiVersion": "bench0.example.com/v1", "kind": "Thing", "metadata": {"name": f"{prefix}-{i}"},
         "spec": {"image": "nginx:1", "data": DATA}})


async def creates(url: str, pki: str, clients: int, n: int, make, prefix: str) -> float:
    counter = iter(range(n))

    async def worker(c: aiohttp.ClientSession) -> None:
        for i in counter:
            path, body = make(prefix, i)
            async with c.post(path, data=body, headers={"content-type": "application/json"}) as r:
                text = await r.read()
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status} {text[:300]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients, ssl=client_ssl(pki)),
                                     timeout=aiohttp.ClientTimeout(total=120)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        return n / (time.perf_counter() - t0)


def measure(proc: subprocess.Popen, url: str, pki: str, a: argparse.Namespace, make, prefix: str) -> tuple[float, float]:
    cpu0 = cpu_seconds(proc.pid)
    rate = asyncio.run(creates(url, pki, a.clients, a.objects, make, prefix))
    return rate, (cpu_seconds(proc.pid) - cpu0) / a.objects * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--crds", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="crd-bench-")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    pki = f"{tmp}/data/pki"
    proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", f"{tmp}/data", "--port",
                             str(port), "--log-level", "warning"], cwd=REPO, env={**os.environ, "PYTHONPATH": REPO})
    rows: dict[str, list[tuple[float, float]]] = {"configmaps, no CRD": [], f"configmaps, {a.crds} CRDs": [],
                                                  "custom objects": []}
    try:
        for _ in range(400):
            try:
                if os.path.exists(f"{tmp}/data/kubeconfig") and httpx.get(
                        f"{url}/readyz", timeout=1, verify=client_ssl(pki)).status_code == 200:
                    break
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.05)
        http = httpx.Client(base_url=url, verify=client_ssl(pki), timeout=30)
        for r in range(a.rounds):
            rows["configmaps, no CRD"].append(measure(proc, url, pki, a, configmap, f"plain{r}"))
            for i in range(a.crds):
                assert http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd(i)).status_code == 201
            deadline = time.monotonic() + 60
            while http.get("/apis/bench0.example.com/v1/namespaces/default/things").status_code != 200 or \
                    http.get(f"/apis/bench{a.crds - 1}.example.com/v1/namespaces/default/things").status_code != 200:
                assert time.monotonic() < deadline, "CRDs not served"
                time.sleep(0.05)
            rows[f"configmaps, {a.crds} CRDs"].append(measure(proc, url, pki, a, configmap, f"crds{r}"))
            rows["custom objects"].append(measure(proc, url, pki, a, thing, f"cr{r}"))
            for i in range(a.crds):
                http.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/things.bench{i}.example.com")
            while http.get("/apis/bench0.example.com/v1").status_code != 404 or \
                    http.get(f"/apis/bench{a.crds - 1}.example.com/v1").status_code != 404:
                assert time.monotonic() < deadline + 120, "CRDs not deleted"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    base_rate = statistics.median(x[0] for x in rows["configmaps, no CRD"])
    base_cpu = statistics.median(x[1] for x in rows["configmaps, no CRD"])
    print(f"{a.clients} clients, {a.objects} creates per round, {a.rounds} rounds, {a.crds} CRDs")
    print("| creates of | creates/s per round | median rate ratio | CPU ms/create per round | median CPU ratio |")
    print("|---|---|---|---|---|")
    for name, xs in rows.items():
        rates = ", ".join(f"{r:.0f}" for r, _ in xs)
        cpus = ", ".join(f"{c:.2f}" for _, c in xs)
        print(f"| {name} | {rates} | {statistics.median(r for r, _ in xs) / base_rate:.2f} | {cpus} | "
              f"{statistics.median(c for _, c in xs) / base_cpu:.2f} |")


if __name__ == "__main__":
    main()
