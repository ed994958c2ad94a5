"""API throughput benchmark: C concurrent clients create N pods over HTTPS (TLS, each client
authenticated by its certificate, authorized) while W watchers follow the pods; then the same
writes straight against the SQLite store, as the baseline.

Prints creates/s, p50/p99 create latency, p50/p99 watch delivery latency (from the moment a
create was sent to the moment each watcher has the event), and the ratio API/raw store.

    .venv/bin/python tests/perf/api_bench.py --clients 32 --pods 5000 --watchers 50 [--profile out.txt]
    .venv/bin/python tests/perf/api_bench.py --baseline-repo /tmp/pre-tls --rounds 3   # + a plain-HTTP peer

    .venv/bin/python tests/perf/api_bench.py --peer-repo /tmp/before --audit-policy POLICY --rounds 3

    .venv/bin/python tests/perf/api_bench.py --watchers 0 --etcd-gateway --layers --rounds 3   # issue #15

``--etcd-gateway`` measures, alternating in the same run, etcd 3.4's own put rate of the same
JSON through its HTTP/JSON gateway (``POST /v3/kv/put``) with the same aiohttp client and
concurrency: the peer of issue #15's "apiserver at etcd's pace". ``--layers`` measures the
apiserver as ``minik8s up`` runs it (audit log, PodSecurity configuration, encryption at rest,
ServiceAccount admission with the default ServiceAccount present) and then with one layer taken
away at a time, so each layer's cost is the difference of two rows of one run; ``--as-up``
measures only the first. The process CPU of the apiserver (or etcd) and of the load client are
printed per create: on 2 cores the client's share bounds what any server can reach.

``--profile`` records the apiserver with py-spy (raw collapsed stacks) while the creates run.
``--peer-repo DIR`` runs, in the same run and alternating, the apiserver of another checkout
over HTTPS with the same flags (e.g. the code without /metrics counting and the audit filter),
and ``--audit-policy FILE`` one more apiserver of this checkout writing an audit log with that
policy (into its temp data dir); the ratios to the peer are printed.
``--baseline-repo DIR`` also runs the same load, in the same run and alternating, against the
apiserver of another checkout serving plain HTTP (one from before TLS; Kubernetes itself has no
plain-HTTP port any more, so the peer is the older code), and prints the ratio.

Not a test: it prints figures and asserts nothing. The apiserver runs as its own process
(as users run it); watchers run in a separate process so their parsing does not slow the
clients.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx
import orjson

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from apiserver.storage.sqlite import SQLiteStorage  # noqa: E402 - after the sys.path set-up above


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_body(i: int, nodes: int = 0) -> dict:
    """Pod ``i``; with ``nodes``, bound to node ``i % nodes`` (as the scheduler would have)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "labels": {"app": "bench", "shard": str(i % 10)},
                         "annotations": {"bench/sent": repr(time.time())}},
            "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
                     **({"nodeName": f"node-{i % nodes}"} if nodes else {})}}


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

def client_ssl(pki: str | None) -> ssl.SSLContext | bool:
    """TLS trusting the cluster CA with the admin certificate (False: plain HTTP)."""
    if pki is None:
        return False
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    ctx.load_cert_chain(f"{pki}/admin.crt", f"{pki}/admin.key")
    return ctx


