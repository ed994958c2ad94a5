"""The real kubectl's ``create`` generators against the real apiserver.

kubectl 1.32 sends these objects as protobuf (``application/vnd.kubernetes.protobuf``) and does
not retry with JSON, so each create working and ``kubectl get`` showing the object proves the
apiserver reads the protobuf. A recorder that forwards every request to the apiserver keeps the
bodies kubectl sent, and each one must decode to exactly the JSON kubectl itself prints for the
same object with ``--dry-run=client -o json`` (Go's encoding, less its ``null``s).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from apiserver import protobuf

# (what is created, kubectl arguments after "create", resource and name to get)
CASES = {
    "deployment": (["deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80"], "deployment/web"),
    "deployment-command": (["deployment", "sleeper", "--image=busybox:1.36", "--", "sleep", "3600"],
                           "deployment/sleeper"),
    "configmap": (["configmap", "c", "--from-literal=a=b"], "configmap/c"),
    "secret": (["secret", "generic", "s", "--from-literal=p=q"], "secret/s"),
    "service-nodeport": (["service", "nodeport", "n", "--tcp=80:8080"], "service/n"),
    "service-clusterip": (["service", "clusterip", "ci", "--tcp=5678:8080"], "service/ci"),
    "service-headless": (["service", "clusterip", "hl", "--clusterip=None"], "service/hl"),
    "service-loadbalancer": (["service", "loadbalancer", "lb", "--tcp=80:http"], "service/lb"),
    "quota": (["quota", "q", "--hard=pods=2,requests.cpu=1,limits.memory=1Gi", "--scopes=NotBestEffort"],
              "quota/q"),
}


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class Recorder:
    """An HTTP server that forwards everything to the apiserver and keeps what was sent."""

    upstream: str
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    def posts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]


@pytest.fixture(scope="module")
def recorder(apiserver_process) -> Iterator[Recorder]:
    rec = Recorder(upstream=apiserver_process.url)
    # kubectl talks plain HTTP to the recorder; the recorder talks to the apiserver as the tests do.
    client = apiserver_process.http(timeout=30)

    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.requests.append(Recorded(self.command, self.path, self.headers.get("Content-Type", ""), body))
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
            reply = client.request(self.command, self.path, headers=headers, content=body)
            self.send_response(reply.status_code)
            self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
    client.close()


@pytest.fixture
def namespace(kubectl: Any) -> str:
    name = f"pb-{uuid.uuid4().hex[:8]}"
    proc = kubectl("create", "namespace", name)  # itself a protobuf create
    assert proc.returncode == 0, proc.stderr
    return name


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _dry_run_args(args: list[str]) -> list[str]:
    # Flags after "--" would belong to the container command.
    cut = args.index("--") if "--" in args else len(args)
    return [*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]]


def test_create_namespace_then_get(kubectl: Any) -> None:
    name = f"pb-ns-{uuid.uuid4().hex[:8]}"
    proc = kubectl("create", "namespace", name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"namespace/{name} created"
    got = kubectl("get", "namespace", name, "-o", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["metadata"]["name"] == name
    assert name in kubectl("get", "namespaces").stdout


@pytest.mark.parametrize("case", CASES)
def test_create_then_get(kubectl: Any, namespace: str, case: str) -> None:
    args, target = CASES[case]
    proc = kubectl("-n", namespace, "create", *args)  # -n first: args may end in "-- command"
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("created"), proc.stdout

    listing = kubectl("get", target, "-n", namespace)
    assert listing.returncode == 0, listing.stderr
    assert target.split("/")[1] in listing.stdout

    got = kubectl("get", target, "-n", namespace, "-o", "json")
    assert got.returncode == 0, got.stderr
    obj = json.loads(got.stdout)
    assert obj["metadata"]["namespace"] == namespace
    spec = obj.get("spec", {})
    if case == "deployment":
        assert spec["replicas"] == 3
        (container,) = spec["template"]["spec"]["containers"]
        assert container["image"] == "nginx:1.25"
        assert container["ports"][0]["containerPort"] == 80
        assert spec["selector"]["matchLabels"] == {"app": "web"}
    elif case == "deployment-command":
        assert spec["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]
    elif case == "configmap":
        assert obj["data"] == {"a": "b"}
    elif case == "secret":
        assert obj["data"] == {"p": base64.b64encode(b"q").decode()}
        assert obj["type"] == "Opaque"
    elif case == "service-nodeport":
        assert spec["type"] == "NodePort"
        assert (spec["ports"][0]["port"], spec["ports"][0]["targetPort"]) == (80, 8080)
    elif case == "service-clusterip":
        assert spec["type"] == "ClusterIP"
        assert (spec["ports"][0]["port"], spec["ports"][0]["targetPort"]) == (5678, 8080)
    elif case == "service-headless":
        assert spec["clusterIP"] == "None"
    elif case == "service-loadbalancer":
        assert spec["type"] == "LoadBalancer"
        assert spec["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("case", CASES)
def test_body_decodes_to_kubectls_own_json(kubectl: Any, recorder: Recorder, namespace: str, case: str) -> None:
    args, _ = CASES[case]
    before = len(recorder.posts())
    proc = kubectl("-n", namespace, "create", *args, server=recorder.url)
    assert proc.returncode == 0, proc.stderr
    sent = recorder.posts()[before:]
    assert len(sent) == 1, sent
    assert sent[0].content_type == protobuf.CONTENT_TYPE
    assert sent[0].body.startswith(protobuf.MAGIC)

    printed = kubectl("-n", namespace, "create", *_dry_run_args(args))
    assert printed.returncode == 0, printed.stderr
    assert protobuf.decode(sent[0].body) == _without_nulls(json.loads(printed.stdout))
