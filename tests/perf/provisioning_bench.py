"""Dynamic provisioning: N claims of the default ``local-path`` class, create → Bound, beside
the same end state written directly.

Starts its own apiserver (the tests' harness, temp data dir) and a controller-manager running
only the storage controllers (binder, protections, local-path provisioner), registers one Node
that advertises a local-path directory, then, in rounds (``--rounds``), alternately:

(a) the peer, raw: for each claim, ``mkdir`` of its volume directory and the API writes a
    perfect provisioner-and-binder would make with no controller in between -- create the
    claim, create the pre-bound volume, set the claim's ``volumeName``, write both statuses --
    all N claims concurrently from one client, with the controller-manager paused (SIGSTOP)
    so it does not race the writer;
(b) minik8s: N claims created concurrently, already carrying the scheduler's
    ``volume.kubernetes.io/selected-node`` (as PreBind writes it); timed until a watch has seen
    every claim Bound (binder hand-off → provisioner creates the volume → binder binds).

Each side runs in a namespace of its own, cleaned between rounds. Prints the wall time of each
side, claims/s, per-claim create → Bound p50/p99 for minik8s, and the ratio. Not a test:
numbers, not pass/fail. The volume directory itself is made by the node's kubelet when the
first pod mounts the claim, so (b) does no mkdir; (a) does, to stand for the whole job.

    .venv/bin/python tests/perf/provisioning_bench.py [--claims 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from minik8s import localpath  # noqa: E402 - after the sys.path set-up above
from minik8s.api.resources import (  # noqa: E402 - after the sys.path set-up above
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    STORAGECLASSES,
)
from minik8s.client.informer import Informer  # noqa: E402 - after the sys.path set-up above
from tests.conftest import ApiServer, pick_free_port  # noqa: E402 - after the sys.path set-up above

NODE = "bench-node"
CONTROLLERS = "persistentvolume-binder,pvc-protection,pv-protection,local-path-provisioner"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def claim(name: str, *, selected: bool) -> dict:
    md: dict = {"name": name}
    if selected:
        md["annotations"] = {"volume.kubernetes.io/selected-node": NODE}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}},
                     "storageClassName": localpath.STORAGE_CLASS}}


async def raw_round(client, ns: str, n: int, base: str) -> float:
    """The peer: mkdir + the end state's API writes, nothing in between."""

    async def one(i: int) -> None:
        pvc = await client.create(PERSISTENTVOLUMECLAIMS, claim(f"c{i}", selected=True), namespace=ns)
        uid = pvc["metadata"]["uid"]
        pv_name = f"pvc-{uid}"
        path = localpath.volume_dir(base, pv_name, ns, f"c{i}")
        await asyncio.to_thread(os.makedirs, path, 0o755, True)
        pv = await client.create(PERSISTENTVOLUMES, {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
            "spec": {"capacity": {"storage": "16Mi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": localpath.STORAGE_CLASS,
                     "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": f"c{i}", "uid": uid}}})
        pvc["spec"]["volumeName"] = pv_name
        pvc = await client.update(PERSISTENTVOLUMECLAIMS, pvc)
        pvc["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "16Mi"}}
        await client.update_status(PERSISTENTVOLUMECLAIMS, pvc)
        pv["status"] = {"phase": "Bound"}
        await client.update_status(PERSISTENTVOLUMES, pv)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t0


async def minik8s_round(client, ns: str, n: int) -> tuple[float, list[float]]:
    """N claims created at once; done when a watch has seen each Bound."""
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    all_bound = asyncio.Event()
    informer = Informer(client, PERSISTENTVOLUMECLAIMS, namespace=ns)

    def seen(pvc: dict) -> None:
        name = pvc["metadata"]["name"]
        if (pvc.get("status") or {}).get("phase") == "Bound" and name not in bound:
            bound[name] = time.perf_counter()
            if len(bound) == n:
                all_bound.set()

    informer.add_handler(on_add=seen, on_update=lambda old, cur: seen(cur), on_delete=None)
    task = asyncio.create_task(informer.run())
    await informer.wait_synced()

    async def one(i: int) -> None:
        created[f"c{i}"] = time.perf_counter()
        await client.create(PERSISTENTVOLUMECLAIMS, claim(f"c{i}", selected=True), namespace=ns)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.wait_for(all_bound.wait(), 300)
    elapsed = time.perf_counter() - t0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return elapsed, [bound[k] - created[k] for k in created]


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def quiesce(pid: int, *, timeout: float = 60.0) -> None:
    """Wait until the process has used no CPU for two half-second samples in a row."""
    deadline = time.monotonic() + timeout
    last, idle = cpu_ticks(pid), 0
    while idle < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_ticks(pid)
        idle = idle + 1 if now == last else 0
        last = now


async def clean(client, ns: str) -> None:
    """Remove a round's claims and volumes (finalizers off: no kubelet runs here)."""
    for pvc in (await client.list(PERSISTENTVOLUMECLAIMS, namespace=ns))["items"]:
        with contextlib.suppress(Exception):
            await client.patch(PERSISTENTVOLUMECLAIMS, pvc["metadata"]["name"], {"metadata": {"finalizers": None}},
                               namespace=ns)
    await client.delete(NAMESPACES, ns)
    for pv in (await client.list(PERSISTENTVOLUMES))["items"]:
        with contextlib.suppress(Exception):
            await client.patch(PERSISTENTVOLUMES, pv["metadata"]["name"], {"metadata": {"finalizers": None}})
            await client.delete(PERSISTENTVOLUMES, pv["metadata"]["name"])


async def bench(server: ApiServer, cm: subprocess.Popen, claims: int, rounds: int, base: str) -> None:
    async with server.client() as client:
        await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": NODE, "labels": {"kubernetes.io/hostname": NODE},
            "annotations": {localpath.ANN_NODE_DIR: base}}})
        for _ in range(300):  # the controller-manager creates the default class at start
            with contextlib.suppress(Exception):
                await client.get(STORAGECLASSES, localpath.STORAGE_CLASS)
                break
            await asyncio.sleep(0.1)
        raw_times, mk_times, latencies = [], [], []
        for r in range(rounds + 1):  # round 0 warms up both sides and is not counted
            for side in ("raw", "minik8s"):
                ns = f"{side}-{uuid.uuid4().hex[:6]}"
                await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                if side == "raw":
                    # The controllers must not race the raw writer: they are stopped meanwhile
                    # (SIGSTOP), and given a moment to catch up after.
                    cm.send_signal(signal.SIGSTOP)
                    try:
                        t = await raw_round(client, ns, claims, base)
                    finally:
                        cm.send_signal(signal.SIGCONT)
                    if r:
                        raw_times.append(t)
                else:
                    t, lat = await minik8s_round(client, ns, claims)
                    if r:
                        mk_times.append(t)
                        latencies.extend(lat)
                print(f"round {r} {side:8s} {claims} claims in {t:.2f} s", flush=True)
                await clean(client, ns)
                await quiesce(cm.pid)  # the controllers drain the clean-up's events first
        raw, mk = statistics.median(raw_times), statistics.median(mk_times)
        print(f"\nclaims per round: {claims}, rounds counted: {rounds}")
        print(f"raw mkdir + API writes: median {raw:.2f} s  ({claims / raw:.0f} claims/s)")
        print(f"minik8s create -> Bound: median {mk:.2f} s  ({claims / mk:.0f} claims/s)")
        print(f"minik8s per-claim create -> Bound p50 / p99: {pct(latencies, 50) * 1000:.0f} / "
              f"{pct(latencies, 99) * 1000:.0f} ms")
        print(f"ratio minik8s / raw (wall time): {mk / raw:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--claims", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="provisioning-bench-"))
    server = ApiServer(data_dir=tmp / "data", port=pick_free_port(), log_path=tmp / "apiserver.log")
    server.start()
    cm = None
    try:
        with open(tmp / "controller-manager.log", "ab") as log:
            cm = subprocess.Popen([sys.executable, "-m", "controllers.main", "--kubeconfig", str(server.kubeconfig),
                                   "--leader-elect=false", "--controllers", CONTROLLERS],
                                  cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        asyncio.run(bench(server, cm, a.claims, a.rounds, str(tmp / "local-path")))
    finally:
        if cm is not None:
            cm.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                cm.wait(10)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
