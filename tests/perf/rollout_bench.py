"""Rollout speed: a 30-replica Deployment on one real Docker node, beside Docker Swarm.

minik8s side: its own apiserver (temp data dir), scheduler, controller-manager and one kubelet
on the local engine. Timed: (1) creating a Deployment of ``--replicas`` until its status shows
them all Ready and available; (2) changing its image until every replica is updated, Ready,
and the old ones are gone from the status (RollingUpdate, Kubernetes' default 25%/25%).

Swarm side, same machine, same run: ``docker service create --replicas N`` until N tasks are
running, then ``docker service update --image`` until N tasks of the new image run and none of
the old. Swarm's update is run in the configurations ``--swarm`` names (default: all three):

- ``issue``: issue #15's peer, ``--update-parallelism 8 --update-order start-first
  --update-delay 0s --update-monitor 0s`` (with 30 replicas: Kubernetes' 25% surge, rounded up);
- ``defaults``: Swarm's defaults (parallelism 1, stop-first, 5 s monitor);
- ``quarter``: ``--update-parallelism ceil(N/4)``, stop-first.

Both run the same local image (two tags of the test busybox) with a command that exits at once
on SIGTERM, so neither waits out a grace period. Prints seconds and ratios.

    .venv/bin/python tests/perf/rollout_bench.py [--replicas 30] [--swarm issue,defaults,quarter]
        [--tree DIR ...] [--rounds N]

``--tree`` (repeatable) runs the minik8s side from each given source tree in turn (say, a
before and an after exported with ``git worktree add`` or ``git archive``), each with the same
venv, so a change is measured against itself and against Swarm in one run. Default: this tree.

Not a test: numbers, not pass/fail. Swarm is initialised if the engine is not in one, and left
again at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import perf_cluster  # noqa: E402 - beside this file

from minik8s import errors  # noqa: E402 - after the sys.path set-up above
from minik8s.api.resources import DEPLOYMENTS, NAMESPACES, PODS, SERVICEACCOUNTS  # noqa: E402 - after the sys.path set-up above
from minik8s.client.rest import ApiClient  # noqa: E402 - after the sys.path set-up above

BUSYBOX = "minik8s/busybox:latest"
V1, V2 = "minik8s/busybox:rollout-bench-1", "minik8s/busybox:rollout-bench-2"
# Exits at once on SIGTERM (a bare `sleep` as PID 1 would ignore it and wait out the grace).
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
POLL = 0.05


def free_cluster_cidr() -> str:
    """A 10.X.0.0/16 that no network on the engine overlaps (10.244, everyone's default, is
    never picked: a network Docker will not remove may hold a /24 of it)."""
    dc = docker.from_env()
    try:
        used = {str(c.get("Subnet") or "") for net in dc.networks.list(greedy=True)
                for c in ((net.attrs.get("IPAM") or {}).get("Config") or [])}
    finally:
        dc.close()
    taken = {int(sub.split(".")[1]) for sub in used if sub.startswith("10.")}
    return f"10.{random.choice([x for x in range(128, 250) if x not in taken | {244}])}.0.0/16"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- minik8s ----------------------------------------------------------------------------------

CPU: dict[str, dict[str, float]] = {}  # tree -> component -> CPU seconds used over both phases


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), to show where the machine's time went."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deployment(n: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"}},
                                  "spec": {"terminationGracePeriodSeconds": 5,
                                           "containers": [{"name": "main", "image": V1, "command": COMMAND}]}}}}


async def wait_rolled_out(client: ApiClient, ns: str, n: int, image: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = await client.get(DEPLOYMENTS, "bench", namespace=ns)
        st = d.get("status") or {}
        if (d["spec"]["template"]["spec"]["containers"][0]["image"] == image
                and (st.get("observedGeneration") or 0) >= d["metadata"]["generation"]
                and st.get("updatedReplicas") == n and st.get("replicas") == n
                and st.get("readyReplicas") == n and st.get("availableReplicas") == n):
            return
        await asyncio.sleep(POLL)
    raise SystemExit(f"minik8s: deployment not rolled out to {image} within {timeout}s")


class Timeline:
    """With --timeline: when each pod of the namespace was first seen created, bound, with a
    container running, Ready -- from one watch, so the phases' time can be split between the
    controllers, the scheduler and the kubelet."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], float] = {}  # (pod, milestone) -> perf_counter time

    async def follow(self, client: ApiClient, ns: str) -> None:
        rv = "0"
        while True:  # a watch the server ends (its timeout, a 410) is resumed, as an informer would
            try:
                rv = await self._follow(client, ns, rv)
            except (errors.ApiError, errors.ConnectionFailed) as e:
                print(f"  timeline: the pod watch ended ({e}); watching again", flush=True)
                rv = "0"

    async def _follow(self, client: ApiClient, ns: str, rv: str) -> str:
        stream = client.watch(PODS, namespace=ns, resource_version=rv)
        async with contextlib.aclosing(stream):
            async for ev in stream:
                rv = ev.object["metadata"].get("resourceVersion") or rv
                if ev.type == "BOOKMARK":
                    continue
                pod, now = ev.object, time.perf_counter()
                name = pod["metadata"]["name"]
                st = pod.get("status") or {}
                reached = ["created"]
                if (pod.get("spec") or {}).get("nodeName"):
                    reached.append("bound")
                if any("running" in (c.get("state") or {}) for c in st.get("containerStatuses") or []):
                    reached.append("running")
                if any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or []):
                    reached.append("ready")
                if pod["metadata"].get("deletionTimestamp"):
                    reached.append("deleting")
                if ev.type == "DELETED":
                    reached.append("gone")
                for m in reached:
                    self.first.setdefault((name, m), now)
        return rv

    def report(self, label: str, t0: float, t1: float) -> None:
        """Per milestone, how many pods reached it within [t0, t1] and when (seconds from t0):
        the first, the median and the last."""
        print(f"  timeline {label} ({t1 - t0:.2f} s):")
        for m in ("created", "bound", "running", "ready", "deleting", "gone"):
            ts = sorted(t - t0 for (_, mm), t in self.first.items() if mm == m and t0 <= t <= t1)
            if ts:
                print(f"    {m:9} {len(ts):3} pods: first {ts[0]:6.2f} s, median {statistics.median(ts):6.2f} s, "
                      f"last {ts[-1]:6.2f} s")
        # Per pod, what the kubelet alone takes: bound -> a container running (the start) and
        # deletion asked -> the pod object gone (the teardown, ending in the kubelet's DELETE).
        for a, b in (("bound", "running"), ("deleting", "gone")):
            spans = sorted(self.first[(pod, b)] - t for (pod, m), t in self.first.items()
                           if m == a and t0 <= t <= t1 and (pod, b) in self.first)
            if spans:
                print(f"    {a} -> {b}: {len(spans):3} pods, median {statistics.median(spans):5.2f} s, "
                      f"max {spans[-1]:5.2f} s")