def watcher_process(url: str, pki: str | None, watchers: int, expect: int, rv: str,
                    out: multiprocessing.Queue[tuple[list[float], float]],
                    ready: multiprocessing.Event, nodes: bool = False) -> None:
    """``watchers`` watches of all the pods, each expecting ``expect`` events; with ``nodes``,
    one watch per node instead (``fieldSelector=spec.nodeName=node-K``, as each kubelet's),
    each expecting its share of the ``expect`` pods."""
    async def one(k: int, lat: list[float]) -> None:
        seen = 0
        params = {"watch": "1", "resourceVersion": rv}
        mine = expect
        if nodes:
            params["fieldSelector"] = f"spec.nodeName=node-{k}"
            mine = len(range(k, expect, watchers))
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=None),
                                         connector=aiohttp.TCPConnector(ssl=client_ssl(pki))) as c:
            async with c.get("/api/v1/namespaces/default/pods", params=params) as r:
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
                    if seen >= mine:
                        return

    ready_counter: list[int] = []

    async def main() -> None:
        lats: list[list[float]] = [[] for _ in range(watchers)]
        await asyncio.wait_for(asyncio.gather(*(one(k, lat) for k, lat in enumerate(lats))), timeout=600)
        # the watchers' own CPU: when it nears a whole core, delivery latency is the
        # watchers' parsing falling behind, not the apiserver
        out.put(([x for lat in lats for x in lat], time.process_time()))

    asyncio.run(main())


# ---- API creates ----------------------------------------------------------------------------

