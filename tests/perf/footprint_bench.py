"""The idle footprint of ``minik8s up`` with one node (issue #15): RSS, PSS and USS of every
process it runs (the supervisor, apiserver, controller-manager, scheduler, kubelet with its
proxy and DNS; not Docker), measured once the node is Ready and the cluster has been idle.

    .venv/bin/python tests/perf/footprint_bench.py [--idle 30] [--samples 5] [--rounds 1]
        [--peer-repo /tmp/before] [--up-arg=--disable-scheduler ...]

Each round starts ``minik8s up`` on a temporary data dir with ports, node name and pod network
of its own, waits for "minik8s is up" (node Ready), waits ``--idle`` seconds, then reads
``/proc`` ``--samples`` times a second apart (:mod:`minik8s.up.footprint`, what ``minik8s
status`` reads) and keeps each process's median; then ``minik8s down``. The peer, measured
in the same run: as many bare ``python -c 'import asyncio'`` processes of the same
interpreter, idle (the floor any design of that many Python processes pays), and with
``--peer-repo`` the ``minik8s up`` of another checkout, alternating with this one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from minik8s.up import footprint  # noqa: E402 - after the sys.path set-up above

MIB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(named: dict[str, int], samples: int) -> dict[str, dict[str, float]]:
    """Process -> median RSS/PSS/USS in MiB (each process with its descendants) over
    ``samples``; a process that runs several components (the host) is named after them all."""
    names: dict[int, list[str]] = {}
    for name, pid in named.items():
        names.setdefault(pid, []).append(name)
    pids = {" + ".join(ns): pid for pid, ns in names.items()}
    seen: dict[str, list[footprint.Memory]] = {name: [] for name in pids}
    for i in range(samples):
        tree = footprint.descendants(pids.values())
        for name, pid in pids.items():
            below = [p for p in tree[pid] if p not in pids.values()]
            m = footprint.of_process(pid) if pid == named.get("supervisor") else footprint.of_tree(pid, below)
            if m is None:
                raise SystemExit(f"{name} (pid {pid}) is gone")
            seen[name].append(m)
        if i + 1 < samples:
            time.sleep(1)
    out: dict[str, dict[str, float]] = {}
    for name, ms in seen.items():
        out[name] = {k: statistics.median(getattr(m, k) or 0 for m in ms) / MIB for k in ("rss", "pss", "uss")}
        out[name]["processes"] = max(m.processes for m in ms)
    return out


def up_round(repo: Path, tmp: Path, a: argparse.Namespace, *, show_status: bool) -> dict[str, dict[str, float]]:
    data = tmp / f"data-{uuid.uuid4().hex[:6]}"
    node = f"fp-{uuid.uuid4().hex[:8]}"
    out_path = data.parent / f"{data.name}.out"
    cmd = [sys.executable, "-m", "minik8s.up.main", "up", "--data-dir", str(data), "--port", str(free_port()),
           "--kubelet-port", str(free_port()), "--node-name", node,
           "--cluster-cidr", f"10.{random.randrange(128, 250)}.0.0/16",
           f"--scheduler-arg=secure-port={free_port()}", f"--controller-manager-arg=secure-port={free_port()}",
           *a.up_arg]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "minik8s is up:" not in out_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"minik8s up ({repo}) did not come up:\n{out_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        time.sleep(a.idle)
        state = json.loads((data / "minik8s.state.json").read_text())
        pids = {"supervisor": int(state["pid"])}
        pids |= {name: int(c["pid"]) for name, c in state["components"].items() if c.get("pid")}
        figures = sample(pids, a.samples)
        if show_status:
            r = subprocess.run([sys.executable, "-m", "minik8s.up.main", "status", "--data-dir", str(data)],
                               cwd=repo, env=env, capture_output=True, text=True, timeout=60)
            print(f"$ minik8s status   ({repo})\n{r.stdout}{r.stderr}")
        return figures
    finally:
        subprocess.run([sys.executable, "-m", "minik8s.up.main", "down", "--data-dir", str(data)], cwd=repo, env=env,
                       capture_output=True, timeout=120)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with contextlib.suppress(Exception):  # the node's pod network, or the next round's subnet may clash
            import docker

            client = docker.from_env()
            for net in client.networks.list(names=[f"minik8s-{node}"]):
                if net.name == f"minik8s-{node}":
                    net.remove()
            client.close()


def floor_round(n: int, idle: float, samples: int) -> dict[str, dict[str, float]]:
    """``n`` idle ``python -c 'import asyncio'`` processes of this interpreter."""
    procs = [subprocess.Popen([sys.executable, "-c", "import asyncio, sys; print('ready', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(n)]
    try:
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()
        time.sleep(min(idle, 2))
        return sample({f"python #{i + 1}": p.pid for i, p in enumerate(procs)}, samples)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def total(figures: dict[str, dict[str, float]]) -> dict[str, float]:
    return {k: sum(f[k] for f in figures.values()) for k in ("rss", "pss", "uss", "processes")}


def show(title: str, figures: dict[str, dict[str, float]]) -> None:
    print(f"[{title}]")
    width = max(22, *(len(n) for n in figures))
    print(f"  {'process':<{width}} {'RSS MiB':>8} {'PSS MiB':>8} {'USS MiB':>8}")
    for name, f in figures.items():
        extra = f"  ({int(f['processes'])} processes)" if f["processes"] > 1 else ""
        print(f"  {name:<{width}} {f['rss']:8.1f} {f['pss']:8.1f} {f['uss']:8.1f}{extra}")
    t = total(figures)
    print(f"  {'total':<{width}} {t['rss']:8.1f} {t['pss']:8.1f} {t['uss']:8.1f}  ({int(t['processes'])} processes)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds idle after the node is Ready (default 30)")
    ap.add_argument("--samples", type=int, default=5, help="readings a second apart; medians kept (default 5)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--peer-repo", type=Path, help="another checkout whose minik8s up is measured alternately")
    ap.add_argument("--up-arg", action="append", default=[], help="an extra flag for both minik8s up runs")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, {sys.version.split()[0]}; idle {a.idle:g}s, {a.samples} samples; "
          f"load average {os.getloadavg()[0]:.1f}")
    mine: list[dict[str, float]] = []
    peers: list[dict[str, float]] = []
    floors: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        for r in range(a.rounds):
            if a.peer_repo:
                figs = up_round(a.peer_repo, Path(tmp), a, show_status=False)
                show(f"round {r + 1}: peer {a.peer_repo}", figs)
                peers.append(total(figs))
            figs = up_round(REPO, Path(tmp), a, show_status=r == 0)
            show(f"round {r + 1}: minik8s up ({REPO})", figs)
            mine.append(total(figs))
            floor = floor_round(len(figs), a.idle, a.samples)
            show(f"round {r + 1}: {len(figs)} bare python -c 'import asyncio' processes", floor)
            floors.append(total(floor))

    def med(rs: list[dict[str, float]], k: str) -> float:
        return statistics.median(r[k] for r in rs)
    print(f"minik8s up, medians of {a.rounds}: RSS {med(mine, 'rss'):.1f} MiB, PSS {med(mine, 'pss'):.1f} MiB, "
          f"USS {med(mine, 'uss'):.1f} MiB in {med(mine, 'processes'):.0f} processes (aim: RSS <= 160 MB)")
    print(f"ratio to the floor of as many bare Python processes: RSS {med(mine, 'rss') / med(floors, 'rss'):.2f}x, "
          f"PSS {med(mine, 'pss') / med(floors, 'pss'):.2f}x")
    if peers:
        print(f"ratio to the peer repo: RSS {med(mine, 'rss') / med(peers, 'rss'):.2f}x, "
              f"PSS {med(mine, 'pss') / med(peers, 'pss'):.2f}x, USS {med(mine, 'uss') / med(peers, 'uss'):.2f}x")


if __name__ == "__main__":
    main()
