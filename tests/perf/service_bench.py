"""Service proxy cost: traffic through a ClusterIP beside straight to a pod, and sync time at scale.

Part 1, traffic. Starts its own apiserver, a controller-manager (endpoint, endpointslice,
nodeipam) and a kubelet on the local Docker engine (with its proxy), and 3 pods running busybox
``httpd`` that serve their hostname. ``--concurrency`` clients each open a new TCP connection
per request (``GET /`` HTTP/1.0), for ``--seconds``, alternately (a) to the service's ClusterIP
and (b) straight to one pod's IP (the baseline: no NAT), ``--rounds`` times, from two places:
inside a pod's network namespace (the load generator, this script, runs there through
``nsenter``: pod-to-service traffic, DNAT only) and from the host (DNAT plus masquerade, as for
any traffic from outside the cluster CIDR). Prints requests/s and p99 latency of each and the
ratios (ClusterIP / direct; the aim is >= 0.9). A third target, ``clusterip-1``, is a
service whose one endpoint is the very pod of the direct baseline: the proxy's cost alone,
without 3 replicas' extra capacity.

Part 2, sync time. Creates ``--services`` ClusterIP services with an EndpointSlice of 3
endpoints each (through the API), runs a Proxier in this process against them and reports:
the first full sync (build + ``iptables-restore``), the baseline of ``iptables-restore`` alone
fed the same document, and the network programming latency of one endpoint change at that
scale (slice update sent → rules in place, seen by the proxy's own counters).

Cleans up after itself: pods, the node's network, the proxy's chains.
Not a test: numbers, not pass/fail.

    .venv/bin/python tests/perf/service_bench.py [--seconds 5] [--concurrency 16] [--services 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import docker  # noqa: E402 - after the sys.path set-up above

from kubelet import nettools  # noqa: E402 - after the sys.path set-up above
from kubelet.proxy import proxier  # noqa: E402 - after the sys.path set-up above
from minik8s.api.resources import ENDPOINTSLICES, NAMESPACES, PODS, SERVICES  # noqa: E402 - after the sys.path set-up above
from minik8s.client.informer import SharedInformerFactory  # noqa: E402 - after the sys.path set-up above
from tests.e2e import services_harness as h  # noqa: E402 - after the sys.path set-up above

HTTPD = ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]


class _Factory:
    """Just enough of pytest's tmp_path_factory for the harness."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        p = self.root / f"{name}{self.n}"
        p.mkdir(parents=True)
        return p


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def load(host: str, port: int, *, seconds: float, concurrency: int) -> tuple[float, float, int]:
    """(requests/s, p99 latency in ms, errors): new connection per request."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3)
                writer.write(b"GET / HTTP/1.0\r\n\r\n")
                await writer.drain()
                body = await asyncio.wait_for(reader.read(), 3)
                writer.close()
                if not body.startswith(b"HTTP/1."):
                    errors += 1
                    continue
            except (OSError, TimeoutError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - t0)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return len(latencies) / elapsed, pct(latencies, 99) * 1000 if latencies else float("nan"), errors


def load_in(netns_pid: int | None, host: str, port: int, *, seconds: float, concurrency: int
            ) -> tuple[float, float, int]:
    """:func:`load` in a child process, inside the network namespace of ``netns_pid`` (a pod's
    sandbox: the load then leaves from a pod IP, as pod-to-service traffic does) or the host's."""
    argv = [sys.executable, __file__, "--load", host, str(port), str(seconds), str(concurrency)]
    if netns_pid is not None:
        argv = ["nsenter", f"--net=/proc/{netns_pid}/ns/net", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


async def traffic(cluster: h.Cluster, args: argparse.Namespace, dc) -> dict:
    async with cluster.api.client() as client:
        ns = "bench"
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        names = [f"web-{i}" for i in range(3)]
        for n in names:
            await client.create(PODS, h.backend(n, "bench-node", "web", command=HTTPD), namespace=ns)
        await client.create(SERVICES, h.service("web", selector={"app": "web"}), namespace=ns)
        # The same pod as the direct baseline behind a service of its own: the proxy's cost alone.
        await client.create(PODS, {**h.backend("solo", "bench-node", "solo", command=HTTPD)}, namespace=ns)
        await client.create(SERVICES, h.service("solo", selector={"app": "solo"}), namespace=ns)
        await client.create(PODS, h.pod("loadgen", "bench-node"), namespace=ns)
        await h.wait_ready(client, ns, ["loadgen"], cluster=cluster)
        sandbox = dc.containers.list(filters={"label": ["io.minik8s.pod.name=loadgen",
                                                        "io.minik8s.container.type=sandbox"]})[0]
        pod_pid = sandbox.attrs["State"]["Pid"]
        pods = await h.wait_ready(client, ns, [*names, "solo"], cluster=cluster)
        await h.wait_endpoints(client, ns, "web", {pods[n]["status"]["podIP"] for n in names}, cluster=cluster)
        await h.wait_endpoints(client, ns, "solo", {pods["solo"]["status"]["podIP"]}, cluster=cluster)
        vip = (await client.get(SERVICES, "web", namespace=ns))["spec"]["clusterIP"]
        solo_vip = (await client.get(SERVICES, "solo", namespace=ns))["spec"]["clusterIP"]
        pod_ip = pods["solo"]["status"]["podIP"]
        # Warm up both paths (and wait for the rules).
        for _ in range(50):
            rps, _, err = await load(vip, 80, seconds=0.2, concurrency=1)
            if rps and not err:
                break
            await asyncio.sleep(0.1)
        results: dict[str, list[tuple[float, float, int]]] = {}
        for where, pid in (("pod", pod_pid), ("host", None)):
            await asyncio.to_thread(load_in, pid, pod_ip, 80, seconds=0.5, concurrency=args.concurrency)
            for _ in range(args.rounds):
                for kind, ip in (("clusterip", vip), ("direct", pod_ip), ("clusterip-1", solo_vip)):
                    r = await asyncio.to_thread(load_in, pid, ip, 80, seconds=args.seconds,
                                                concurrency=args.concurrency)
                    results.setdefault(f"{where} {kind}", []).append(r)
                    # Let TIME_WAIT and conntrack entries of this run age out of the next one's way.
                    await asyncio.sleep(args.pause)
        return results


async def sync_at_scale(api: h.ApiServer, n: int) -> dict:
    async with api.client() as client:
        ns = "scale"
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                await client.create(SERVICES, h.service(f"s{i}", selector={"app": f"s{i}"}), namespace=ns)
                eps = [{"addresses": [f"10.247.{(3 * i + k) // 250}.{(3 * i + k) % 250 + 1}"],
                        "conditions": {"ready": True}} for k in range(3)]
                await client.create(ENDPOINTSLICES, {
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"s{i}-a", "labels": {"kubernetes.io/service-name": f"s{i}"}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": eps}, namespace=ns)
        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        created_s = time.monotonic() - t0

        informers = SharedInformerFactory(client)
        prox = proxier.Proxier(client, informers, cluster_cidr="10.247.0.0/16")
        informers.start()
        await informers.wait_for_sync()
        await prox.setup()
        first = await prox.sync()
        assert first
        full = prox.stats.last_sync_seconds
        build = prox.stats.last_build_seconds
        rules = prox.stats.last_rules
        text = prox._last_text or ""
        t0 = time.perf_counter()
        await nettools.restore(text)
        restore_only = time.perf_counter() - t0

        # One endpoint change at this scale, end to end.
        run = asyncio.create_task(prox.run())
        await asyncio.sleep(0.5)
        latencies = []
        for k in range(5):
            s = await client.get(ENDPOINTSLICES, "s7-a", namespace=ns)
            s["endpoints"][0]["addresses"] = [f"10.247.250.{k + 1}"]
            applied = prox.stats.applied
            t0 = time.perf_counter()
            await client.update(ENDPOINTSLICES, s)
            while prox.stats.applied == applied or f"10.247.250.{k + 1}:8080" not in (prox._last_text or ""):
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - t0)
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        await informers.shutdown()
        await proxier.cleanup()
        return {"services": n, "create_s": created_s, "full_sync_s": full, "build_s": build, "rules": rules,
                "restore_only_s": restore_only, "change_latency_s": latencies}


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--pause", type=float, default=2.0, help="seconds between load runs")
    p.add_argument("--load", nargs=4, metavar=("HOST", "PORT", "SECONDS", "CONCURRENCY"),
                   help="internal: run one load and print 'req/s p99_ms errors'")
    args = p.parse_args()
    if args.load:
        host, port, seconds, conc = args.load
        rps, p99, errors = await load(host, int(port), seconds=float(seconds), concurrency=int(conc))
        print(rps, p99, errors)
        return
    subprocess.run([str(REPO / "tests" / "images" / "build.sh")], check=True)
    h.host_cleanup()
    dc = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="svc-bench-") as tmp:
        cluster = h.new_cluster(_Factory(Path(tmp)), cluster_cidr="10.245.0.0/16")
        try:
            cluster.start_controllers()
            cluster.add_kubelet("bench-node", address=cluster.host_ip)
            t = await traffic(cluster, args, dc)
        finally:
            cluster.stop(dc)
            h.host_cleanup()
        api = h.ApiServer(data_dir=Path(tmp) / "scale", port=h.pick_free_port(), log_path=Path(tmp) / "scale.log")
        api.start()
        try:
            s = await sync_at_scale(api, args.services)
        finally:
            api.stop()
            h.host_cleanup()

    def med(kind: str, i: int) -> float:
        return statistics.median(r[i] for r in t[kind])

    print(f"traffic: {args.concurrency} clients, new connection per request, {args.rounds} x {args.seconds:.0f}s "
          "each way, alternating (medians)")
    for where in ("pod", "host"):
        for kind in ("clusterip", "clusterip-1", "direct"):
            key = f"{where} {kind}"
            print(f"  from {where:4s} {kind:11s} {med(key, 0):8.0f} req/s   p99 {med(key, 1):6.1f} ms   "
                  f"errors {sum(r[2] for r in t[key])}   rounds {[round(r[0]) for r in t[key]]}")
        for kind in ("clusterip", "clusterip-1"):
            print(f"  from {where}: ratio {kind}/direct req/s "
                  f"{med(f'{where} {kind}', 0) / med(f'{where} direct', 0):.2f}, "
                  f"p99 {med(f'{where} {kind}', 1) / med(f'{where} direct', 1):.2f}")
    lat = s["change_latency_s"]
    print(f"sync: {s['services']} services x 3 endpoints ({s['rules']} rules; created in {s['create_s']:.1f}s)")
    print(f"  first full sync {s['full_sync_s'] * 1000:.0f} ms (build {s['build_s'] * 1000:.0f} ms); "
          f"iptables-restore alone {s['restore_only_s'] * 1000:.0f} ms "
          f"(ratio {s['full_sync_s'] / s['restore_only_s']:.2f})")
    print(f"  one endpoint change -> rules in place: median {statistics.median(lat) * 1000:.0f} ms, "
          f"max {max(lat) * 1000:.0f} ms over {len(lat)}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop
            uvloop.run(main())
        except ImportError:
            asyncio.run(main())
