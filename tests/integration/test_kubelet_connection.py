"""How the apiserver reaches a kubelet: only at the node's registered IP and port, over TLS,
verifying the kubelet's certificate against the cluster CA. The reproduction of issue #11's
server-side request forgery -- a Node whose InternalIP is ``127.0.0.1:PORT/path?x=`` making the
apiserver fetch an internal URL through ``pods/X/log`` -- is refused, and so is any listener on a
node's address that is not a kubelet of this cluster (nothing reaches it but a TLS handshake)."""

from __future__ import annotations

import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from minik8s import pki
from tests.conftest import pick_free_port


class Listener:
    """A TCP server on 127.0.0.1 that records the bytes each connection sent (optionally
    speaking TLS with a certificate of its own CA) and answers like an internal web service."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.port = pick_free_port()
        self.received: list[bytes] = []
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(3)
                data = b""
                try:
                    if self.tls is not None:
                        conn = self.tls.wrap_socket(conn, server_side=True)
                    data = conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
                except (OSError, ssl.SSLError):
                    pass
                self.received.append(data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()

    def saw_http(self) -> bool:
        return any(b"GET /" in d for d in self.received)


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def node(name: str, address: str, port: int = 10250) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


@pytest.fixture
def ns(api_http) -> Iterator[str]:
    name = f"kc-{uuid.uuid4().hex[:8]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    yield name
    api_http.delete(f"/api/v1/namespaces/{name}")


def pod_on(api_http, ns: str, node_name: str) -> str:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]}}
    assert api_http.post(f"/api/v1/namespaces/{ns}/pods", json=body).status_code == 201, "pod"
    return "p"


@pytest.mark.parametrize("address", ["127.0.0.1:8080/path?x=", "127.0.0.1:8080", "http://127.0.0.1/", "localhost",
                                     "10.0.0.256", " 10.0.0.1"])
def test_a_node_address_that_is_no_ip_is_refused(api_http, address: str) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    r = api_http.post("/api/v1/nodes", json=node(name, address))
    assert r.status_code == 422, r.text
    cause = r.json()["details"]["causes"][0]
    assert cause["field"] == "status.addresses[0].address" and "must be a valid IP address" in cause["message"]
    # Nor can a registered node be moved there through /status.
    good = f"good-{uuid.uuid4().hex[:8]}"
    assert api_http.post("/api/v1/nodes", json=node(good, "10.1.2.3")).status_code == 201
    r = api_http.patch(f"/api/v1/nodes/{good}/status", headers={"Content-Type": "application/merge-patch+json"},
                       json={"status": {"addresses": [{"type": "InternalIP", "address": address}]}})
    assert r.status_code == 422, r.text
    r = api_http.patch(f"/api/v1/nodes/{good}/status", headers={"Content-Type": "application/merge-patch+json"},
                       json={"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 70000}}}})
    assert r.status_code == 422 and "Port" in r.text
    for n in (name, good):
        api_http.delete(f"/api/v1/nodes/{n}")


def test_the_ssrf_reproduction_is_refused(api_http, ns: str, listeners: list[Listener]) -> None:
    internal = Listener()
    listeners.append(internal)
    name = f"ssrf-{uuid.uuid4().hex[:8]}"
    # The reproduction: the InternalIP carries a port and a path.
    r = api_http.post("/api/v1/nodes", json=node(name, f"127.0.0.1:{internal.port}/internal?x=", 1))
    assert r.status_code == 422
    # The closest a node's owner can now get: a valid IP whose kubelet port is an internal
    # plain-HTTP service. The apiserver only speaks TLS there and finds no kubelet.
    assert api_http.post("/api/v1/nodes", json=node(name, "127.0.0.1", internal.port)).status_code == 201
    try:
        pod = pod_on(api_http, ns, name)
        r = api_http.get(f"/api/v1/namespaces/{ns}/pods/{pod}/log")
        assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable", r.text
        assert "secret" not in r.text and f"unable to reach the kubelet of node {name}" in r.json()["message"]
        r = api_http.get(f"/api/v1/namespaces/{ns}/pods/{pod}/exec", params={"command": "id", "stdout": "1"})
        assert r.status_code == 503 and "secret" not in r.text
        assert internal.received and not internal.saw_http(), internal.received  # handshakes, no request
    finally:
        api_http.delete(f"/api/v1/nodes/{name}")


def test_a_tls_listener_of_another_ca_is_no_kubelet(api_http, ns: str, listeners: list[Listener],
                                                     tmp_path: Path) -> None:
    other = pki.ensure_ca(tmp_path)
    cert = pki.ensure_serving_cert(other, tmp_path, "impostor", "impostor", ips=["127.0.0.1"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    impostor = Listener(ctx)
    listeners.append(impostor)
    name = f"imp-{uuid.uuid4().hex[:8]}"
    assert api_http.post("/api/v1/nodes", json=node(name, "127.0.0.1", impostor.port)).status_code == 201
    try:
        pod = pod_on(api_http, ns, name)
        r = api_http.get(f"/api/v1/namespaces/{ns}/pods/{pod}/log")
        assert r.status_code == 503 and "certificate verify failed" in r.json()["message"], r.text
        assert not impostor.saw_http()
    finally:
        api_http.delete(f"/api/v1/nodes/{name}")
