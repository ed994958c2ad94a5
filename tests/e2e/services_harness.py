"""What the services e2e tests share: a cluster of real processes for one test module, pods on
it, running commands inside pods, and putting the host's network back as it was.

The cluster: an apiserver of its own (so node IPAM only sees these nodes), a controller-manager
running ``endpoint,endpointslice,servicelb,nodeipam``, and a kubelet on the real Docker engine
that runs the proxy and the cluster DNS. Teardown removes the pods' containers, the nodes'
Docker networks, the proxy's chains and routes (``minik8s-proxy --cleanup``) and the pod
network's chains.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from minik8s import errors
from minik8s.api.resources import ENDPOINTS, NAMESPACES, PODS, SERVICES
from minik8s.client.rest import ApiClient
from tests import waiting
from tests.conftest import REPO, ApiServer, pick_free_port
from tests.kubelet_harness import KubeletProc, remove_node_containers

BUSYBOX = "minik8s/busybox:latest"
# Serves the pod's hostname to every TCP connection on port 80.
SERVE_HOSTNAME = ["nc", "-ll", "-p", "80", "-e", "hostname"]


@dataclass
class Cluster:
    api: ApiServer
    cluster_cidr: str
    host_ip: str
    base: Path
    cm: subprocess.Popen | None = None
    kubelets: list[KubeletProc] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def start_controllers(self, *, more: tuple[str, ...] = ()) -> None:
        """``more``: controllers beyond the Services' ones; the certificate ones sign with the
        server's CA."""
        log = open(self.base / "controller-manager.log", "ab")
        self.cm = subprocess.Popen(
            [sys.executable, "-m", "controllers.main", "--kubeconfig", str(self.api.kubeconfig), "--leader-elect=false",
             "--controllers", ",".join(("endpoint", "endpointslice", "servicelb", "nodeipam", *more)),
             "--cluster-cidr", self.cluster_cidr, "--cluster-signing-cert-file", str(self.api.pki / "ca.crt"),
             "--cluster-signing-key-file", str(self.api.pki / "ca.key")],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def add_kubelet(self, node: str, *, address: str, extra_args: tuple[str, ...] = (),
                    prefix: tuple[str, ...] = (), server_url: str | None = None,
                    kubeconfig: Path | None = None) -> KubeletProc:
        """A kubelet advertising ``address``; ``prefix`` runs it in another network namespace,
        reaching the apiserver at ``server_url``; ``kubeconfig``: credentials it got itself
        (``minik8s join``'s TLS bootstrap) instead of the harness' node certificate, and then
        its serving certificate too (a kubelet-serving CSR, ``--rotate-server-certificates``)."""
        base = self.base / node
        base.mkdir(parents=True, exist_ok=True)
        k = KubeletProc(server=self.api, node=node, root=base / "root", log_path=base / "kubelet.log",
                        port=pick_free_port(), server_url=server_url, kubeconfig=kubeconfig,
                        extra_args=["--address", address, "--cluster-cidr", self.cluster_cidr, *extra_args],
                        harness_serving_cert=kubeconfig is None)
        k.start(prefix=prefix, address=None, timeout=60 if prefix else 30)
        self.kubelets.append(k)
        return k

    def logs(self) -> str:
        parts = []
        for k in self.kubelets:
            parts.append(f"--- kubelet {k.node}:\n{k.log_tail(40)}")
        with contextlib.suppress(OSError):
            lines = (self.base / "controller-manager.log").read_text(errors="replace").splitlines()[-20:]
            parts.append("--- controller-manager:\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self, docker_client: Any) -> None:
        for k in self.kubelets:
            k.stop()
            if docker_client is not None:
                remove_node_containers(docker_client, k.node)
                with contextlib.suppress(Exception):
                    docker_client.networks.get(f"minik8s-{k.node}").remove()
        if self.cm is not None and self.cm.poll() is None:
            self.cm.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.cm.wait(10)
        self.api.stop()


def host_cleanup() -> None:
    """Remove the proxy's chains and routes and the pod network's chains from this host."""
    subprocess.run([sys.executable, "-m", "kubelet.proxy.main", "--cleanup", "--log-level", "warning"], cwd=REPO,
                   check=False, capture_output=True)
    subprocess.run([sys.executable, "-c", "import asyncio; from kubelet import network; "
                    "asyncio.run(network.cleanup_host_rules())"], cwd=REPO, check=False, capture_output=True)


def new_cluster(tmp_path_factory: pytest.TempPathFactory, *, cluster_cidr: str,
                tls_sans: tuple[str, ...] = (), api_args: tuple[str, ...] = ()) -> Cluster:
    """``tls_sans``: more addresses the apiserver's certificate must name (one another host dials)."""
    from kubelet import hostinfo

    base = tmp_path_factory.mktemp("svc-cluster")
    api = ApiServer(data_dir=base / "data", port=pick_free_port(), log_path=base / "apiserver.log",
                    extra_args=[*(arg for san in tls_sans for arg in ("--tls-san", san)), *api_args])
    api.start()
    return Cluster(api=api, cluster_cidr=cluster_cidr, host_ip=hostinfo.primary_ip(), base=base)


# -- pods and services ------------------------------------------------------------------------

def pod(name: str, node: str, *, labels: dict | None = None, command: list[str] | None = None,
        ports: list[dict] | None = None, readiness: dict | None = None, **spec: Any) -> dict:
    container: dict = {"name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                       "command": command or ["sleep", "3600"]}
    if ports:
        container["ports"] = ports
    if readiness:
        container["readinessProbe"] = {"periodSeconds": 1, "failureThreshold": 1, **readiness}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [container], **spec}}


def backend(name: str, node: str, app: str, **kw: Any) -> dict:
    return pod(name, node, labels={"app": app}, command=kw.pop("command", SERVE_HOSTNAME),
               ports=[{"name": "http", "containerPort": 80}],
               readiness=kw.pop("readiness", {"tcpSocket": {"port": 80}}), **kw)


def service(name: str, *, selector: dict | None, port: int = 80, target: int | str = "http", **spec: Any) -> dict:
    body: dict = {"ports": [{"name": "http", "port": port, "targetPort": target}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


async def eventually(probe: Callable, *, what: str, timeout: float = 60.0, interval: float = 0.2,
                     cluster: Cluster | None = None) -> Any:
    """tests/waiting.py's eventually, with the service tests' deadline and, on failure, the
    cluster's logs."""
    return await waiting.eventually(probe, what, timeout=timeout, interval=interval,
                                    diag=cluster.logs if cluster is not None else None)


async def wait_ready(client: ApiClient, ns: str, names: list[str], *, cluster: Cluster | None = None) -> dict[str, dict]:
    async def all_ready() -> dict[str, dict] | None:
        out = {}
        for n in names:
            try:
                p = await client.get(PODS, n, namespace=ns)
            except errors.NotFound:
                return None
            conds = {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}
            if conds.get("Ready") != "True" or not p["status"].get("podIP"):
                return None
            out[n] = p
        return out
    return await eventually(all_ready, what=f"pods {names} Ready", cluster=cluster)


async def wait_endpoints(client: ApiClient, ns: str, name: str, ips: set[str], *, field_: str = "addresses",
                         cluster: Cluster | None = None) -> dict:
    async def listed() -> dict | None:
        try:
            ep = await client.get(ENDPOINTS, name, namespace=ns)
        except errors.NotFound:
            return None
        got = {a["ip"] for s in ep.get("subsets") or [] for a in s.get(field_) or []}
        return ep if got == ips else None
    return await eventually(listed, what=f"Endpoints {name} {field_} = {sorted(ips)}", cluster=cluster)


def exec_in(docker_client: Any, ns: str, pod_name: str, script: str) -> str:
    """Run ``sh -c script`` in the pod's container ``c``; its output (stdout+stderr)."""
    found = docker_client.containers.list(ignore_removed=True, filters={"label": [f"io.minik8s.pod.namespace={ns}",
                                                             f"io.minik8s.pod.name={pod_name}",
                                                             "io.minik8s.container.name=c"]})
    assert found, f"no running container for pod {ns}/{pod_name}"
    result = found[0].exec_run(["sh", "-c", script])
    return result.output.decode(errors="replace")


async def aexec(docker_client: Any, ns: str, pod_name: str, script: str) -> str:
    return await asyncio.to_thread(exec_in, docker_client, ns, pod_name, script)


async def new_namespace(client: ApiClient) -> str:
    name = f"svc-{uuid.uuid4().hex[:6]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def empty_namespace(client: ApiClient, ns: str) -> None:
    """Delete the namespace's pods (at once) and services: no namespace controller runs here."""
    with contextlib.suppress(errors.ApiError, errors.ConnectionFailed):
        for p in (await client.list(PODS, namespace=ns)).get("items") or []:
            with contextlib.suppress(errors.NotFound):
                await client.delete(PODS, p["metadata"]["name"], namespace=ns, grace_period_seconds=0)
        for s in (await client.list(SERVICES, namespace=ns)).get("items") or []:
            with contextlib.suppress(errors.NotFound):
                await client.delete(SERVICES, s["metadata"]["name"], namespace=ns)
