"""Real etcd processes for tests: each on free loopback ports and a data dir of its own.

``etcd_factory()`` starts one (stopped after the test); ``EtcdProcess.kill()`` / ``start()``
simulate an outage on the same data. Without the etcd binary a test is skipped, and fails when
CI is set (``tests.conftest.missing``), as with Docker.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik8s.up import etcd as local_etcd
from tests.conftest import missing, pick_free_port


@dataclass
class EtcdProcess:
    data_dir: Path
    client_port: int
    peer_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    name: str = "minik8s"
    initial_cluster: str | None = None  # a member of a cluster (start_etcd_cluster)
    tls: EtcdTLS | None = None  # HTTPS with client certificates

    @property
    def url(self) -> str:
        return local_etcd.client_url(self.client_port, tls=self.tls is not None)

    def _verify(self) -> Any:
        """How the harness itself checks /health: the member's CA and a client certificate."""
        if self.tls is None:
            return True
        import ssl

        ctx = ssl.create_default_context(cafile=self.tls.ca)
        ctx.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        return ctx

    def spawn(self) -> None:
        cmd = local_etcd.command(self.data_dir, client_port=self.client_port, peer_port=self.peer_port,
                                 name=self.name, initial_cluster=self.initial_cluster,
                                 client_tls=None if self.tls is None else (self.tls.cert, self.tls.key, self.tls.ca))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def start(self, *, timeout: float = 30.0) -> None:
        self.spawn()
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"etcd exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0, verify=self._verify()).json().get("health") == "true":
                    return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"etcd did not become healthy within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: what a crash or a lost host looks like to clients."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def require_etcd() -> str:
    binary = local_etcd.binary()
    if binary is None:
        missing("etcd is not installed (Debian's etcd-server package; scripts/setup.sh installs it)")
    assert binary is not None
    return binary


def start_etcd_cluster(base: Path, members: int = 3) -> list[EtcdProcess]:
    """A cluster of ``members`` etcd processes on loopback (started together: none is healthy
    before a quorum is up)."""
    require_etcd()
    ports: set[int] = set()
    while len(ports) < 2 * members:
        ports.add(pick_free_port())
    it = iter(sorted(ports))
    servers = []
    for i in range(members):
        d = base / f"member-{i}"
        d.mkdir(parents=True, exist_ok=True)
        servers.append(EtcdProcess(d / "data", next(it), next(it), d / "etcd.log", name=f"m{i}"))
    cluster = ",".join(f"{s.name}=http://127.0.0.1:{s.peer_port}" for s in servers)
    for s in servers:
        s.initial_cluster = cluster
        s.spawn()
    for s in servers:
        s.wait_healthy()
    return servers


@dataclass(frozen=True)
class EtcdTLS:
    """A CA, etcd's serving pair (127.0.0.1, localhost) and a client pair it accepts."""

    ca: str
    cert: str
    key: str
    client_cert: str
    client_key: str


def make_tls(cert_dir: Path) -> EtcdTLS:
    from minik8s import pki

    ca = pki.ensure_ca(cert_dir, common_name="etcd-ca")
    server = pki.ensure_serving_cert(ca, cert_dir, "etcd-server", "etcd", dns_names=["localhost"], ips=["127.0.0.1"])
    client = pki.ensure_client_cert(ca, cert_dir, "apiserver-etcd-client", "kube-apiserver-etcd-client")
    return EtcdTLS(str(cert_dir / "ca.crt"), str(server.cert_path), str(server.key_path), str(client.cert_path),
                   str(client.key_path))


def start_etcd(base: Path, *, tls: EtcdTLS | None = None) -> EtcdProcess:
    require_etcd()
    base.mkdir(parents=True, exist_ok=True)
    while (client := pick_free_port()) == (peer := pick_free_port()):
        pass
    server = EtcdProcess(base / "etcd-data", client, peer, base / "etcd.log", tls=tls)
    server.start()
    return server


@pytest.fixture
def etcd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], EtcdProcess]]:
    """Start etcd members of a test's own; all are stopped after the test."""
    started: list[EtcdProcess] = []

    def factory() -> EtcdProcess:
        server = start_etcd(tmp_path_factory.mktemp("etcd"))
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