async def api_creates(url: str, pki: str | None, clients: int, n: int, first: int = 0,
                      nodes: int = 0) -> tuple[float, list[float]]:
    """``first``: the number of the first pod (several loads on one store need distinct names);
    ``nodes``: bind the pods to that many nodes, round robin."""
    latencies: list[float] = []
    counter = iter(range(first, first + n))

    async def worker(c: aiohttp.ClientSession) -> None:
        for i in counter:
            body = orjson.dumps(pod_body(i, nodes))
            t0 = time.perf_counter()
            async with c.post("/api/v1/namespaces/default/pods", data=body,
                              headers={"content-type": "application/json"}) as r:
                text = await r.read()
            latencies.append(time.perf_counter() - t0)
            if r.status != 201:
                raise RuntimeError(f"create failed: {r.status} {text[:200]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients, ssl=client_ssl(pki)),
                                     timeout=aiohttp.ClientTimeout(total=60)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return n / elapsed, latencies


async def etcd_gateway_puts(url: str, clients: int, n: int) -> tuple[float, list[float]]:
    """etcd's own put rate for the same JSON: ``POST /v3/kv/put`` on etcd's HTTP/JSON gateway
    (key and value base64, as the gateway takes bytes fields), the same aiohttp client and
    concurrency as ``api_creates``; a put is acknowledged after etcd's WAL fsync."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker(c: aiohttp.ClientSession) -> None:
        for i in counter:
            body = orjson.dumps({"key": base64.b64encode(f"/registry/pods/default/bench-{i}".encode()).decode(),
                                 "value": base64.b64encode(orjson.dumps(pod_body(i))).decode()})
            t0 = time.perf_counter()
            async with c.post("/v3/kv/put", data=body, headers={"content-type": "application/json"}) as r:
                text = await r.read()
            latencies.append(time.perf_counter() - t0)
            if r.status != 200:
                raise RuntimeError(f"put failed: {r.status} {text[:200]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients),
                                     timeout=aiohttp.ClientTimeout(total=60)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return n / elapsed, latencies


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    """Poll ``ready`` for up to 20 s (a refused connection or a bad answer is "not yet"); when the
    wait is interrupted, stop ``proc``, which its caller never got to stop."""
    try:
        for _ in range(400):
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError, ValueError):
                pass
            time.sleep(0.05)
    except BaseException:
        proc.terminate()
        raise


def start_etcd(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh etcd 3.4 (Debian's, on loopback, in a temp dir under ``tmp``), once healthy: its
    process and client URL."""
    from minik8s.up import etcd as local_etcd

    client, peer = free_port(), free_port()
    data = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.Popen(local_etcd.command(Path(data) / "etcd", client_port=client, peer_port=peer),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = local_etcd.client_url(client)

    def healthy() -> bool:
        return bool(httpx.get(f"{url}/health", timeout=1).json().get("health") == "true")

    wait_ready(proc, healthy)
    return proc, url


def etcd_gateway_round(clients: int, n: int, tmp: str) -> dict:
    """A fresh etcd 3.4 and its gateway put rate."""
    proc, url = start_etcd(tmp)
    try:
        cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
        rate, lat = asyncio.run(etcd_gateway_puts(url, clients, n))
        cpu, client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - client0
    finally:
        proc.terminate()
        proc.wait(10)
    return {"rate": rate, "lat": lat, "p99": pct(lat, 99), "server_cpu": cpu, "client_cpu": client_cpu}


async def timed_writes(write, clients: int, n: int) -> tuple[float, list[float]]:
    """``clients`` concurrent workers awaiting ``write(i)`` for i in 0..n-1: the rate and latencies."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await write(i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return n / (time.perf_counter() - t0), latencies


async def store_creates(store, clients: int, n: int) -> tuple[float, list[float]]:
    """The same objects, serialized the same way, written straight into ``store`` (a Storage)."""
    await store.start()
    try:
        return await timed_writes(lambda i: store.create(f"/registry/pods/default/bench-{i}",
                                                         orjson.dumps(pod_body(i))), clients, n)
    finally:
        await store.close()


async def raw_creates(path: str, clients: int, n: int) -> tuple[float, list[float]]:
    """The same objects, serialized the same way, written straight into the SQLite store."""
    return await store_creates(SQLiteStorage(path), clients, n)


UP_PARTS = frozenset({"audit", "admission-config", "encryption", "serviceaccount"})


def up_flags(data: Path, parts: frozenset[str]) -> list[str]:
    """The configuration flags ``minik8s up`` passes its apiserver (those of ``parts``), their
    files written into ``data``."""
    from minik8s.up import admission_config, audit_policy, encryption_config

    flags: dict[str, str | None] = {}
    if "audit" in parts:
        audit_policy.ensure(data)
        flags |= audit_policy.flags(data, data)
    if "admission-config" in parts:
        admission_config.ensure(data)
        flags |= admission_config.flags(data)
    if "encryption" in parts:
        encryption_config.ensure(data)
        flags["encryption-provider-config"] = str(encryption_config.path_of(data))
    return [f"--{k}={v}" if v is not None else f"--{k}" for k, v in flags.items()]


# What each layer of the apiserver a user runs costs: variants measured alternately in one run,
# each taking one more layer away from the one before (TLS and authentication stay: there is no
# plain-HTTP port to compare with; an earlier run against a pre-TLS checkout measured that).
NO_SA_PSA = ("--disable-admission-plugins", "ServiceAccount,PodSecurity")
LAYERS: list[tuple[str, dict]] = [
    ("as minik8s up runs it", {"up": UP_PARTS}),
    ("- audit log", {"up": UP_PARTS - {"audit"}}),
    ("- ServiceAccount admission", {"up": frozenset({"admission-config", "encryption"})}),
    ("- PodSecurity admission", {"up": frozenset({"encryption"}), "extra_args": NO_SA_PSA}),
    ("- RBAC (AlwaysAllow)", {"up": frozenset({"encryption"}),
                              "extra_args": (*NO_SA_PSA, "--authorization-mode", "AlwaysAllow")}),
]


def start_api(repo: str, tls: bool, tmp: str, extra_args: tuple[str, ...] = (), *,
              up: frozenset[str] = frozenset()) -> tuple[subprocess.Popen[bytes], str, str | None]:
    """One apiserver (the code at ``repo``) in a data dir of its own under ``tmp``, once Ready:
    its process, URL and PKI dir (None over plain HTTP). ``extra_args`` and ``up``: as
    :func:`run_api`'s."""
    port = free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    data = tempfile.mkdtemp(dir=tmp)
    pki = f"{data}/pki" if tls else None
    extra_args = tuple(x.replace("{data}", data) for x in extra_args)
    extra_args = (*up_flags(Path(data), up), *extra_args)
    proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", data,
                             "--port", str(port), "--log-level", "warning",
                             # no controller-manager makes the namespace's default ServiceAccount (as
                             # the test harness' apiservers)
                             *(("--disable-admission-plugins", "ServiceAccount") if tls and "serviceaccount" not in up else ()),
                             *extra_args], cwd=repo,
                            env={**os.environ, "PYTHONPATH": repo})
    def ready() -> bool:
        # The server makes its CA and admin certificate on start: ask once they exist.
        return (not tls or os.path.exists(f"{data}/kubeconfig")) and httpx.get(
            f"{url}/readyz", timeout=1, verify=client_ssl(pki)).status_code == 200

    wait_ready(proc, ready)
    return proc, url, pki


