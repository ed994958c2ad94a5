"""What the ``minik8s up`` end-to-end tests share: one ``minik8s up`` process on a data dir
and ports of its own (started, waited for until its node is Ready, its state file read, its
``status``/``down`` run), and waiting for a condition with a diagnosis when it never comes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import waiting
from tests.conftest import REPO, ApiServer, pick_free_port

__all__ = ["MINIK8S", "Up", "kubectl_for", "pid_alive", "remove_node_network", "up_cluster", "wait_until"]

MINIK8S = [sys.executable, "-m", "minik8s.up.main"]
DEADLINE = 90.0


# tests/waiting.py's wait_until, with a cluster's deadline
wait_until = functools.partial(waiting.wait_until, timeout=DEADLINE)


def remove_node_network(docker_client, node: str) -> None:
    """The pod network the kubelet made for ``node`` (after its containers are gone): left
    behind, its subnet would overlap the next cluster's."""
    for net in docker_client.networks.list(names=[f"minik8s-{node}"]):
        if net.name == f"minik8s-{node}":
            with contextlib.suppress(Exception):
                net.remove()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    return True


@dataclass
class Up:
    """One ``minik8s up`` process on its own data dir and ports."""

    data_dir: Path
    port: int
    kubelet_port: int
    node: str
    proc: subprocess.Popen | None = None
    runs: int = 0
    extra_args: tuple[str, ...] = ()
    # A pod network of its own: every cluster's first node would otherwise take 10.244.0.0/24
    # and the Docker bridges of two clusters on one host would overlap. (10.96/12 is services'.)
    cluster_cidr: str = field(default_factory=lambda: f"10.{random.randrange(128, 250)}.0.0/16")
    scheduler_port: int = field(default_factory=pick_free_port)
    controller_manager_port: int = field(default_factory=pick_free_port)
    out_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out_path = self.data_dir.parent / "up.out"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def api(self) -> ApiServer:
        """This cluster's apiserver as the harness knows apiservers (its CA, credentials and
        clients from the data dir's pki and kubeconfig); ``up`` runs the process, not this."""
        return ApiServer(data_dir=self.data_dir, port=self.port, log_path=self.data_dir / "logs" / "apiserver.log")

    def start(self) -> None:
        self.runs += 1
        cmd = [*MINIK8S, "up", "--data-dir", str(self.data_dir), "--port", str(self.port),
               "--kubelet-port", str(self.kubelet_port), "--node-name", self.node, "--cluster-cidr", self.cluster_cidr,
               # secure ports of this cluster's own: clusters of parallel tests share the host
               f"--scheduler-arg=secure-port={self.scheduler_port}",
               f"--controller-manager-arg=secure-port={self.controller_manager_port}", *self.extra_args]
        with open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._up, "minik8s up and its node Ready", diag=self.diag)

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"minik8s up exited with {self.proc.returncode}\n{self.diag()}")
        return self.out_path.read_text(errors="replace").count("minik8s is up:") >= self.runs

    def state(self) -> dict:
        return json.loads((self.data_dir / "minik8s.state.json").read_text())

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*MINIK8S, *args, "--data-dir", str(self.data_dir)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    def diag(self) -> str:
        parts = [f"--- up output:\n{self._tail(self.out_path)}"]
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            parts.append(f"--- {log.name}:\n{self._tail(log)}")
        return "\n".join(parts)

    @staticmethod
    def _tail(path: Path, lines: int = 25) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(none)"


@contextlib.contextmanager
def up_cluster(tmp_path_factory, docker_client, prefix: str) -> Iterator[Up]:
    """A one-node ``minik8s up`` of a test module's own (data dir, ports, node ``<prefix>-<hex>``),
    brought down with its node's containers and pod network at the end."""
    from tests.kubelet_harness import remove_node_containers  # kubelet_harness is the heavier module

    base = tmp_path_factory.mktemp(f"{prefix}-e2e")
    cluster = Up(data_dir=base / "data", port=pick_free_port(), kubelet_port=pick_free_port(),
                 node=f"{prefix}-{uuid.uuid4().hex[:8]}")
    try:
        # Inside the try: a start that fails (never Ready) is brought down too, or its
        # components would outlive the test run and hold their pod network's addresses.
        cluster.start()
        yield cluster
    finally:
        cluster.run("down")
        if cluster.proc is not None and cluster.proc.poll() is None:
            cluster.proc.terminate()  # the supervisor stops its components on SIGTERM
            try:
                cluster.proc.wait(60)
            except subprocess.TimeoutExpired:
                cluster.proc.kill()
                cluster.proc.wait()
        remove_node_containers(docker_client, cluster.node)
        remove_node_network(docker_client, cluster.node)


def kubectl_for(up: Up, kubectl_path: str, home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run(*args, input=None)``: the real kubectl on ``up``'s kubeconfig, with its own HOME."""
    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(home)}
        return subprocess.run([kubectl_path, *args], input=input, env=env, capture_output=True,
                              text=True, timeout=120)
    return run
