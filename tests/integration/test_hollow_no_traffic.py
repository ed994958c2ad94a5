"""A hollow node (``--runtime fake``) never sends traffic to a pod address.

The hollow kubelet runs with a Python audit hook (a ``sitecustomize`` on its path) that writes
the address of every ``socket.connect``/``sendto``/``sendmsg`` the process makes to a file,
whatever library makes it (on asyncio's own event loop: uvloop's libuv sockets would pass
unseen, so the hook's module keeps uvloop from loading). While pods with httpGet, tcpSocket, gRPC and exec probes run on two
hollow nodes (node IPAM running, so the nodes have podCIDRs), the file must name the
apiserver (the hook works) and no pod address nor anything in the nodes' podCIDRs. The pods'
IPs come from their node's podCIDR; the probes' results are the hollow runtime's (success,
or failure when the pod's ``probe.hollow.minik8s.io/<container>.<kind>`` annotation says so);
``kubectl exec`` and ``kubectl logs`` on a hollow pod fail, saying why.
"""

from __future__ import annotations

import ast
import ipaddress
import os
from pathlib import Path

from controllers.nodeipam import NodeIpamController
from minik8s.api.resources import NODES, PODS
from tests.conftest import REPO
from tests.integration.controller_harness import running
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    condition,
    container_status,
    is_ready,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)
from tests.waiting import eventually

AUDIT_SITE = '''\
"""Records every address this process connects or sends to (a test's audit hook).

uvloop is made unimportable here: its sockets are libuv's, made without the Python calls the
audit hook sees, so the process runs on asyncio's own loop, where every connect is seen."""
import os
import sys

sys.modules["uvloop"] = None  # "import uvloop" raises ImportError: minik8s.process falls back

_PATH = os.environ["MINIK8S_TEST_CONNECT_LOG"]


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (event + " " + repr(args[1]) + "\\n").encode())
        finally:
            os.close(fd)


sys.addaudithook(_hook)
'''


def audited_env(tmp: Path) -> tuple[dict[str, str], Path]:
    site = tmp / "audit-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT_SITE)
    log = tmp / "connects.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
           "MINIK8S_TEST_CONNECT_LOG": str(log)}
    return env, log


def destinations(log: Path) -> list[tuple[str, str]]:
    """(event, host) of every recorded connect/send; unix sockets show as paths."""
    out = []
    for line in log.read_text().splitlines():
        event, _, address = line.partition(" ")
        value = ast.literal_eval(address)
        out.append((event, value[0] if isinstance(value, tuple) else str(value)))
    return out


def probes(port: int) -> dict:
    return {
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 1},
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1, "failureThreshold": 2},
        "startupProbe": {"httpGet": {"path": "/started", "port": "web"}, "periodSeconds": 1},
    }


async def test_hollow_nodes_never_dial_a_pod(client, namespace, kubelet_factory, tmp_path, kubectl) -> None:
    env, log = audited_env(tmp_path)
    k = kubelet_factory(extra_args=("--runtime", "fake", "--count", "2"), start=False, env=env)
    nodes = [f"{k.node}-0", f"{k.node}-1"]
    async with running(client, lambda f: NodeIpamController(client, f)):
        k.start(nodes=nodes)

        async def cidrs() -> dict[str, str] | None:
            found = {n: (await client.get(NODES, n)).get("spec", {}).get("podCIDR") for n in nodes}
            return found if all(found.values()) else None
        pod_cidrs = await eventually(cidrs, what="podCIDRs of the hollow nodes")

    healthy = pod_manifest("healthy", nodes[0], [
        {"name": "web", "ports": [{"name": "web", "containerPort": 8080}], **probes(8080)},
        {"name": "grpc", "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 1},
         "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}},
    ])
    # Readiness decided to fail, liveness decided to fail: not Ready, and restarted.
    failing = pod_manifest("failing", nodes[1], [
        {"name": "web", "ports": [{"name": "web", "containerPort": 80}], **probes(80)}])
    failing["metadata"]["annotations"] = {"probe.hollow.minik8s.io/web.readiness": "Failure",
                                          "probe.hollow.minik8s.io/web.liveness": "Failure"}
    for pod in (healthy, failing):
        await client.create(PODS, pod, namespace=namespace)

    pod_ips: set[str] = set()
    try:
        ready = await wait_pod(client, namespace, "healthy", is_ready, what="Ready", kubelet=k)
        restarted = await wait_pod(client, namespace, "failing",
                                   lambda p: container_status(p, "web").get("restartCount", 0) >= 2,
                                   what="restarted twice by its failing liveness probe", kubelet=k)
        assert condition(restarted, "Ready") == "False"
        assert not container_status(restarted, "web")["ready"]

        pod_ips |= {ready["status"]["podIP"], restarted["status"]["podIP"]}
        assert ipaddress.ip_address(ready["status"]["podIP"]) in ipaddress.ip_network(pod_cidrs[nodes[0]])
        assert ipaddress.ip_address(restarted["status"]["podIP"]) in ipaddress.ip_network(pod_cidrs[nodes[1]])

        # A hollow pod has no process: exec and logs fail and say so.
        r = kubectl("exec", "-n", namespace, "healthy", "-c", "web", "--", "true")
        assert r.returncode != 0 and "a hollow node (--runtime fake) runs no processes to exec in" in r.stderr, r
        r = kubectl("logs", "-n", namespace, "healthy", "-c", "web")
        assert r.returncode != 0 and "runs no processes to read logs of" in r.stderr, r
        assert r.stdout == ""
    finally:
        # Whatever happened above, the traffic record is judged first.
        k.stop()
        assert_no_pod_traffic(log, pod_cidrs, pod_ips)


def assert_no_pod_traffic(log: Path, pod_cidrs: dict[str, str], pod_ips: set[str]) -> None:
    seen = destinations(log)
    hosts = {host for _, host in seen}
    assert "127.0.0.1" in hosts, f"the audit hook recorded nothing of the apiserver traffic: {seen[:5]}"
    nets = [ipaddress.ip_network(c) for c in pod_cidrs.values()]
    dialed = []
    for event, host in seen:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue  # a unix socket path, or a name
        if host in pod_ips or any(ip in net for net in nets):
            dialed.append((event, host))
    assert dialed == [], f"the hollow kubelet sent traffic to pod addresses: {sorted(set(dialed))}"
