"""Scheduler throughput benchmark: N hollow nodes, P pods created at once, pods bound per second.

Every part runs as its own process, as a cluster runs them: the apiserver; the nodes — one
hollow kubelet process (``python -m kubelet.main --runtime fake --count N``, kubemark's idea)
when ``--nodes-from kubelet`` (the default), else N Node objects registered through the API;
the controller-manager with only node IPAM on (so hollow nodes get the podCIDR their sandboxes
need); the scheduler (``python -m scheduler.main``); a watcher that notes when each pod is seen
bound; and the load client that creates the pods with C concurrent aiohttp connections.

Figures: pods bound per second (first create sent → last pod seen bound) and per-pod
scheduling latency, creation acknowledged → bound seen by the watcher, p50/p99. Both clocks
are ``time.time()`` on the same machine. The baseline, measured in the same run, is how fast
the same apiserver takes the creates themselves: the scheduler cannot bind faster than the
API can write, so ``bound/s ÷ creates/s`` says how close it comes.

    .venv/bin/python tests/perf/scheduler_bench.py [--nodes 1000] [--pods 10000] [--profile out.txt] [--settle]

``--settle`` goes on after the last bind until the hollow kubelet has reported every pod
Running, and prints each process's CPU per pod over that whole time: the kubelet's share of
the work, which the bound figure leaves out, lags the binds under load.

``--profile`` records the scheduler (or the processes ``--profile-process`` names, one file each)
with py-spy (raw collapsed stacks) while the pods flow (with ``--settle``, until all run).
Not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import perf_cluster  # beside this file

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def pod_body(i: int) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"bench-{i}", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "minik8s/pause:3.9", "imagePullPolicy": "IfNotPresent",
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    })


def node_body(i: int) -> bytes:
    alloc = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": f"hollow-{i}", "labels": {"kubernetes.io/hostname": f"hollow-{i}"}},
        "status": {"capacity": alloc, "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    })


# ---- processes ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_for(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


async def ready_nodes(session: aiohttp.ClientSession, *, pod_cidr: bool = False) -> int:
    """Nodes Ready (and, with ``pod_cidr``, given their podCIDR by node IPAM)."""
    async with session.get("/api/v1/nodes") as r:
        items = orjson.loads(await r.read())["items"]
    return sum(1 for n in items for c in (n.get("status") or {}).get("conditions") or ()
               if c.get("type") == "Ready" and c.get("status") == "True"
               and (not pod_cidr or (n.get("spec") or {}).get("podCIDR")))


# ---- watcher (own process) ------------------------------------------------------------------


def connector(data_dir: Path, limit: int = 100) -> aiohttp.TCPConnector:
    """TLS to the apiserver with the admin credentials it wrote under ``data_dir``."""
    return aiohttp.TCPConnector(limit=limit, ssl=perf_cluster.ssl_context(data_dir))


def watcher_process(url: str, data_dir: Path, rv: str, expect: int,
                    out: multiprocessing.Queue[dict[str, float]], settle: bool = False) -> None:
    """Puts name -> when first seen bound once all ``expect`` pods are; with ``settle``, then
    also name -> when first seen Running (the hollow kubelet's status patch) once all are."""
    async def main() -> None:
        bound: dict[str, float] = {}
        running: dict[str, float] = {}
        sent = False
        params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "600"}
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=None),
                                         connector=connector(data_dir)) as c:
            async with c.get("/api/v1/namespaces/default/pods", params=params) as r:
                buf = b""
                async for chunk in r.content.iter_any():
                    now = time.time()
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if not line.strip():
                            continue
                        obj = orjson.loads(line)["object"]
                        if obj["spec"].get("nodeName"):
                            bound.setdefault(obj["metadata"]["name"], now)
                        if settle and (obj.get("status") or {}).get("phase") == "Running":
                            running.setdefault(obj["metadata"]["name"], now)
                    if len(bound) >= expect and not sent:
                        out.put(bound)
                        sent = True
                    if sent and (not settle or len(running) >= expect):
                        break
        if settle:
            out.put(running)

    asyncio.run(main())