async def minik8s_run(n: int, work: Path, node: str, tree: Path, *, timeline: bool = False) -> tuple[float, float]:
    api_port, kubelet_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    names: list[str] = []
    work.mkdir(parents=True, exist_ok=True)
    kubeconfig = str(perf_cluster.kubeconfig(work / "data"))
    # A cluster CIDR of its own per run (as the test harness picks them): node IPAM gives the
    # node a /24 of it for its pod network, which then never overlaps a network another run,
    # test or engineer left on the shared engine.
    cluster_cidr = free_cluster_cidr()

    def spawn(name: str, *cmd: str) -> None:
        names.append(name)
        # `python -m` from the tree's root: that tree's packages come first on sys.path.
        procs.append(subprocess.Popen([sys.executable, "-m", *cmd], cwd=tree,
                                      stdout=open(work / f"{name}.log", "wb"), stderr=subprocess.STDOUT))
    try:
        spawn("apiserver", "apiserver.main", "--data-dir", str(work / "data"), "--port", str(api_port),
              "--log-level", "warning")
        perf_cluster.wait_ready(work / "data", api_port)
        spawn("kubelet", "kubelet.main", "--kubeconfig", kubeconfig, "--node-name", node, "--port", str(kubelet_port),
              "--address", "127.0.0.1", "--root-dir", str(work / "kubelet"), "--log-level", "warning",
              "--cluster-cidr", cluster_cidr,
              # the node must be Ready before the controller-manager (node IPAM) starts below
              "--runtime-default-network")
        perf_cluster.node_ready(work / "data", api_port, node)
        spawn("scheduler", "scheduler.main", "--kubeconfig", kubeconfig, "--leader-elect=false", "--log-level", "warning")
        spawn("controller-manager", "controllers.main", "--kubeconfig", kubeconfig, "--leader-elect=false",
              "--cluster-cidr", cluster_cidr, "--log-level", os.environ.get("CM_LOG_LEVEL", "warning"))
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            ns = "bench"
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            tl = Timeline()
            follow = asyncio.create_task(tl.follow(client, ns)) if timeline else None
            # The controller-manager is up once its ServiceAccount controller has made the
            # namespace's default account (pods need it too); then a moment for the
            # scheduler and the other controllers to list and start watching.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(errors.NotFound):
                    await client.get(SERVICEACCOUNTS, "default", namespace=ns)
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)
            t0 = time.perf_counter()
            await client.create(DEPLOYMENTS, deployment(n), namespace=ns)
            await wait_rolled_out(client, ns, n, V1)
            t1 = time.perf_counter()
            t_create = t1 - t0
            await client.patch(DEPLOYMENTS, "bench", {"spec": {"template": {"spec": {"containers": [
                {"name": "main", "image": V2}]}}}}, namespace=ns, patch_type="strategic")
            await wait_rolled_out(client, ns, n, V2)
            t_update = time.perf_counter() - t1
            if follow is not None:
                follow.cancel()
                tl.report("create", t0, t1)
                tl.report("update", t1, t1 + t_update)
            CPU[str(tree)] = {name: cpu_seconds(p.pid) for name, p in zip(names, procs)}
            # Leave nothing running: delete, and let the kubelet stop and remove the pods before
            # it is stopped (containers force-removed behind a stopped kubelet can leave Docker
            # a network it refuses to remove, "has active endpoints", until dockerd restarts).
            await client.delete(DEPLOYMENTS, "bench", namespace=ns, propagation_policy="Foreground")
            deadline = time.monotonic() + 120
            while (await client.list(PODS, namespace=ns))["items"] and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        return t_create, t_update
    finally:
        for p in reversed(procs):
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(15)
            if p.poll() is None:
                p.kill()


