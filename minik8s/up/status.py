"""``minik8s status``: what the supervisor of a data dir runs, each component's pid and state
(from the state file), and its health asked live: the apiserver's ``/healthz``, each node's
Ready condition through the API, process liveness for the rest. Each component's memory (RSS,
with the processes it started) and the total of every process minik8s runs, the supervisor
included, are read from ``/proc`` (:mod:`~minik8s.up.footprint`).

Exit code 0 when minik8s runs and every component is healthy, 1 otherwise (not running,
a component down, restarting or missing, a node not Ready).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any, TextIO

from minik8s import errors
from minik8s.api.resources import NODES
from minik8s.client.rest import ApiClient
from minik8s.duration import human_duration
from minik8s.up import footprint
from minik8s.up import state as statefile
from minik8s.up.readiness import node_condition

__all__ = ["collect", "format_status", "pid_alive", "run"]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    # A zombie has exited and only waits for its parent to reap it.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


async def _health(client: ApiClient, components: dict[str, dict[str, Any]], *, local_apiserver: bool) -> dict[str, str]:
    """Component name -> health text ("ok", or what is wrong)."""
    out: dict[str, str] = {}
    try:
        r = await client.request("GET", "/healthz", timeout=3.0)
        api = "ok" if r.status_code == 200 else f"/healthz {r.status_code}"
    except errors.MiniK8sError as e:
        api = f"unreachable: {e}"
    if local_apiserver:
        out["apiserver"] = api
    else:
        out["(remote apiserver)"] = api
    for name, c in components.items():
        if c.get("kind") == "etcd":  # as the apiserver that uses it sees it (its etcd readiness check)
            if api != "ok":
                out[name] = "unknown (apiserver down)"
                continue
            try:
                await client.request("GET", "/readyz", timeout=5.0)
                out[name] = "ok"
            except errors.MiniK8sError as e:
                failed = re.search(r"\[-\](etcd failed: [^\n]*)", str(e))
                out[name] = failed.group(1) if failed else f"/readyz: {e}"
            continue
        if c.get("kind") == "kubelet" and c.get("node"):
            if not api == "ok":
                out[name] = "unknown (apiserver down)"
                continue
            try:
                node = await client.get(NODES, c["node"])
            except errors.NotFound:
                out[name] = f"node {c['node']} not registered"
                continue
            except errors.MiniK8sError as e:
                out[name] = f"node {c['node']}: {e}"
                continue
            status, why = node_condition(node)
            out[name] = f"node {c['node']} Ready" if status == "True" else \
                f"node {c['node']} Ready={status}" + (f" ({why})" if why else "")
    return out


async def collect(data_dir: Path) -> dict[str, Any]:
    """Everything ``status`` prints, as data (tests read it too)."""
    running = await asyncio.to_thread(statefile.is_running, data_dir)
    st = await asyncio.to_thread(statefile.read_state, data_dir) or {}
    components: dict[str, dict[str, Any]] = st.get("components") or {}
    for c in components.values():
        c["alive"] = pid_alive(c.get("pid")) if c.get("state") in ("running", "stopping") else False
    memory = await asyncio.to_thread(_memory, st, components) if running else {}
    health: dict[str, str] = {}
    kubeconfig = data_dir / "kubeconfig"  # up's admin kubeconfig, or a joined node's
    if running and st.get("server") and kubeconfig.exists():
        async with ApiClient.from_kubeconfig(str(kubeconfig), timeout=5.0, user_agent="minik8s-status") as client:
            health = await _health(client, components, local_apiserver="apiserver" in components)
    return {"running": running, "state": st, "components": components, "health": health, "dataDir": str(data_dir),
            "memory": memory}


def _memory(st: dict[str, Any], components: dict[str, dict[str, Any]]) -> dict[str, dict[str, int | None]]:
    """Component name -> its memory (its process and their descendants), plus ``(supervisor)``
    and ``(total)``: every process the supervisor runs and itself, each counted once."""
    pids = {name: c["pid"] for name, c in components.items() if c.get("alive") and c.get("pid")}
    tree = footprint.descendants(set(pids.values()))
    by_pid: dict[int, footprint.Memory] = {}
    for pid in set(pids.values()):
        # a component's helpers, not another component (none starts one, but count each once)
        m = footprint.of_tree(pid, [p for p in tree[pid] if p not in pids.values()])
        if m is not None:
            by_pid[pid] = m
    # components the host process runs share its pid, and its memory: counted once in the total
    out = {name: by_pid[pid] for name, pid in pids.items() if pid in by_pid}
    sup = footprint.of_process(st["pid"]) if st.get("pid") else None
    if sup is not None:
        out["(supervisor)"] = by_pid[st["pid"]] = sup
    if by_pid:
        total = footprint.Memory(0, 0, 0, 0)
        for m in by_pid.values():
            total = total + m
        out["(total)"] = total
    return {name: m.to_json() for name, m in out.items()}


def _healthy(info: dict[str, Any]) -> bool:
    if not info["running"]:
        return False
    for name, c in info["components"].items():
        # A component this installation lacks is reported, but it is not a fault of the run.
        if c.get("state") == "missing":
            continue
        if not c.get("alive"):
            return False
        h = info["health"].get(name)
        if h is not None and h != "ok" and not h.endswith(" Ready"):
            return False
    remote = info["health"].get("(remote apiserver)")
    return remote in (None, "ok")


def _age(since: float | None) -> str:
    """How long ago a Unix time was, as kubectl prints an AGE; ``-`` when not known."""
    return human_duration(time.time() - since) if since else "-"


def format_status(info: dict[str, Any], out: TextIO) -> bool:
    """Print ``info``; returns whether everything is healthy."""
    st = info["state"]
    if not info["running"]:
        out.write(f"minik8s is not running (data dir {info['dataDir']})\n")
        leftovers = [f"{n} (pid {c['pid']})" for n, c in info["components"].items()
                     if c.get("pid") and pid_alive(c["pid"])]
        if leftovers:
            out.write(f"left over from a supervisor that died: {', '.join(leftovers)}; "
                      f"`minik8s down --data-dir {info['dataDir']}` stops them\n")
        return False
    out.write(f"minik8s is running ({st.get('mode', 'up')}): supervisor pid {st.get('pid')}, up {_age(st.get('startedAt'))}, "
              f"data dir {info['dataDir']}\n")
    out.write(f"apiserver: {st.get('server')}\n")
    memory = info.get("memory") or {}
    rows = [("COMPONENT", "PID", "STATE", "RESTARTS", "AGE", "RSS", "HEALTH")]
    remote = info["health"].get("(remote apiserver)")
    if remote is not None:
        rows.append(("apiserver (remote)", "-", "-", "-", "-", "-", remote))
    for name, c in info["components"].items():
        state = c.get("state", "?")
        if state == "running" and not c.get("alive"):
            state = "dead"
        health = info["health"].get(name) or ("ok" if c.get("alive") else c.get("message") or "-")
        rss = footprint.format_bytes((memory.get(name) or {}).get("rss"))
        if c.get("host") and rss != "-":
            rss = f"({rss})"  # the host process's, which it shares with the other components there
        rows.append((name, str(c.get("pid") or "-"), state, str(c.get("restarts", 0)),
                     _age(c.get("startedAt")) if c.get("alive") else "-", rss, health))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        out.write("   ".join(v.ljust(w) for v, w in zip(r, widths)) + "   " + r[-1] + "\n")
    total = memory.get("(total)")
    if total:
        sup = memory.get("(supervisor)") or {}
        line = (f"memory: {footprint.format_bytes(total['rss'])} RSS in {total['processes']} processes "
                f"(supervisor {footprint.format_bytes(sup.get('rss'))})")
        if total.get("pss") is not None:  # what they hold together, shared pages counted once
            line += f", {footprint.format_bytes(total['pss'])} PSS"
        out.write(line + "\n")
        hosted = [n for n, c in info["components"].items() if c.get("host") and c.get("alive")]
        if hosted:
            out.write(f"one process runs {', '.join(hosted)}: each (RSS) is that process's, counted once in the total\n")
    if st.get("kubeconfig"):
        out.write(f"kubeconfig: {st['kubeconfig']}\n")
    out.write(f"logs: {Path(info['dataDir']) / 'logs'}\n")
    return _healthy(info)


def run(data_dir: Path, out: TextIO) -> int:
    info = asyncio.run(collect(data_dir))
    return 0 if format_status(info, out) else 1
