"""The etcd store against the SQLite store, and against etcd's own put rate, in one run.

For each store an apiserver process (HTTPS, authenticated, authorized) takes C concurrent
clients creating N pods while W watchers follow them (``api_bench``'s load); then the same
serialized objects are written straight into each store through its Storage class (for etcd a
create is a transaction on the key's create_revision), and etcd's plain Put with the same gRPC
client and the same concurrency is the floor: what etcd itself does with these bytes.

    .venv/bin/python tests/perf/etcd_bench.py --clients 32 --pods 3000 --watchers 10 [--rounds 2]
    .venv/bin/python tests/perf/etcd_bench.py --ha --clients 32 --pods 3000 [--rounds 2]

``--ha`` measures instead the aggregate creates/s of two apiservers on one etcd (the clients
split between them) against one apiserver on one etcd, alternating, in the same run.

Prints creates/s with p50/p99 latencies, watch delivery p50/p99, and the ratios etcd/SQLite and
API/raw. Not a test: it asserts nothing. etcd is Debian's, started here on free loopback ports
in a temporary data dir (its WAL fsynced per commit, like SQLite's ``synchronous=FULL``).
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
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench

from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.sqlite import SQLiteStorage
from minik8s.up import etcd as local_etcd

# No controller-manager makes the namespace's default ServiceAccount here (as in the test harness).
NO_SA = ("--disable-admission-plugins", "ServiceAccount")


def start_etcd(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    client, peer = api_bench.free_port(), api_bench.free_port()
    data = Path(tempfile.mkdtemp(dir=tmp)) / "etcd"
    log = open(Path(tmp) / f"etcd-{client}.log", "wb")
    proc = subprocess.Popen(local_etcd.command(data, client_port=client, peer_port=peer), stdout=log,
                            stderr=subprocess.STDOUT)
    url = local_etcd.client_url(client)
    for _ in range(400):
        try:
            if httpx.get(f"{url}/health", timeout=1).json().get("health") == "true":
                return proc, url
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("etcd did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


async def etcd_puts(url: str, clients: int, n: int) -> tuple[float, list[float]]:
    """etcd's own put rate: plain Put (no comparison), the same grpc.aio channel and stubs."""
    import grpc
    from aetcd import rpc

    channel = grpc.aio.insecure_channel(url.removeprefix("http://"))
    kv = rpc.KVStub(channel)
    try:
        return await api_bench.timed_writes(
            lambda i: kv.Put(rpc.PutRequest(key=f"/bench-put/{i}".encode(), value=orjson.dumps(api_bench.pod_body(i)))),
            clients, n)
    finally:
        await channel.close()


def start_apiserver(tmp: str, etcd_url: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = api_bench.free_port()
    data = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", data, "--port", str(port),
                             "--log-level", "warning", *NO_SA, "--etcd-servers", etcd_url], cwd=api_bench.REPO,
                            env={**os.environ, "PYTHONPATH": api_bench.REPO})
    url = f"https://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if os.path.exists(f"{data}/kubeconfig") and httpx.get(
                    f"{url}/readyz", timeout=1, verify=api_bench.client_ssl(f"{data}/pki")).status_code == 200:
                return proc, url, f"{data}/pki"
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("apiserver did not start")


