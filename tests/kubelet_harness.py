"""What the kubelet tests share: a kubelet subprocess per node name, a namespace per test,
and waiting for a pod to reach a state (polling the apiserver, failing with what it saw).

Every kubelet gets a node name of its own, so everything it made is found, and removed after
the test, by the node label alone; nothing of another test or kubelet is ever touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik8s import errors
from minik8s.api.resources import PODS
from minik8s.client.rest import ApiClient
from tests.conftest import REPO, ApiServer, pick_free_port
from tests.waiting import eventually

NODE_LABEL = "io.minik8s.node"
BUSYBOX = "minik8s/busybox:latest"
DEADLINE_S = 60.0


@dataclass
class KubeletProc:
    """One ``python -m kubelet.main`` process of ``server``'s cluster.

    It authenticates as the node does (``system:node:<node>`` in ``system:nodes``, a client
    certificate of the cluster CA) unless given another ``kubeconfig``; ``server_url`` is how
    it reaches the apiserver when not over loopback (another network namespace)."""

    server: ApiServer
    node: str
    root: Path
    log_path: Path
    port: int = field(default_factory=pick_free_port)
    extra_args: list[str] = field(default_factory=list)
    kubeconfig: Path | None = None
    server_url: str | None = None
    env: dict[str, str] | None = None  # the process's environment (None: this one's)
    # No node IPAM runs beside these kubelets, so no podCIDR comes: pods use Docker's default
    # network (--runtime-default-network) unless a test gives the node its podCIDR and says so.
    default_network: bool = True
    # False: no serving certificate from the harness; the kubelet gets its own from the cluster
    # (--rotate-server-certificates), as a joined node does.
    harness_serving_cert: bool = True
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.kubeconfig is None and "--count" in self.extra_args:
            # Hollow nodes of one process (kubemark's many in one): no single node identity may
            # write them all (NodeRestriction), so the process acts as the harness' admin.
            self.kubeconfig = self.server.kubeconfig
        if self.kubeconfig is None:
            self.kubeconfig = self.server.kubeconfig_for(f"system:node:{self.node}", ("system:nodes",),
                                                         server_url=self.server_url)

    def command(self, *, address: str | None = "127.0.0.1") -> list[str]:
        """The kubelet's command line (``--address`` only when given): its node API serves a
        certificate of the cluster CA naming its addresses and accepts the CA's clients."""
        args = [*(["--address", address] if address else []), *self.extra_args,
                *(["--runtime-default-network"] if self.default_network else [])]
        if self.server.cluster_cidr and "--cluster-cidr" not in args:  # the cluster's node IPAM range
            args += ["--cluster-cidr", self.server.cluster_cidr]
        ips = ["127.0.0.1", *(args[i + 1] for i, a in enumerate(args[:-1]) if a == "--address")]
        tls: list[str] = ["--rotate-server-certificates"]
        if self.harness_serving_cert:
            cert, key = self.server.kubelet_serving_cert(self.node, list(dict.fromkeys(ips)))
            tls = ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key)]
        return [sys.executable, "-m", "kubelet.main", "--kubeconfig", str(self.kubeconfig), "--node-name", self.node,
                "--port", str(self.port), "--root-dir", str(self.root), *tls,
                "--client-ca-file", str(self.server.ca_file), *args]

    def http(self, *, anonymous: bool = False, host: str = "127.0.0.1",
             client_cert: tuple[Path, Path] | None = None) -> httpx.Client:
        """An httpx client on this kubelet's node API, as the apiserver calls it (or with no
        client certificate, or with ``client_cert``)."""
        ctx = self.server.ssl_context(client_cert=client_cert) if client_cert else \
            self.server.kubelet_ssl_context(client_cert=not anonymous)
        return httpx.Client(base_url=f"https://{host}:{self.port}", timeout=5, verify=ctx)

    def start(self, *, wait_ready: bool = True, nodes: list[str] | None = None,
              prefix: tuple[str, ...] = (), address: str | None = "127.0.0.1", timeout: float = 30.0) -> KubeletProc:
        """Start it (``prefix`` runs it elsewhere, e.g. ``nsenter --net=...``) and wait for
        its node(s) to be Ready."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*prefix, *self.command(address=address)], cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env)
        if wait_ready:
            for node in nodes or [self.node]:
                self.wait_node_ready(node, timeout=timeout)
            if address and not prefix:
                # A node turns Ready from its status loop, which may run before the node API's
                # listener is bound: tests that call the node API need both.
                self.wait_serving(address, timeout=timeout)
        return self

    def wait_serving(self, address: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"kubelet exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection((address, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"kubelet's node API did not listen on {address}:{self.port} "
                                f"within {timeout}s:\n{self.log_tail()}")
                time.sleep(0.05)

    def wait_node_ready(self, node: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"kubelet {self.node} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError, ValueError), self.server.http(timeout=2.0) as api:
                r = api.get(f"/api/v1/nodes/{node}")
                if r.status_code == 200:
                    conds = {c["type"]: c["status"] for c in r.json().get("status", {}).get("conditions") or []}
                    if conds.get("Ready") == "True":
                        return r.json()
            time.sleep(0.1)
        pytest.fail(f"node {node} not Ready within {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the kubelet dies mid-flight, leaving whatever runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def remove_node_containers(docker_client: Any, node: str) -> None:
    for c in docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{NODE_LABEL}={node}"}):
        with contextlib.suppress(Exception):
            c.remove(force=True, v=True)


@pytest.fixture
def kubelet_factory(apiserver_process: ApiServer, tmp_path_factory: pytest.TempPathFactory,
                    request: pytest.FixtureRequest) -> Iterator[Callable[..., KubeletProc]]:
    """``factory(node=None, extra_args=(), start=True, env=None, default_network=True)``: a kubelet
    on a node name of its own (``default_network=False``: pods wait for the node's podCIDR)."""
    made: list[KubeletProc] = []

    def factory(*, node: str | None = None, extra_args: tuple[str, ...] = (), start: bool = True,
                nodes: list[str] | None = None, env: dict[str, str] | None = None,
                default_network: bool = True) -> KubeletProc:
        node = node or f"kt-{uuid.uuid4().hex[:8]}"
        base = tmp_path_factory.mktemp(node)
        k = KubeletProc(server=apiserver_process, node=node, root=base / "root", log_path=base / "kubelet.log",
                        extra_args=list(extra_args), env=env, default_network=default_network)
        made.append(k)
        if start:
            k.start(nodes=nodes)
        return k

    yield factory
    docker_client = None
    if any("fake" not in k.extra_args for k in made):
        docker_client = request.getfixturevalue("docker_client")
    for k in made:
        k.stop()
        if docker_client is not None:
            remove_node_containers(docker_client, k.node)


def pod_manifest(name: str, node: str, containers: list[dict], **spec: Any) -> dict:
    """A pod bound to ``node``; containers default to busybox with IfNotPresent (nothing can be pulled)."""
    for c in containers:
        c.setdefault("image", BUSYBOX)
        c.setdefault("imagePullPolicy", "IfNotPresent")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


async def wait_pod(client: ApiClient, namespace: str, name: str, predicate: Callable[[dict], bool], *,
                   what: str, kubelet: KubeletProc | None = None, timeout: float = DEADLINE_S) -> dict:
    """Poll the pod until ``predicate(pod)``; fail naming ``what`` and showing the last status."""
    pod: dict = {}

    async def matches() -> dict | None:
        nonlocal pod
        with contextlib.suppress(errors.NotFound):
            pod = await client.get(PODS, name, namespace=namespace)
            if predicate(pod):
                return pod
        return None

    def diag() -> str:
        tail = f"\nkubelet log:\n{kubelet.log_tail()}" if kubelet else ""
        return f"status:\n{json.dumps(pod.get('status'), indent=1)}{tail}"
    found: dict = await eventually(matches, f"pod {namespace}/{name} {what}", timeout=timeout, interval=0.2, diag=diag)
    return found


# tests/waiting.py's eventually, with the kubelet tests' deadline
wait_for = functools.partial(eventually, timeout=DEADLINE_S, interval=0.2)


def container_status(pod: dict, name: str) -> dict:
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        if s["name"] == name:
            return s
    return {}


def condition(pod: dict, ctype: str) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c["status"]
    return None


def is_running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def is_ready(pod: dict) -> bool:
    return condition(pod, "Ready") == "True"


async def events_for(client: ApiClient, namespace: str, name: str) -> list[dict]:
    from minik8s.api.resources import EVENTS
    lst = await client.list(EVENTS, namespace=namespace, field_selector=f"involvedObject.name={name}")
    return lst.get("items") or []


async def pod_containers(docker_client: Any, uid: str) -> list[Any]:
    return await asyncio.to_thread(
        docker_client.containers.list, all=True, ignore_removed=True, filters={"label": f"io.minik8s.pod.uid={uid}"})


def host_env() -> dict[str, str]:
    return dict(os.environ)
