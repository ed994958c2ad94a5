"""``kubectl port-forward`` end to end: the real kubectl 1.32 (SPDY/3.1 tunnelled in a
WebSocket) → the apiserver's ``pods/{name}/portforward`` → the kubelet's node API → a TCP
connection made inside the pod's network namespace, and back.

The pod's HTTP server listens on 127.0.0.1 only, so a reply proves the kubelet connected from
inside the pod (the pod's IP would refuse). A hollow node refuses port-forward outright.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
from collections.abc import Iterator

import pytest

from minik8s.api.resources import DEPLOYMENTS, NODES, PODS, SERVICES
from tests.conftest import kubectl_args
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    is_ready,
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)

pytestmark = pytest.mark.docker

# httpd on the pod's loopback only; /big is 300 kB so a reply spans many frames.
_LINE = "0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "0123456789abcdefghij"
_SERVE = ("mkdir -p /www && echo hello-from-pod > /www/index.html && "
          f"i=0; while [ $i -lt 3000 ]; do echo {_LINE}; i=$((i+1)); done > /www/big && "
          "exec httpd -f -p 127.0.0.1:8080 -h /www")


@contextlib.contextmanager
def _port_forward(kubectl_path: str, apiserver_process, tmp_path, *args: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """``kubectl port-forward ARGS`` running; yields it and the local port it announced."""
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path)}
    # stderr goes to a file: a pipe nobody reads while kubectl runs would fill and stall it.
    err_path = tmp_path / f"port-forward-{len(list(tmp_path.glob('port-forward-*')))}.err"
    err_file = open(err_path, "w")
    proc = subprocess.Popen([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache"), "port-forward",
                             "--address", "127.0.0.1", *args], stdout=subprocess.PIPE, stderr=err_file,
                            text=True, env=env)
    proc.err_path = err_path  # type: ignore[attr-defined]
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> REMOTE"
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        if not m:
            proc.kill()
            proc.communicate(timeout=10)
            raise AssertionError(f"kubectl port-forward did not start: {line!r} {err_path.read_text()}")
        yield proc, int(m.group(1))
    finally:
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)
        err_file.close()


def _get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return _read_all(s)


def _read_all(s: socket.socket) -> bytes:
    out = bytearray()
    while chunk := s.recv(65536):
        out += chunk
    return bytes(out)


def _body(response: bytes) -> bytes:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], head
    return body


async def test_port_forward_pod_service_deployment(client, namespace, kubelet_factory, test_images, kubectl_path,
                                                   apiserver_process, tmp_path) -> None:
    kubelet = kubelet_factory()
    pod = pod_manifest("web", kubelet.node, [{"name": "web", "command": ["sh", "-c", _SERVE]}], restartPolicy="Never")
    pod["metadata"]["labels"] = {"app": "pf"}
    await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "web", is_ready, what="Ready", kubelet=kubelet)
    big = (_LINE + "\n").encode() * 3000

    with _port_forward(kubectl_path, apiserver_process, tmp_path, "-n", namespace, "pod/web", ":8080") as (proc, port):
        assert _body(_get(port, "/")) == b"hello-from-pod\n"
        # Two connections open at once through the one session; answered in the other order.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as a, \
                socket.create_connection(("127.0.0.1", port), timeout=20) as b:
            a.sendall(b"GET /big HTTP/1.0\r\n\r\n")
            b.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert _body(_read_all(b)) == b"hello-from-pod\n"
            assert _body(_read_all(a)) == big
        # Many after another: every connection's streams are closed and forgotten.
        for _ in range(5):
            assert _body(_get(port, "/")) == b"hello-from-pod\n"
        assert proc.poll() is None

    # svc/X and deploy/X: kubectl picks the pod by selector and maps the service's targetPort.
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                   "spec": {"selector": {"app": "pf"},
                                            "ports": [{"port": 80, "targetPort": 8080}]}}, namespace=namespace)
    with _port_forward(kubectl_path, apiserver_process, tmp_path, "-n", namespace, "svc/web", ":80") as (_, port):
        assert _body(_get(port, "/")) == b"hello-from-pod\n"
    await client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "pf"}},
                 "template": {"metadata": {"labels": {"app": "pf"}},
                              "spec": {"containers": [{"name": "web", "image": "minik8s/busybox:latest"}]}}}},
        namespace=namespace)
    with _port_forward(kubectl_path, apiserver_process, tmp_path, "-n", namespace, "deploy/web", ":8080") as (_, port):
        assert _body(_get(port, "/")) == b"hello-from-pod\n"

    # A port nothing listens on: the kubelet's error on the error stream, which kubectl prints
    # (and, as kubectl 1.32 does on a forwarding error, it then ends the session).
    with _port_forward(kubectl_path, apiserver_process, tmp_path, "-n", namespace, "pod/web", ":9") as (proc, port):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"x")
            assert _read_all(s) == b""
        proc.wait(timeout=30)
        err = proc.err_path.read_text()
        assert proc.returncode == 1, err
        assert "error forwarding port 9 to pod web_" in err, err
        assert "connection refused" in err, err


async def test_port_forward_refused_by_hollow_node_and_for_unbound_pod(client, namespace, kubelet_factory, kubectl,
                                                                      ) -> None:
    hollow = kubelet_factory(extra_args=("--runtime", "fake"))
    # A block of its own (as node IPAM would give it), so the hollow pod gets an IP and runs.
    await client.patch(NODES, hollow.node, {"spec": {"podCIDR": "10.251.77.0/24", "podCIDRs": ["10.251.77.0/24"]}})
    await client.create(PODS, pod_manifest("ghost", hollow.node, [{"name": "c"}]), namespace=namespace)
    await wait_pod(client, namespace, "ghost", is_running, what="Running", kubelet=hollow)
    out = kubectl("port-forward", "-n", namespace, "pod/ghost", ":80", timeout=30)
    assert out.returncode == 1, out
    assert out.stderr.strip() == (f"error: error upgrading connection: unable to upgrade connection: port-forward is not supported on node "
                                  f"{hollow.node}, which runs the hollow runtime (it never connects to a pod)"), out

    out = kubectl("port-forward", "-n", namespace, "pod/nope", ":80", timeout=30)
    assert out.returncode == 1 and 'pods "nope" not found' in out.stderr, out.stderr
