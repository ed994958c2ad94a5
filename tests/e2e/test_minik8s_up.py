"""``minik8s up`` end to end on real Docker: it brings a Ready node up on a temporary data dir and
free ports, ``minik8s status`` reports every component healthy, its kubeconfig works with the
real kubectl, a component killed with SIGKILL is restarted by the supervisor, SIGTERM stops
every component while the pods' containers keep running, and the next ``up`` adopts them.

The node name is this test's own, so the kubelet adopts or removes nothing of anyone else's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid

import pytest

from tests.conftest import pick_free_port
from tests.kubelet_harness import remove_node_containers
from tests.minik8s_up_harness import Up, pid_alive, remove_node_network, wait_until

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def up(tmp_path_factory, docker_client, test_images):
    base = tmp_path_factory.mktemp("minik8s-up")
    kubelet_port = pick_free_port()
    cluster = Up(data_dir=base / "data", port=pick_free_port(), kubelet_port=kubelet_port,
                 node=f"up-{uuid.uuid4().hex[:8]}")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.run("down")
        if cluster.proc is not None and cluster.proc.poll() is None:
            cluster.proc.kill()
        remove_node_containers(docker_client, cluster.node)
        remove_node_network(docker_client, cluster.node)


@pytest.fixture(scope="module")
def kubectl_env(up, kubectl_path, tmp_path_factory):
    home = tmp_path_factory.mktemp("kubectl-home")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(home)}
        return subprocess.run([kubectl_path, *args], input=input, env=env, capture_output=True,
                              text=True, timeout=120)
    return run


def test_status_reports_every_component_healthy(up):
    r = up.run("status")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith("minik8s is running (up)")
    for name in ("apiserver", "controller-manager", "scheduler", "kubelet"):
        line = next((ln for ln in out.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None and " running " in line, out
    assert f"node {up.node} Ready" in out
    assert str(up.kubeconfig) in out


def test_the_kubeconfig_works_with_the_real_kubectl(up, kubectl_env):
    r = kubectl_env("config", "current-context")
    assert r.stdout.strip() == "minik8s", r.stderr
    r = kubectl_env("get", "nodes", "-o", "json")
    assert r.returncode == 0, r.stderr
    nodes = {n["metadata"]["name"]: n for n in json.loads(r.stdout)["items"]}
    conds = {c["type"]: c["status"] for c in nodes[up.node]["status"]["conditions"]}
    assert conds["Ready"] == "True"
    r = kubectl_env("get", "nodes")
    assert r.returncode == 0 and up.node in r.stdout and "Ready" in r.stdout


def test_a_component_killed_with_sigkill_is_restarted(up):
    before = up.state()["components"]["scheduler"]
    os.kill(before["pid"], signal.SIGKILL)

    def restarted():
        c = up.state()["components"]["scheduler"]
        return c if c["state"] == "running" and c["pid"] != before["pid"] and pid_alive(c["pid"]) else None

    after = wait_until(restarted, "the scheduler restarted", diag=up.diag)
    assert after["restarts"] == before["restarts"] + 1
    assert after["lastExit"] == -signal.SIGKILL
    assert up.run("status").returncode == 0


def test_sigterm_stops_every_component_and_a_restart_adopts_the_pods(up, kubectl_env, docker_client):
    pod = f"""apiVersion: v1
kind: Pod
metadata: {{name: sleeper}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: minik8s/busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
"""
    r = kubectl_env("apply", "-f", "-", input=pod)
    assert r.returncode == 0, r.stderr
    r = kubectl_env("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s")
    assert r.returncode == 0, r.stderr + up.diag()
    status = json.loads(kubectl_env("get", "pod", "sleeper", "-o", "json").stdout)["status"]
    cid = status["containerStatuses"][0]["containerID"].removeprefix("docker://")

    pids = [c["pid"] for c in up.state()["components"].values() if c.get("pid")]
    assert len(pids) >= 4
    assert up.proc is not None
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0
    assert not [p for p in pids if pid_alive(p)], "components outlived the supervisor"
    assert up.run("status").returncode == 1
    assert docker_client.containers.get(cid).status == "running"  # pods' containers stay

    up.start()
    r = kubectl_env("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s")
    assert r.returncode == 0, r.stderr + up.diag()
    after = json.loads(kubectl_env("get", "pod", "sleeper", "-o", "json").stdout)["status"]
    st = after["containerStatuses"][0]
    assert st["containerID"].removeprefix("docker://") == cid  # adopted, not recreated
    assert st["restartCount"] == 0

    r = up.run("down")
    assert r.returncode == 0 and "minik8s stopped" in r.stdout, r.stdout + r.stderr
    assert up.proc.wait(60) == 0
    assert docker_client.containers.get(cid).status == "running"