def run_ha(a: argparse.Namespace, tmp: str, servers: int) -> float:
    """Aggregate creates/s of ``servers`` apiservers on one fresh etcd, the clients split evenly
    (each load in a thread of its own, so one client loop does not limit both)."""
    import concurrent.futures

    etcd, url = start_etcd(tmp)
    procs = []
    try:
        apis = []
        for _ in range(servers):
            proc, api_url, pki = start_apiserver(tmp, url)
            procs.append(proc)
            apis.append((api_url, pki))
        share = a.pods // servers
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(servers) as pool:
            list(pool.map(lambda i: asyncio.run(api_bench.api_creates(
                apis[i][0], apis[i][1], a.clients // servers, share, first=i * share)), range(servers)))
        return share * servers / (time.perf_counter() - t0)
    finally:
        for proc in procs:
            stop(proc)
        stop(etcd)


def main_ha(a: argparse.Namespace) -> None:
    one, two = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.rounds):
            one.append(run_ha(a, tmp, 1))
            two.append(run_ha(a, tmp, 2))
    med = statistics.median
    print(f"one apiserver on etcd:  {', '.join(f'{r:.0f}' for r in one)} creates/s (median {med(one):.0f})")
    print(f"two apiservers on etcd: {', '.join(f'{r:.0f}' for r in two)} creates/s (median {med(two):.0f})")
    print(f"two/one: {med(two) / med(one):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=3000)
    ap.add_argument("--watchers", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1, help="alternating SQLite/etcd rounds (medians printed)")
    ap.add_argument("--ha", action="store_true", help="two apiservers on one etcd against one, instead")
    a = ap.parse_args()
    if a.ha:
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; clients={a.clients} pods={a.pods} "
              f"rounds={a.rounds}")
        main_ha(a)
        return
    a.profile = None
    a.profile_gil = False
    def ms(x):
        return f"{x * 1000:.1f} ms"
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; clients={a.clients} pods={a.pods} "
          f"watchers={a.watchers} rounds={a.rounds}")
    results: dict[str, list[tuple[float, list[float]]]] = {}
    api: dict[str, list[dict]] = {"sqlite": [], "etcd": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.rounds):
            api["sqlite"].append(api_bench.run_api(api_bench.REPO, True, a, tmp, NO_SA))
            proc, url = start_etcd(tmp)
            try:
                api["etcd"].append(api_bench.run_api(api_bench.REPO, True, a, tmp, (*NO_SA, "--etcd-servers", url)))
            finally:
                stop(proc)
            results.setdefault("raw SQLiteStorage.create", []).append(
                asyncio.run(api_bench.store_creates(SQLiteStorage(f"{tempfile.mkdtemp(dir=tmp)}/raw.db"), a.clients, a.pods)))
            proc, url = start_etcd(tmp)
            try:
                results.setdefault("raw EtcdStorage.create (txn)", []).append(
                    asyncio.run(api_bench.store_creates(EtcdStorage(url, compaction_interval=0), a.clients, a.pods)))
                results.setdefault("etcd plain Put (same client)", []).append(
                    asyncio.run(etcd_puts(url, a.clients, a.pods)))
            finally:
                stop(proc)
    med = statistics.median
    rate = {}
    for store, runs in api.items():
        rate[store] = med(r["rate"] for r in runs)
        lat = [x for r in runs for x in r["lat"]]
        wl = [x for r in runs for x in r["watch_lat"]]
        print(f"[API on {store}] creates/s {rate[store]:7.0f}   p50 {ms(med(lat))}   p99 {ms(api_bench.pct(lat, 99))}"
              f"   apiserver CPU/create {med(r['cpu'] for r in runs) / a.pods * 1000:.2f} ms")
        if wl:
            print(f"[API on {store}] watch delivery ({len(wl)} events): p50 {ms(api_bench.pct(wl, 50))}   "
                  f"p99 {ms(api_bench.pct(wl, 99))}")
    for name, runs in results.items():
        rate[name] = med(r for r, _ in runs)
        lat = [x for _, ls in runs for x in ls]
        print(f"[{name}] creates/s {rate[name]:7.0f}   p50 {ms(med(lat))}   p99 {ms(api_bench.pct(lat, 99))}")
    print(f"API etcd/SQLite creates/s:              {rate['etcd'] / rate['sqlite']:.2f}")
    print(f"API on etcd / raw EtcdStorage.create:   {rate['etcd'] / rate['raw EtcdStorage.create (txn)']:.2f}")
    print(f"API on etcd / etcd plain Put:           {rate['etcd'] / rate['etcd plain Put (same client)']:.2f}")
    print(f"raw EtcdStorage.create / plain Put:     "
          f"{rate['raw EtcdStorage.create (txn)'] / rate['etcd plain Put (same client)']:.2f}")
    print(f"API on SQLite / raw SQLiteStorage:      {rate['sqlite'] / rate['raw SQLiteStorage.create']:.2f}")


if __name__ == "__main__":
    main()