# -- Swarm ------------------------------------------------------------------------------------

def swarm_running(dc: docker.DockerClient, service, image: str) -> tuple[int, int]:
    """(running tasks of ``image``, running tasks of any other image)."""
    ours = others = 0
    for t in service.tasks(filters={"desired-state": "running"}) + service.tasks(filters={"desired-state": "shutdown"}):
        if (t.get("Status") or {}).get("State") != "running":
            continue
        img = ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Image", "")
        if img.split("@")[0] == image:
            ours += 1
        else:
            others += 1
    return ours, others


def wait_swarm(dc: docker.DockerClient, service, n: int, image: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ours, others = swarm_running(dc, service, image)
        if ours == n and others == 0:
            return
        time.sleep(POLL)
    raise SystemExit(f"swarm: service not at {n} x {image} within {timeout}s")


def swarm_configs(n: int) -> dict[str, tuple[str, list[str]]]:
    """--swarm name -> (label, the flags of `docker service update`)."""
    par = math.ceil(n / 4)
    return {
        "issue": ("swarm (issue #15: parallelism 8, start-first, 0s delay/monitor)",
                  ["--update-parallelism", "8", "--update-order", "start-first", "--update-delay", "0s",
                   "--update-monitor", "0s"]),
        "defaults": ("swarm (defaults: parallelism 1, stop-first)", []),
        "quarter": (f"swarm (--update-parallelism {par})", ["--update-parallelism", str(par)]),
    }


def swarm_run(dc: docker.DockerClient, n: int, run_id: str, *, config: str, flags: list[str]) -> tuple[float, float]:
    name = f"rollout-bench-{run_id}-{config}"
    create = ["docker", "service", "create", "--detach", "--quiet", "--name", name, "--replicas", str(n),
              "--stop-grace-period", "5s", V1, *COMMAND]
    update = ["docker", "service", "update", "--detach", "--quiet", "--image", V2, *flags]
    try:
        t0 = time.perf_counter()
        subprocess.run(create, check=True, capture_output=True)
        service = dc.services.get(name)
        wait_swarm(dc, service, n, V1)
        t_create = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([*update, name], check=True, capture_output=True)
        wait_swarm(dc, service, n, V2)
        t_update = time.perf_counter() - t0
        return t_create, t_update
    finally:
        subprocess.run(["docker", "service", "rm", name], capture_output=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and dc.containers.list(all=True, sparse=True, filters={"label": f"com.docker.swarm.service.name={name}"}):
            time.sleep(0.2)


# -- main -------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=30)
    ap.add_argument("--skip-swarm", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="alternate the sides this many times")
    ap.add_argument("--timeline", action="store_true",
                    help="print when the pods were created, bound, running and Ready in each minik8s phase")
    ap.add_argument("--tree", action="append", type=Path, default=[],
                    help="run the minik8s side from this source tree (repeatable; default: this one)")
    ap.add_argument("--swarm", default="issue,defaults,quarter",
                    help="Swarm update configurations to run, comma-separated: issue, defaults, quarter")
    args = ap.parse_args()
    n = args.replicas
    configs = swarm_configs(n)
    wanted = [c for c in args.swarm.split(",") if c]
    if unknown := [c for c in wanted if c not in configs]:
        ap.error(f"--swarm: unknown configuration(s) {', '.join(unknown)}; known: {', '.join(configs)}")
    subprocess.run([str(REPO / "tests/images/build.sh")], check=True, capture_output=True)
    dc = docker.from_env(timeout=300)
    busybox = dc.images.get(BUSYBOX)
    for tag in (V1, V2):
        repo, _, t = tag.partition(":")
        busybox.tag(repo, t)
    run_id = uuid.uuid4().hex[:8]
    node = f"rollout-bench-{run_id}"
    work = Path(tempfile.mkdtemp(prefix="rollout-bench-"))
    trees = args.tree or [REPO]
    joined_swarm = False
    # label -> one (create, update) per round; the sides alternate within each round, so a
    # burst of load on the shared machine falls on one round of each rather than one side.
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        for r in range(args.rounds):
            for i, tree in enumerate(trees):
                label = "minik8s (RollingUpdate 25%/25%)" + (f" {tree}" if len(trees) > 1 else "")
                node_i = f"{node}-{r}-{i}"
                results.setdefault(label, []).append(
                    asyncio.run(minik8s_run(n, work / f"{r}-{i}", node_i, tree.resolve(), timeline=args.timeline)))
                # The kubelet is gone: remove whatever it left so the next side starts on an idle engine.
                for c in dc.containers.list(all=True, sparse=True, filters={"label": f"io.minik8s.node={node_i}"}):
                    with contextlib.suppress(docker.errors.APIError):
                        c.remove(force=True)
                for net in dc.networks.list(names=[f"minik8s-{node_i}"]):  # the node's pod network
                    with contextlib.suppress(docker.errors.APIError):
                        net.remove()
            if args.skip_swarm:
                continue
            if not joined_swarm and dc.info().get("Swarm", {}).get("LocalNodeState") != "active":
                subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True,
                               capture_output=True)
                joined_swarm = True
            for config in wanted:
                label, flags = configs[config]
                results.setdefault(label, []).append(swarm_run(dc, n, f"{run_id}-{r}", config=config, flags=flags))
    finally:
        if joined_swarm:
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
        for tag in (V1, V2):
            with contextlib.suppress(docker.errors.APIError):
                dc.images.remove(tag)
        dc.close()

    print(f"{n} replicas on one node, {os.cpu_count()} cores, {args.rounds} round(s); logs in {work}")
    print(f"{'':64} {'create → all Ready':>20} {'image change → all updated':>28}")
    for label, runs in results.items():
        for r, (c, u) in enumerate(runs):
            print(f"{label + (f' [round {r + 1}]' if len(runs) > 1 else ''):64} {c:18.2f} s {u:26.2f} s")
    for tree, cpu in CPU.items():
        print(f"minik8s CPU seconds (start-up included) {tree}: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    ours = {label: runs for label, runs in results.items() if label.startswith("minik8s")}
    for label, runs in results.items():
        if label in ours:
            continue
        for mk_label, mk in ours.items():
            # Per round (the two sides measured minutes apart), then the median of those.
            creates = [m[0] / s[0] for m, s in zip(mk, runs)]
            updates = [m[1] / s[1] for m, s in zip(mk, runs)]
            each = "; ".join(f"{c:.2f}x/{u:.2f}x" for c, u in zip(creates, updates))
            print(f"ratio {mk_label} / {label}: create {statistics.median(creates):.2f}x, "
                  f"update {statistics.median(updates):.2f}x (median of rounds; create/update per round: {each})")

if __name__ == "__main__":
    main()