# ---- load -----------------------------------------------------------------------------------


async def create_all(url: str, data_dir: Path, bodies: list[tuple[str, bytes]], path: str,
                     clients: int) -> dict[str, float]:
    """POST every body with ``clients`` concurrent connections; name -> ack time."""
    acks: dict[str, float] = {}
    it = iter(bodies)

    async def worker(c: aiohttp.ClientSession) -> None:
        for name, body in it:
            async with c.post(path, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                if r.status != 201:
                    raise SystemExit(f"create {name}: HTTP {r.status}")
            acks[name] = time.time()

    async with aiohttp.ClientSession(url, connector=connector(data_dir, clients),
                                     timeout=aiohttp.ClientTimeout(total=120)) as c:
        await asyncio.gather(*(worker(c) for _ in range(clients)))
    return acks


async def request_counts(url: str, data_dir: Path, metric: str = "apiserver_request_total",
                         by: tuple[str, ...] = ("verb", "resource", "subresource")) -> list[tuple[float, str]]:
    """The apiserver's ``apiserver_request_total`` (or another counter) by verb, resource and
    subresource (or the labels ``by``), most first (the whole run's, start-up and node
    registration included)."""
    counts: dict[str, float] = {}
    async with aiohttp.ClientSession(url, connector=connector(data_dir)) as s, s.get("/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if not line.startswith(metric + "{"):
            continue
        labels, value = line[len(metric) + 1:].rsplit("} ", 1)
        kv = dict(x.split("=", 1) for x in labels.split(",") if "=" in x)
        name = " ".join(kv.get(k, '""').strip('"') for k in by).strip()
        counts[name] = counts.get(name, 0.0) + float(value)
    return sorted(((v, k) for k, v in counts.items()), reverse=True)


async def event_reasons(url: str, data_dir: Path) -> list[tuple[int, str]]:
    """The Events in ``default`` by reason (their ``count`` summed), most first."""
    counts: dict[str, int] = {}
    async with aiohttp.ClientSession(url, connector=connector(data_dir)) as s, \
            s.get("/api/v1/namespaces/default/events") as r:
        for e in orjson.loads(await r.read())["items"]:
            counts[e.get("reason") or ""] = counts.get(e.get("reason") or "", 0) + int(e.get("count") or 1)
    return sorted(((v, k) for k, v in counts.items()), reverse=True)


async def run(args: argparse.Namespace, tmp: Path) -> None:
    port = free_port()
    url = perf_cluster.url(port)
    data = tmp / "data"
    kubeconfig = str(perf_cluster.kubeconfig(data))
    procs: dict[str, subprocess.Popen] = {}
    profilers: list[subprocess.Popen] = []
    try:
        procs["apiserver"] = start([PY, "-m", "apiserver.main", "--data-dir", str(tmp / "data"),
                                    "--port", str(port), *args.apiserver_arg], tmp / "apiserver.log")
        perf_cluster.wait_ready(data, port)
        async with aiohttp.ClientSession(url, connector=connector(data)) as s:
            async def healthy() -> bool:
                try:
                    async with s.get("/healthz") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False
            await wait_for(healthy, "the apiserver", 30)
            # What the controller-manager's serviceaccount controller does in a cluster: the
            # namespace's default ServiceAccount, which the ServiceAccount admission plugin (on,
            # as a user gets it) requires before it admits a pod.
            async with s.post("/api/v1/namespaces/default/serviceaccounts", data=orjson.dumps(
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
                    headers={"content-type": "application/json"}) as r:
                if r.status not in (201, 409):
                    raise SystemExit(f"default ServiceAccount: HTTP {r.status}")
            # ... and its root-ca-cert-publisher: the CA bundle each pod's kube-api-access volume projects
            async with s.post("/api/v1/namespaces/default/configmaps", data=orjson.dumps(
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt"},
                     "data": {"ca.crt": (data / "pki" / "ca.crt").read_text()}}),
                    headers={"content-type": "application/json"}) as r:
                if r.status not in (201, 409):
                    raise SystemExit(f"kube-root-ca.crt: HTTP {r.status}")

            t0 = time.time()
            hollow = args.nodes_from == "kubelet"
            if hollow:
                # ... and its node IPAM controller: a hollow node makes no sandbox until its Node
                # has a podCIDR (kubelet/hollownet.py), so without it no pod would ever run.
                procs["controller-manager"] = start(
                    [PY, "-m", "controllers.main", "--kubeconfig", kubeconfig, "--leader-elect=false",
                     "--controllers", "nodeipam", "--cluster-cidr", "10.64.0.0/14", "--secure-port", "0",
                     "--log-level", "warning"], tmp / "controller-manager.log")
                procs["kubelet"] = start([PY, "-m", "kubelet.main", "--runtime", "fake", "--count", str(args.nodes),
                                          "--node-name", "hollow", "--kubeconfig", kubeconfig, "--port", str(free_port()),
                                          "--root-dir", str(tmp / "kubelet"), "--log-level", "warning"],
                                         tmp / "kubelet.log")
            else:
                await create_all(url, data, [(f"hollow-{i}", node_body(i)) for i in range(args.nodes)],
                                 "/api/v1/nodes", args.clients)

            async def all_ready() -> bool:
                return await ready_nodes(s, pod_cidr=hollow) >= args.nodes
            await wait_for(all_ready, f"{args.nodes} Ready nodes", 300)
            print(f"{args.nodes} nodes Ready in {time.time() - t0:.1f} s "
                  f"({'hollow kubelet process' if hollow else 'Node objects registered through the API'})")

            procs["scheduler"] = start([PY, "-m", "scheduler.main", "--kubeconfig", kubeconfig, "--leader-elect=false",
                                        "--bind-workers", str(args.bind_workers)], tmp / "scheduler.log")

            async def scheduler_ready() -> bool:
                return "scheduling:" in (tmp / "scheduler.log").read_text(errors="replace")
            await wait_for(scheduler_ready, "the scheduler's caches", 120)

            async with s.get("/api/v1/namespaces/default/pods") as r:
                rv = orjson.loads(await r.read())["metadata"]["resourceVersion"]

        ctx = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue = ctx.Queue()
        watcher = ctx.Process(target=watcher_process, args=(url, data, rv, args.pods, results, args.settle),
                              daemon=True)
        watcher.start()
        await asyncio.sleep(1.0)  # let the watch open before the first create
        if args.profile:
            spy = shutil.which("py-spy", path=str(Path(PY).parent)) or "py-spy"
            names = args.profile_process.split(",")
            for name in names:
                out = args.profile if len(names) == 1 else f"{args.profile}.{name}"
                profilers.append(subprocess.Popen([spy, "record", "--format", "raw", "-o", out, "--rate", "200",
                                                   "--pid", str(procs[name].pid),
                                                   *(["--gil"] if args.profile_gil else [])],
                                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        bodies = [(f"bench-{i}", pod_body(i)) for i in range(args.pods)]
        cpu_before = cpu_seconds(procs["scheduler"].pid)
        others_before = {n: cpu_seconds(procs[n].pid) for n in ("apiserver", "kubelet") if n in procs}
        sent = time.time()
        acks = await create_all(url, data, bodies, "/api/v1/namespaces/default/pods", args.clients)
        created = time.time()
        bound = await asyncio.to_thread(results.get, True, args.timeout)
        sched_cpu = cpu_seconds(procs["scheduler"].pid) - cpu_before
        others_cpu = {n: cpu_seconds(procs[n].pid) - c for n, c in others_before.items()}
        requests = await request_counts(url, data)
        settled = None
        if args.settle:
            running = await asyncio.to_thread(results.get, True, args.timeout)
            all_cpu = {n: cpu_seconds(procs[n].pid) - c for n, c in
                       {"scheduler": cpu_before, **others_before}.items()}
            settled = (running, all_cpu, await request_counts(url, data), await event_reasons(url, data),
                       await request_counts(url, data, "apiserver_watch_events_total", ("kind",)))
        watcher.join(5)
    finally:
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)
        for profiler in profilers:
            profiler.wait(30)
        for name in ("scheduler", "kubelet", "controller-manager", "apiserver"):
            stop(procs.get(name))

    last = max(bound.values())
    lat = [bound[n] - acks[n] for n in bound]
    create_rate = args.pods / (created - sent)
    bind_rate = len(bound) / (last - sent)
    print(f"scheduler: {args.nodes} nodes, {args.pods} pods created at once by {args.clients} clients, "
          f"{args.bind_workers} bind workers")
    print(f"  creates/s (baseline, same run)  : {create_rate:8.0f}  ({created - sent:.1f} s)")
    print(f"  pods bound/s                    : {bind_rate:8.0f}  (last bound {last - sent:.1f} s after the first create)")
    print(f"  ratio bound/s : creates/s       : {bind_rate / create_rate:8.2f}")
    print(f"  latency create ack -> bound p50 : {pct(lat, 50) * 1000:8.0f} ms")
    print(f"  latency create ack -> bound p99 : {pct(lat, 99) * 1000:8.0f} ms")
    print(f"  scheduler CPU per pod           : {sched_cpu / len(bound) * 1000:8.2f} ms  "
          f"(ceiling on one free core: {len(bound) / sched_cpu:.0f} pods/s)")
    print("  apiserver requests (whole run)  : " + ", ".join(f"{k} {v:.0f}" for v, k in requests[:8]))
    for name, cpu in others_cpu.items():
        print(f"  {name + ' CPU per pod':32}: {cpu / len(bound) * 1000:8.2f} ms  "
              f"(ceiling on one free core: {len(bound) / cpu:.0f} pods/s)")
    print(f"  pods bound                      : {len(bound)}/{args.pods}")
    if settled is not None:
        running, all_cpu, requests, reasons, watch_events = settled
        last_running = max(running.values())
        print(f"  until all Running (--settle)    : {len(running)} pods, last {last_running - sent:.1f} s after the "
              f"first create ({len(running) / (last_running - sent):.0f} pods/s)")
        for name, cpu in all_cpu.items():
            print(f"    {name + ' CPU per pod':30}: {cpu / len(running) * 1000:8.2f} ms")
        print(f"    all three                     : {sum(all_cpu.values()) / len(running) * 1000:8.2f} ms")
        print("    apiserver requests (whole run): " + ", ".join(f"{k} {v:.0f}" for v, k in requests[:12]))
        print("    events by reason              : " + ", ".join(f"{k} {v}" for v, k in reasons))
        print("    watch events sent, by kind    : " + ", ".join(f"{k} {v:.0f}" for v, k in watch_events[:6]))
    print(f"  machine load average (1 min)    : {os.getloadavg()[0]:8.1f}  on {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--bind-workers", type=int, default=64)
    ap.add_argument("--nodes-from", choices=("kubelet", "api"), default="kubelet",
                    help="hollow kubelet process (default) or bare Node objects")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--profile", help="py-spy raw output file for the scheduler process")
    ap.add_argument("--profile-process", default="scheduler",
                    help="the process --profile records (scheduler, apiserver, kubelet), or several, comma-separated "
                         "(then one file each, --profile's name + '.<process>')")
    ap.add_argument("--profile-gil", action="store_true", help="sample only the thread holding the GIL")
    ap.add_argument("--apiserver-arg", action="append", default=[],
                    help="an extra apiserver flag (repeatable), e.g. --apiserver-arg=--disable-admission-plugins=ServiceAccount")
    ap.add_argument("--settle", action="store_true",
                    help="after all are bound, wait until the hollow kubelet reports every pod Running and print "
                         "each process's CPU per pod over the whole (what the bound figure leaves out)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sched-bench-"))
    try:
        asyncio.run(run(args, tmp))
    finally:
        if args.keep:
            print(f"logs in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
