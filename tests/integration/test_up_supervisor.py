"""The ``minik8s up`` supervisor on real child processes (a small helper module stands in for a
component: the behaviours under test are exits, signals and files, which it has for real):
restarts after a crash, no restart on a flag error, a missing module reported, ordered stop
with SIGTERM then SIGKILL, the state file, ``down`` stopping a dead supervisor's leftovers, and
``status`` reporting each component's memory (its own process and the ones it started) and the total,
and embedded components: run by the one host process (minik8s.up.host) with a process's restart
semantics each, stopped in order over its control channel, all restarted when the host is killed.
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from minik8s.up import audit_policy, down, footprint, state, status
from minik8s.up.components import Component
from minik8s.up.supervisor import Supervisor
from tests.conftest import ApiServer
from tests.waiting import eventually

HELPER = textwrap.dedent('''
    import signal, sys, time
    mode = sys.argv[1]
    if mode == "crash":
        print("crashing on purpose", flush=True)
        sys.exit(3)
    if mode == "usage":
        print("uphelper: error: unrecognized arguments: --bogus", file=sys.stderr)
        sys.exit(2)
    if mode == "serve":
        name, order = sys.argv[2], sys.argv[3]
        def term(*_):
            with open(order, "a") as f:
                f.write(name + "\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, term)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "hold":  # N MiB of memory written to (resident)
        held = bytearray(b"x" * (int(sys.argv[2]) << 20))
    if mode == "spawn":  # a child process that holds N MiB, stopped with its parent
        import subprocess
        child = subprocess.Popen([sys.executable, "-m", "uphelper", "hold", sys.argv[2]], stdout=subprocess.PIPE)
        child.stdout.readline()
        def stop(*_):
            child.terminate()
            child.wait()
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    while True:
        time.sleep(1)
''')

# A component as the host runs it: its entry point is main(argv), as apiserver.main's and the others'.
HOSTED = textwrap.dedent('''
    import asyncio, logging, sys
    from minik8s import process

    def main(argv):
        mode = argv[0]
        if mode == "crash":
            print("crashing on purpose", flush=True)
            sys.exit(3)
        if mode == "usage":
            print("hosted: error: unrecognized arguments: --bogus", file=sys.stderr)
            sys.exit(2)
        name, order = argv[1], argv[2]

        async def serve():
            stop = asyncio.Event()
            process.add_stop_handler(stop.set, asyncio.get_running_loop())
            logging.getLogger(name).info("%s serving", name)
            await stop.wait()
            with open(order, "a") as f:
                f.write(name + "\\n")
        asyncio.run(serve())
''')


@pytest.fixture
def helper(tmp_path, monkeypatch) -> Path:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "uphelper.py").write_text(HELPER)
    (mods / "hostedhelper.py").write_text(HOSTED)
    monkeypatch.syspath_prepend(str(mods))  # module_available looks here
    monkeypatch.setenv("PYTHONPATH", str(mods))  # the children inherit the environment
    return tmp_path


def comp(base: Path, name: str, kind: str, *argv: str, module: str = "uphelper", wave: int = 1) -> Component:
    return Component(name, kind, module, argv, base / "logs" / f"{name}.log", wave)


# tests/waiting.py's eventually, with these tests' deadline
until = functools.partial(eventually, timeout=20.0, interval=0.05)


async def test_a_crashing_component_is_restarted_with_backoff(helper):
    sup = Supervisor(helper, initial_backoff=0.05, max_backoff=0.2)
    proc = sup.start(comp(helper, "scheduler", "scheduler", "crash"))
    await until(lambda: proc.restarts >= 3, "restarted three times")
    await sup.stop()
    assert proc.last_exit == 3 and proc.state == "stopped"
    log = (helper / "logs" / "scheduler.log").read_text()
    assert log.count("crashing on purpose") >= 3
    assert log.count("--- minik8s: ") >= 3  # each run's command line heads its part of the log
    saved = state.read_state(helper)
    assert saved["running"] is False and saved["components"]["scheduler"]["restarts"] >= 3


async def test_bad_flags_fail_once_and_a_missing_module_is_reported(helper):
    sup = Supervisor(helper, initial_backoff=0.05)
    bad = sup.start(comp(helper, "scheduler", "scheduler", "usage"))
    missing = sup.start(comp(helper, "proxy", "proxy", module="nosuchpkg.proxy.main"))
    ok = sup.start(comp(helper, "kubelet", "kubelet", "serve", "kubelet", str(helper / "order")))
    await until(lambda: bad.state == "failed", "failed")
    assert bad.restarts == 0 and "--bogus" in bad.message
    assert missing.state == "missing" and "nosuchpkg.proxy.main" in missing.message
    await until(lambda: ok.state == "running", "running")  # the others run on
    saved = await until(lambda: (s := state.read_state(helper)) and
                        s["components"]["kubelet"]["state"] == "running" and s, "state written")
    assert saved["components"]["kubelet"]["pid"] == ok.pid
    assert saved["components"]["proxy"]["state"] == "missing"
    await sup.stop()


async def test_stop_goes_wave_by_wave_and_kills_what_ignores_sigterm(helper):
    order = helper / "order"
    sup = Supervisor(helper, stop_timeout=0.5)
    procs = [sup.start(comp(helper, name, kind, "serve", name, str(order)))
             for name, kind in (("apiserver", "apiserver"), ("kubelet", "kubelet"),
                                ("controller-manager", "controller-manager"))]
    stubborn = sup.start(comp(helper, "scheduler", "scheduler", "stubborn"))
    await until(lambda: all(p.state == "running" for p in [*procs, stubborn]), "all running")
    # "ready" is printed once the SIGTERM handler is installed.
    await until(lambda: all("ready" in p.component.log_path.read_text() for p in [*procs, stubborn]), "ready")
    await sup.stop()
    assert order.read_text().split() == ["controller-manager", "kubelet", "apiserver"]
    assert stubborn.last_exit == -9  # SIGKILL after the stop timeout
    assert all(p.last_exit == 0 for p in procs)


def test_down_stops_leftovers_of_a_dead_supervisor_and_only_them(helper):
    order = helper / "order"
    env_cmd = [sys.executable, "-m", "uphelper", "serve", "kubelet", str(order)]
    left = subprocess.Popen(env_cmd)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state.write_state(helper, {"pid": 1, "components": {
            "kubelet": {"pid": left.pid, "module": "uphelper", "state": "running"},
            # A recorded pid now running something else must be left alone.
            "scheduler": {"pid": other.pid, "module": "scheduler.main", "state": "running"}}})
        time.sleep(0.5)  # let the helper install its SIGTERM handler
        out = io.StringIO()
        assert down.run(helper, out) == 0
        assert left.wait(10) == 0 and order.read_text().split() == ["kubelet"]
        assert other.poll() is None
        assert "stopping leftover kubelet" in out.getvalue() and "scheduler" not in out.getvalue()
    finally:
        for p in (left, other):
            p.kill()
            p.wait()


def test_lock_says_whether_a_supervisor_runs(tmp_path):
    assert not state.is_running(tmp_path)
    lock = state.Lock(tmp_path)
    assert lock.acquire()
    assert state.is_running(tmp_path)
    assert not state.Lock(tmp_path).acquire()
    lock.release()
    assert not state.is_running(tmp_path)
    json.loads(json.dumps(state.read_state(tmp_path)))  # None when nothing was written


async def test_status_reports_each_components_memory_and_the_total(helper):
    assert (lock := state.Lock(helper)).acquire()  # status reads only a running supervisor's state
    sup = Supervisor(helper, info={"mode": "up"})
    procs = [sup.start(comp(helper, "apiserver", "apiserver", "hold", "64")),
             sup.start(comp(helper, "kubelet", "kubelet", "spawn", "48")),
             sup.start(comp(helper, "scheduler", "scheduler", "serve", "scheduler", str(helper / "order")))]
    try:
        await until(lambda: all(p.state == "running" for p in procs), "all running")
        await until(lambda: all("ready" in p.component.log_path.read_text() for p in procs), "ready")
        await until(lambda: (s := state.read_state(helper)) and all(
            c["pid"] for c in s["components"].values()), "pids written")
        info = await status.collect(helper)
    finally:
        await sup.stop()
        lock.release()
    mem = info["memory"]
    mib = 1 << 20
    # what a component holds shows in its own row: the 64 MiB in the apiserver's, the 48 MiB
    # its child holds in the kubelet's (two processes), neither in the scheduler's
    assert mem["apiserver"]["rss"] >= 64 * mib and mem["apiserver"]["processes"] == 1
    assert mem["kubelet"]["rss"] >= 48 * mib and mem["kubelet"]["processes"] == 2
    assert mem["scheduler"]["rss"] < 32 * mib and mem["scheduler"]["processes"] == 1
    assert mem["(supervisor)"]["rss"] > 0  # this test's process runs the supervisor
    parts = [mem[n] for n in ("apiserver", "kubelet", "scheduler", "(supervisor)")]
    assert mem["(total)"]["rss"] == sum(m["rss"] for m in parts) and mem["(total)"]["processes"] == 5
    # our own processes' smaps_rollup is readable: PSS and USS too, PSS never above RSS
    assert all(m["pss"] is not None and m["uss"] is not None and m["pss"] <= m["rss"] for m in parts)
    out = io.StringIO()
    status.format_status(info, out)
    lines = out.getvalue().splitlines()
    header = next(ln for ln in lines if ln.startswith("COMPONENT"))
    assert header.split() == ["COMPONENT", "PID", "STATE", "RESTARTS", "AGE", "RSS", "HEALTH"]
    for name in ("apiserver", "kubelet", "scheduler"):
        row = next(ln for ln in lines if ln.split()[:1] == [name]).split()
        assert row[5] == footprint.format_bytes(mem[name]["rss"]), row
    total = next(ln for ln in lines if ln.startswith("memory: "))
    assert total.startswith(f"memory: {footprint.format_bytes(mem['(total)']['rss'])} RSS in 5 processes (supervisor ")
    assert total.endswith(f", {footprint.format_bytes(mem['(total)']['pss'])} PSS")


def hosted(base: Path, name: str, kind: str, *argv: str, module: str = "hostedhelper") -> Component:
    return Component(name, kind, module, argv, base / "logs" / f"{name}.log", 1, embedded=True)


async def test_embedded_components_run_in_one_host_process_each_supervised(helper):
    order = helper / "order"
    sup = Supervisor(helper, initial_backoff=0.05, stop_timeout=5)
    serving = [sup.start(hosted(helper, name, kind, "serve", name, str(order)))
               for name, kind in (("apiserver", "apiserver"), ("kubelet", "kubelet"),
                                  ("controller-manager", "controller-manager"))]
    crash = sup.start(hosted(helper, "scheduler", "scheduler", "crash"))
    bad = sup.start(hosted(helper, "proxy", "proxy", "usage"))
    missing = sup.start(hosted(helper, "dns", "dns", module="nosuchpkg.dns.main"))
    host = sup.procs["host"]
    try:
        await until(lambda: all(p.state == "running" for p in serving), "all running")
        await until(lambda: all(f"{p.component.name} serving" in p.component.log_path.read_text()
                                for p in serving), "serving, each in its own log")
        assert {p.pid for p in serving} == {host.pid} and host.pid is not None
        # a crash restarts that component alone, with the process back-off (1 s, then 2 s)
        await until(lambda: crash.restarts >= 2, "the crashing component restarted twice", timeout=30)
        assert crash.last_exit == 3 and all(p.restarts == 0 and p.pid == host.pid for p in serving)
        assert crash.component.log_path.read_text().count("crashing on purpose") >= 2
        await until(lambda: bad.state == "failed", "bad flags failed")
        assert bad.restarts == 0 and "--bogus" in bad.component.log_path.read_text()
        assert missing.state == "missing" and "nosuchpkg.dns.main" in missing.message
        assert "crashing" not in host.component.log_path.read_text()
        saved = await until(lambda: (s := state.read_state(helper)) and
                            s["components"]["kubelet"]["state"] == "running" and s, "state written")
        assert saved["components"]["kubelet"]["pid"] == saved["components"]["host"]["pid"] == host.pid
        assert saved["components"]["kubelet"]["host"] == "host" and "host" not in saved["components"]["host"]
    finally:
        await sup.stop()
    # stopped wave by wave over the control channel, then the host itself
    assert order.read_text().split() == ["controller-manager", "kubelet", "apiserver"]
    assert host.state == "stopped" and host.last_exit == 0
    assert all(p.state == "stopped" for p in serving)


async def test_a_killed_host_restarts_with_every_component(helper):
    order = helper / "order"
    sup = Supervisor(helper, initial_backoff=0.05, stop_timeout=5)
    procs = [sup.start(hosted(helper, name, kind, "serve", name, str(order)))
             for name, kind in (("apiserver", "apiserver"), ("kubelet", "kubelet"))]
    host = sup.procs["host"]
    try:
        await until(lambda: all(p.state == "running" for p in procs), "all running")
        first = host.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await until(lambda: all(p.state == "running" and p.pid not in (None, first) for p in procs),
                    "every component running again in a new host")
        assert host.restarts == 1 and host.last_exit == -signal.SIGKILL
        assert all(p.restarts == 1 and p.last_exit == -signal.SIGKILL for p in procs)
    finally:
        await sup.stop()
    assert order.read_text().split() == ["kubelet", "apiserver"]


async def test_a_real_apiserver_restarted_in_the_host_serves(helper):
    """The apiserver in the host process, audit log on as minik8s up runs it: its first runs
    find the port taken and exit; restarted in the same process (its metrics collectors are
    there already), it serves once the port is free."""
    data = helper / "api"
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    flags = {"data-dir": str(data), "port": str(port), "bind-address": "127.0.0.1",
             **audit_policy.flags(data, helper / "logs")}
    argv = tuple(f"--{k}={v}" for k, v in flags.items())
    audit_policy.ensure(data.mkdir(parents=True) or data)
    sup = Supervisor(helper, stop_timeout=10)
    api = sup.start(Component("apiserver", "apiserver", "apiserver.main", argv, helper / "logs" / "apiserver.log", 0,
                              embedded=True))
    try:
        await until(lambda: api.restarts >= 2, "two runs that found the port taken", timeout=60)
        assert api.last_exit == 3 and api.pid == sup.procs["host"].pid  # uvicorn's startup failure, in the host
        blocker.close()
        await until(lambda: api.state == "running" and (data / "kubeconfig").exists(), "running again", timeout=60)
        server = ApiServer(data_dir=data, port=port, log_path=api.component.log_path)

        def serves() -> bool:
            try:
                with server.http(timeout=2) as h:
                    return h.get("/readyz").status_code == 200
            except httpx.HTTPError:
                return False
        await until(lambda: serves(), "the restarted apiserver serving", timeout=60)
        assert "Traceback" not in api.component.log_path.read_text()
    finally:
        blocker.close()
        await sup.stop()
