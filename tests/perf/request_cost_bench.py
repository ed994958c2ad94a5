"""What each request of a pod's life costs the apiserver, in CPU: the requests a pod brings on a
cluster (its create, the scheduler's binding, the kubelet's TokenRequest and ConfigMap read for
the projected token volume, its status patch, the Events written about it), each measured alone against one apiserver run as
``minik8s up`` runs it (api_bench's ``--as-up``), with C concurrent aiohttp clients.

    .venv/bin/python tests/perf/request_cost_bench.py [--clients 32] [--pods 2000] [--profile out.txt [--profile-step events]]

Prints requests/s, p99 and the apiserver's CPU (user + system) per request, and, as the floor,
the same for ``GET /healthz`` (TLS, authentication, the filters, no work). Not a test: it
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx
import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench

Request = tuple[str, str, bytes | None, str]  # method, path, body, content type


async def run(url: str, pki: str, clients: int, requests: list[Request]) -> tuple[float, list[float]]:
    it = iter(requests)
    lat: list[float] = []

    async def worker(c: aiohttp.ClientSession) -> None:
        for method, path, body, ctype in it:
            t0 = time.perf_counter()
            async with c.request(method, path, data=body, headers={"content-type": ctype} if body else {}) as r:
                text = await r.read()
            lat.append(time.perf_counter() - t0)
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: {r.status} {text[:200]!r}")

    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=clients, ssl=api_bench.client_ssl(pki)),
                                     timeout=aiohttp.ClientTimeout(total=60)) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(c) for _ in range(clients)))
        return len(requests) / (time.perf_counter() - t0), lat


def event_body(i: int, uid: str) -> dict[str, object]:
    """An Event as the kubelet's recorder (minik8s/client/events.py) writes one about a pod."""
    now = "2026-12-05T06:00:00Z"
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"bench-{i}.{0x187a0000 + i:x}", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": f"bench-{i}", "uid": uid,
                               "apiVersion": "v1", "resourceVersion": "1", "fieldPath": "spec.containers{c}"},
            "reason": "Pulled", "message": 'Container image "busybox:1.36" already present on machine',
            "type": "Normal", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": "n1"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--profile", help="py-spy raw output (GIL holder only) of the apiserver over all the steps")
    ap.add_argument("--profile-step", default="", help="profile only the steps whose name contains this")
    a = ap.parse_args()
    pods = a.pods
    ns = "/api/v1/namespaces/default"
    json_ = "application/json"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = api_bench.free_port()
        proc = subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", tmp, "--port", str(port),
                                 "--log-level", "warning", *api_bench.up_flags(data, api_bench.UP_PARTS)],
                                cwd=api_bench.REPO, env={**os.environ, "PYTHONPATH": api_bench.REPO})
        url, pki = f"https://127.0.0.1:{port}", f"{tmp}/pki"
        try:
            for _ in range(400):
                try:
                    if (data / "kubeconfig").exists() and httpx.get(
                            f"{url}/readyz", timeout=1, verify=api_bench.client_ssl(pki)).status_code == 200:
                        break
                except (httpx.HTTPError, OSError):
                    pass
                time.sleep(0.05)
            with httpx.Client(base_url=url, verify=api_bench.client_ssl(pki)) as h:
                h.post(f"{ns}/serviceaccounts", json={"metadata": {"name": "default"}}).raise_for_status()
                h.post(f"{ns}/configmaps", json={"metadata": {"name": "kube-root-ca.crt"},
                                                 "data": {"ca.crt": (data / "pki" / "ca.crt").read_text()}}).raise_for_status()
                h.post("/api/v1/nodes", json={"metadata": {"name": "n1"}}).raise_for_status()
            uids: dict[int, str] = {}

            def creates() -> list[Request]:
                return [("POST", f"{ns}/pods", orjson.dumps(api_bench.pod_body(i)), json_) for i in range(pods)]

            def tokens() -> list[Request]:
                with httpx.Client(base_url=url, verify=api_bench.client_ssl(pki)) as h:
                    for item in h.get(f"{ns}/pods").json()["items"]:
                        uids[int(item["metadata"]["name"].split("-")[1])] = item["metadata"]["uid"]
                return [("POST", f"{ns}/serviceaccounts/default/token", orjson.dumps(
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                     "spec": {"audiences": [], "expirationSeconds": 3607,
                              "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": f"bench-{i}",
                                                 "uid": uids[i]}}}), json_) for i in range(pods)]

            steps: list[tuple[str, Callable[[], list[Request]]]] = [
                ("GET /healthz (the floor)", lambda: [("GET", "/healthz", None, "")] * pods),
                ("POST pods (create)", creates),
                ("POST pods/binding", lambda: [("POST", f"{ns}/pods/bench-{i}/binding", orjson.dumps(
                    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"bench-{i}"},
                     "target": {"kind": "Node", "name": "n1"}}), json_) for i in range(pods)]),
                ("POST serviceaccounts/token", tokens),
                ("GET configmaps/kube-root-ca.crt", lambda: [("GET", f"{ns}/configmaps/kube-root-ca.crt", None, "")] * pods),
                ("PATCH pods/status", lambda: [("PATCH", f"{ns}/pods/bench-{i}/status", orjson.dumps(
                    {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
                    "application/strategic-merge-patch+json") for i in range(pods)]),
                ("POST events (the kubelet's Pulled)", lambda: [("POST", f"{ns}/events", orjson.dumps(
                    event_body(i, uids.get(i, ""))), json_) for i in range(pods)]),
            ]
            spy: subprocess.Popen[bytes] | None = None

            def profile(on: bool) -> subprocess.Popen[bytes] | None:
                if on and spy is None:
                    # py-spy beside the interpreter, else on PATH (it is no dependency of the project)
                    py_spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or "py-spy"
                    started = subprocess.Popen([py_spy, "record", "--format", "raw", "-o", a.profile, "--rate",
                                                "200", "--gil", "--pid", str(proc.pid)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(1.0)
                    return started
                if not on and spy is not None:
                    spy.send_signal(2)
                    spy.wait(30)
                    return None
                return spy

            print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; clients={a.clients} pods={pods}")
            for name, make in steps:
                reqs = make()
                spy = profile(bool(a.profile) and a.profile_step in name)
                cpu0 = api_bench.cpu_seconds(proc.pid)
                rate, lat = asyncio.run(run(url, pki, a.clients, reqs))
                cpu = api_bench.cpu_seconds(proc.pid) - cpu0
                print(f"{name:34} {rate:7.0f}/s   p99 {api_bench.pct(lat, 99) * 1000:6.1f} ms   "
                      f"apiserver CPU/request {cpu / len(reqs) * 1000:.3f} ms")
            spy = profile(False)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
