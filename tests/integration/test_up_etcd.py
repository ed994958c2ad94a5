"""``minik8s up --etcd``: a local etcd as one more supervised component, the apiserver's state in
it (not in SQLite), used through the real kubectl; a killed etcd is restarted by the supervisor
and the cluster goes on; ``down`` stops it last. Hollow node (fake runtime): no Docker needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

from tests.conftest import pick_free_port
from tests.etcd_harness import require_etcd
from tests.minik8s_up_harness import Up, kubectl_for, pid_alive, wait_until


def _two_free_ports() -> int:
    """A port p with p+1 free too (etcd's client and peer ports)."""
    import socket

    while True:
        p = pick_free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p


def test_up_with_etcd(tmp_path, kubectl_path) -> None:
    require_etcd()
    etcd_port = _two_free_ports()
    up = Up(data_dir=tmp_path / "data", port=pick_free_port(), kubelet_port=pick_free_port(),
            node=f"etcdup-{uuid.uuid4().hex[:6]}",
            extra_args=("--etcd", "--etcd-port", str(etcd_port), "--runtime", "fake", "--disable-proxy",
                        "--disable-dns"))
    up.start()
    try:
        comps = up.state()["components"]
        assert comps["etcd"]["state"] == "running", comps["etcd"]
        assert f"--etcd-servers=http://127.0.0.1:{etcd_port}" in comps["apiserver"]["command"]
        kubectl = kubectl_for(up, kubectl_path, tmp_path)
        out = kubectl("create", "deployment", "web", "--image=minik8s/pause:latest", "--replicas=2")
        assert out.returncode == 0, out.stderr
        wait_until(lambda: kubectl("get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}").stdout == "2",
                   "the deployment available on the hollow node", diag=up.diag)
        env = {**os.environ, "ETCDCTL_API": "3"}
        keys = subprocess.run(["etcdctl", "--endpoints", f"127.0.0.1:{etcd_port}", "get", "/registry/",
                               "--prefix", "--keys-only"], capture_output=True, text=True, env=env, timeout=30).stdout
        assert "/registry/deployments/default/web" in keys.split()
        assert not (up.data_dir / "store.db").exists()  # the state is in etcd, not SQLite
        status = up.run("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert any(line.split()[:1] == ["etcd"] and line.rstrip().endswith("ok") for line in status.stdout.splitlines()), \
            status.stdout

        # The supervisor restarts a killed etcd; the apiserver recovers by itself.
        os.kill(comps["etcd"]["pid"], signal.SIGKILL)
        wait_until(lambda: up.state()["components"]["etcd"]["pid"] not in (None, comps["etcd"]["pid"])
                   and up.state()["components"]["etcd"]["state"] == "running", "etcd restarted", diag=up.diag)
        wait_until(lambda: kubectl("create", "configmap", "after-restart").returncode == 0,
                   "writes accepted again", diag=up.diag)
        out = kubectl("get", "configmap", "after-restart", "-o", "json")
        assert json.loads(out.stdout)["metadata"]["name"] == "after-restart"
        etcd_pid = up.state()["components"]["etcd"]["pid"]
    finally:
        down = up.run("down")
        if up.proc is not None:
            try:
                up.proc.wait(60)
            except subprocess.TimeoutExpired:
                up.proc.kill()
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 30
    while pid_alive(etcd_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(etcd_pid)