def run_api(repo: str, tls: bool, a: argparse.Namespace, tmp: str, extra_args: tuple[str, ...] = (), *,
            up: frozenset[str] = frozenset(), node_watchers: int = 0) -> dict:
    """One apiserver (the code at ``repo``; ``extra_args`` added to its flags, e.g. its store),
    the watchers and the creates; its figures. ``up``: which parts of what ``minik8s up`` gives its
    apiserver to give this one (UP_PARTS: the audit log, the PodSecurity configuration, encryption
    at rest; "serviceaccount": the ServiceAccount admission plugin on and the namespace's default
    ServiceAccount made as the controller-manager would; without it that plugin is off).
    ``node_watchers``: instead of ``a.watchers``, that many per-node watches (as kubelets'), the
    pods bound round robin to their nodes."""
    proc, url, pki = start_api(repo, tls, tmp, extra_args, up=up)
    try:
        if "serviceaccount" in up:
            r = httpx.post(f"{url}/api/v1/namespaces/default/serviceaccounts", verify=client_ssl(pki), json={
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})
            if r.status_code not in (201, 409):
                raise RuntimeError(f"default ServiceAccount: {r.status_code} {r.text[:200]}")
        rv = httpx.get(f"{url}/api/v1/namespaces/default/pods",
                       verify=client_ssl(pki)).json()["metadata"]["resourceVersion"]
        out: multiprocessing.Queue[tuple[list[float], float]] = multiprocessing.Queue()
        ready = multiprocessing.Event()
        wp = None
        if node_watchers:
            wp = multiprocessing.Process(target=watcher_process, args=(url, pki, node_watchers, a.pods, rv, out, ready, True))
            wp.start()
            ready.wait(120)
        elif a.watchers:
            wp = multiprocessing.Process(target=watcher_process, args=(url, pki, a.watchers, a.pods, rv, out, ready))
            wp.start()
            ready.wait(60)
        profiler = None
        if a.profile and tls:
            spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"
            profiler = subprocess.Popen([spy, "record", "--format", "raw", "-o", a.profile, "--rate", "200",
                                         "--pid", str(proc.pid), *(["--gil"] if a.profile_gil else [])],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # py-spy attaches before the load starts
        cpu0, client0 = cpu_seconds(proc.pid), time.process_time()
        t_creates = time.perf_counter()
        rate, lat = asyncio.run(api_creates(url, pki, a.clients, a.pods, nodes=node_watchers))
        cpu, client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - client0
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
    return {"rate": rate, "lat": lat, "cpu": cpu, "client_cpu": client_cpu, "watch_lat": watch_lat, "watch_cpu": watch_cpu,
            "watch_wall": watch_wall, "p99": pct(lat, 99)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--watchers", type=int, default=50)
    ap.add_argument("--profile", help="py-spy raw output file for the apiserver process")
    ap.add_argument("--profile-gil", action="store_true",
                    help="sample only the thread holding the GIL (where the Python CPU goes; a thread "
                         "blocked in a lock or fsync is not counted)")
    ap.add_argument("--baseline-repo", help="a checkout from before TLS: its apiserver, over plain HTTP, is "
                                            "measured in the same run as the peer")
    ap.add_argument("--peer-repo", help="another checkout whose apiserver, over HTTPS with the same flags, is "
                                        "measured in the same run as the peer")
    ap.add_argument("--audit-policy", help="also measure this checkout's apiserver writing an audit log with this "
                                           "audit.k8s.io/v1 Policy file")
    ap.add_argument("--etcd-gateway", action="store_true",
                    help="the peer is etcd 3.4's put rate of the same JSON through its HTTP gateway, same client")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds when a peer is given")
    ap.add_argument("--as-up", action="store_true", help="the apiserver as minik8s up runs it (audit log, PodSecurity "
                                                         "configuration, ServiceAccount admission)")
    ap.add_argument("--node-watchers", type=int, default=0,
                    help="alternate no watchers with this many per-node watches (kubelets'), pods bound round robin")
    ap.add_argument("--layers", action="store_true", help="what each layer costs: the variants of LAYERS, alternating")
    ap.add_argument("--apiserver-arg", action="append", default=[],
                    help="an extra flag for this checkout's apiserver (repeatable, e.g. --apiserver-arg=--workers=2)")
    a = ap.parse_args()

    def ms(x):
        return f"{x * 1000:.1f} ms"
    print(f"machine: {os.cpu_count()} cores; clients={a.clients} pods={a.pods} watchers={a.watchers}")
    with tempfile.TemporaryDirectory() as tmp:
        runs: list[tuple[str, dict]] = []
        for _ in range(a.rounds if a.baseline_repo or a.peer_repo or a.audit_policy or a.etcd_gateway or a.layers or a.node_watchers else 1):
            if a.etcd_gateway:
                runs.append(("etcd 3.4 gateway put", etcd_gateway_round(a.clients, a.pods, tmp)))
            if a.baseline_repo:
                runs.append(("plain HTTP (baseline repo)", run_api(a.baseline_repo, False, a, tmp)))
            if a.peer_repo:
                runs.append(("peer: HTTPS, peer repo", run_api(a.peer_repo, True, a, tmp,
                                                                 up=UP_PARTS if a.as_up else frozenset())))
            if a.node_watchers:
                up = UP_PARTS if a.as_up else frozenset()
                runs.append(("no watchers", run_api(REPO, True, a, tmp, tuple(a.apiserver_arg), up=up)))
                runs.append((f"{a.node_watchers} node watchers", run_api(
                    REPO, True, a, tmp, tuple(a.apiserver_arg), up=up, node_watchers=a.node_watchers)))
            elif a.layers:
                for name, kw in LAYERS:
                    kw = {**kw, "extra_args": (*kw.get("extra_args", ()), *a.apiserver_arg)}
                    runs.append((name, run_api(REPO, True, a, tmp, **kw)))
            else:
                runs.append(("HTTPS + authn + authz", run_api(REPO, True, a, tmp, tuple(a.apiserver_arg),
                                                               up=UP_PARTS if a.as_up else frozenset())))
            if a.audit_policy:
                runs.append(("HTTPS + audit log", run_api(REPO, True, a, tmp, (
                    "--audit-policy-file", os.path.abspath(a.audit_policy), "--audit-log-path",
                    "{data}/audit.log"))))
        raw_rate, raw_lat = asyncio.run(raw_creates(f"{tmp}/raw.db", a.clients, a.pods))
    for name, r in runs:
        print(f"[{name}]")
        if "cpu" not in r:
            print(f"puts/s:               {r['rate']:8.0f}   p50 {ms(statistics.median(r['lat']))}   p99 {ms(r['p99'])}")
            print(f"etcd CPU/put:         {r['server_cpu'] / a.pods * 1000:8.3f} ms   client CPU/put "
                  f"{r['client_cpu'] / a.pods * 1000:.3f} ms")
            continue
        print(f"API creates/s:        {r['rate']:8.0f}   p50 {ms(statistics.median(r['lat']))}   p99 {ms(pct(r['lat'], 99))}")
        print(f"apiserver CPU/create: {r['cpu'] / a.pods * 1000:8.3f} ms   client CPU/create "
              f"{r['client_cpu'] / a.pods * 1000:.3f} ms  (load average {os.getloadavg()[0]:.1f})")
        if r["watch_lat"]:
            print(f"watch delivery ({len(r['watch_lat'])} events to {a.node_watchers or a.watchers} watchers): "
                  f"p50 {ms(pct(r['watch_lat'], 50))}   p99 {ms(pct(r['watch_lat'], 99))}")
            print(f"watcher process CPU:  {r['watch_cpu']:8.1f} s over {r['watch_wall']:.1f} s of creates+delivery "
                  f"({r['watch_cpu'] / r['watch_wall']:.0%} of a core)")
    print(f"raw store creates/s:  {raw_rate:8.0f}   p50 {ms(statistics.median(raw_lat))}   p99 {ms(pct(raw_lat, 99))}")
    main_name = LAYERS[0][0] if a.layers else "no watchers" if a.node_watchers else "HTTPS + authn + authz"
    secure = [r for n, r in runs if n == main_name]
    print(f"ratio API/raw:        {statistics.median(r['rate'] for r in secure) / raw_rate:8.2f}")
    def med(rs, k):
        return statistics.median(r[k] for r in rs)
    if a.peer_repo:
        peer = [r for n, r in runs if n.startswith("peer")]
        for name in ("HTTPS + authn + authz", "HTTPS + audit log"):
            mine = [r for n, r in runs if n == name]
            if mine:
                print(f"{name} / peer (median of {len(mine)}): creates/s {med(mine, 'rate') / med(peer, 'rate'):.2f}"
                      f"   CPU/create {med(mine, 'cpu') / med(peer, 'cpu'):.2f}"
                      f"   p99 latency {med(mine, 'p99') / med(peer, 'p99'):.2f}")
    if a.node_watchers:
        none_, nw = ([r for n, r in runs if n == name] for name in ("no watchers", f"{a.node_watchers} node watchers"))
        print(f"{a.node_watchers} node watchers / none (median of {len(nw)}): creates/s {med(nw, 'rate') / med(none_, 'rate'):.2f}"
              f"   CPU/create {med(nw, 'cpu') / med(none_, 'cpu'):.2f}   p99 {ms(med(nw, 'p99'))} / {ms(med(none_, 'p99'))}")
    if a.layers:
        print(f"layers (medians of {a.rounds}): creates/s, p99, apiserver CPU/create, CPU saved against the row above")
        before = None
        for name, _ in LAYERS:
            mine = [r for n, r in runs if n == name]
            cpu = med(mine, "cpu") / a.pods * 1000
            print(f"  {name:28} {med(mine, 'rate'):6.0f}/s  p99 {ms(med(mine, 'p99'))}  CPU {cpu:.3f} ms"
                  + (f"  ({before - cpu:+.3f} ms)" if before is not None else ""))
            before = cpu
    if a.etcd_gateway:
        gw = [r for n, r in runs if n.startswith("etcd")]
        print(f"API creates ({main_name}) / etcd gateway puts (median of {len(secure)}): "
              f"{med(secure, 'rate') / med(gw, 'rate'):.2f}   p99 API {ms(med(secure, 'p99'))} / etcd {ms(med(gw, 'p99'))}")
    if a.baseline_repo:
        plain = [r for n, r in runs if n.startswith("plain")]
        def med(rs, k):
            return statistics.median(r[k] for r in rs)
        print(f"HTTPS/plain creates/s (median of {len(secure)}): {med(secure, 'rate') / med(plain, 'rate'):.2f}   "
              f"CPU/create: {med(secure, 'cpu') / med(plain, 'cpu'):.2f}")


if __name__ == "__main__":
    main()
