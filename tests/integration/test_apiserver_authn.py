"""Who may talk to the apiserver: HTTPS only, x509 client certificates, anonymous requests
limited to health, version and discovery, wrong credentials refused with 401, impersonation
authorized through the authorizer, and the files the apiserver makes for itself."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
import uuid

import httpx
import pytest
import websockets
from websockets.sync.client import connect

from minik8s import pki
from tests.conftest import REPO, ApiServer

OPEN = ["/healthz", "/livez", "/readyz", "/version", "/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v3"]


def status(r: httpx.Response) -> tuple[int, str, str]:
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == r.status_code
    return r.status_code, body["reason"], body["message"]


def test_anonymous_sees_only_health_version_and_discovery(apiserver_process):
    with apiserver_process.http(anonymous=True, timeout=10) as anon:
        for path in OPEN:
            assert anon.get(path).status_code == 200, path
        assert status(anon.get("/api/v1/namespaces/default/configmaps")) == (
            403, "Forbidden", 'configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" '
                              'in API group "" in the namespace "default"')
        code, reason, message = status(anon.post("/api/v1/namespaces/default/pods", json={}))
        assert (code, reason) == (403, "Forbidden") and 'cannot create resource "pods"' in message
        r = anon.get("/apis/apps/v1/namespaces/default/deployments/web")
        assert r.json()["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
        assert status(anon.post("/healthz"))[0] == 403


@pytest.mark.parametrize("header", ["Bearer not-a-token-anyone-issued", "Basic YWRtaW46YWRtaW4=", "Negotiate x"])
def test_wrong_credentials_are_401_even_for_open_paths(apiserver_process, header):
    with apiserver_process.http(anonymous=True, timeout=10, headers={"Authorization": header}) as c:
        for path in ("/healthz", "/api/v1/namespaces"):
            assert status(c.get(path)) == (401, "Unauthorized", "Unauthorized")


def test_a_client_certificate_names_the_user(apiserver_process, kubectl):
    # The user is what the certificate says: RBAC (the default mode) lets alice do what her
    # bindings grant, through her group too.
    kc = apiserver_process.kubeconfig_for("alice", ("dev-readers",))
    r = kubectl("--kubeconfig", str(kc), "get", "namespace", "default", "-o", "name")
    assert r.returncode == 1 and 'User "alice" cannot get resource "namespaces"' in r.stderr, r.stderr
    name = f"dev-readers-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "clusterrole", name, "--verb=get,list", "--resource=namespaces").returncode == 0
    assert kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}", "--group=dev-readers").returncode == 0
    try:
        r = kubectl("--kubeconfig", str(kc), "get", "namespace", "default", "-o", "name")
        assert (r.returncode, r.stdout) == (0, "namespace/default\n"), r.stderr
        r = kubectl("--kubeconfig", str(kc), "create", "configmap", "nope", "-n", "default")
        assert r.returncode == 1 and 'User "alice" cannot create resource "configmaps"' in r.stderr
    finally:
        kubectl("delete", "clusterrolebinding", name)
        kubectl("delete", "clusterrole", name)
    assert "client-certificate-data" in kc.read_text()


def test_a_certificate_of_another_ca_is_refused_at_the_handshake(apiserver_process, tmp_path):
    other = pki.ensure_ca(tmp_path / "other")
    pair = pki.ensure_client_cert(other, tmp_path / "other", "mallory", "mallory", ["system:masters"])
    ctx = apiserver_process.ssl_context(client_cert=(pair.cert_path, pair.key_path))
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        with httpx.Client(base_url=apiserver_process.url, verify=ctx, timeout=10) as c:
            c.get("/api/v1/namespaces")


def test_plain_http_is_not_served(apiserver_process):
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{apiserver_process.port}/healthz", timeout=5)


def test_exec_websocket_is_authorized_before_the_upgrade(apiserver_process):
    url = f"wss://127.0.0.1:{apiserver_process.port}/api/v1/namespaces/default/pods/any/exec?command=id&stdout=1"
    with pytest.raises(websockets.InvalidStatus) as e:
        with connect(url, ssl=apiserver_process.ssl_context(client_cert=False), open_timeout=10,
                     subprotocols=["v5.channel.k8s.io"]):  # type: ignore[list-item]
            pass
    assert e.value.response.status_code == 403
    assert json.loads(e.value.response.body)["message"].startswith('pods "any" is forbidden: User "system:anonymous"')


@pytest.fixture(scope="module")
def deny_all(tmp_path_factory) -> ApiServer:
    """An apiserver whose only mode is AlwaysDeny: only system:masters and the open paths pass."""
    base = tmp_path_factory.mktemp("deny")
    from tests.conftest import pick_free_port
    server = ApiServer(data_dir=base / "data", port=pick_free_port(), log_path=base / "apiserver.log",
                       extra_args=["--authorization-mode", "AlwaysDeny"])
    server.start()
    yield server
    server.stop()


def test_impersonation_is_authorized_and_switches_the_user(deny_all: ApiServer, kubectl):
    # system:masters may impersonate; bob, as whom the request then runs, may do nothing.
    r = kubectl("get", "pods", "-n", "default", "--as", "bob", "--as-group", "team", server=deny_all)
    assert r.returncode == 1
    assert r.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "bob" cannot list resource '
                                '"pods" in API group "" in the namespace "default": Everything is forbidden.')
    assert kubectl("get", "pods", "-n", "default", server=deny_all).returncode == 0
    # alice may not impersonate anyone. kubectl reads this server's discovery from the cache the
    # admin's call above filled (server=deny_all; the later --kubeconfig wins): with a cold cache
    # its discovery request is refused first, and kubectl 1.32 prints only "Error from server
    # (Forbidden): unknown" for that, against Kubernetes too.
    alice = deny_all.kubeconfig_for("alice")
    r = kubectl("--kubeconfig", str(alice), "get", "pods", "--as", "bob", server=deny_all)
    assert 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the ' \
           'cluster scope' in r.stderr
    with deny_all.http(timeout=10, headers={"Impersonate-Group": "team"}) as c:
        code, reason, message = status(c.get("/api/v1/namespaces"))
        assert (code, reason) == (400, "BadRequest") and "without impersonating a user" in message
    with deny_all.http(timeout=10, headers={"Impersonate-User": "system:serviceaccount:ns1:robot"}) as c:
        assert 'User "system:serviceaccount:ns1:robot" cannot list' in status(c.get("/api/v1/pods"))[2]


def test_anonymous_auth_false_makes_everything_401(apiserver_factory):
    server = apiserver_factory(extra_args=("--anonymous-auth", "false"))
    with server.http(anonymous=True, timeout=10) as anon:
        assert status(anon.get("/version")) == (401, "Unauthorized", "Unauthorized")
    with server.http(timeout=10) as admin:
        assert admin.get("/api/v1/namespaces").status_code == 200


def test_unknown_authorization_mode_is_named(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "apiserver.main", "--data-dir", str(tmp_path), "--port", "1",
                           "--authorization-mode", "AlwaysAllow,Magic"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "--authorization-mode" in proc.stderr and "Magic" in proc.stderr


def test_the_files_it_makes_are_private_and_shared_by_a_second_server(apiserver_factory, tmp_path):
    first = apiserver_factory()
    for f in [*first.pki.iterdir(), first.kubeconfig]:
        if f.is_file():
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    names = {f.name for f in first.pki.iterdir()}
    assert {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "sa.key", "sa.pub", "admin.crt", "admin.key",
            "apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"} <= names
    # A second apiserver on the same --cert-dir serves a certificate of the same CA, so the
    # first one's kubeconfig trusts it and its admin certificate is accepted there.
    second = apiserver_factory(extra_args=("--cert-dir", str(first.pki)))
    ctx = ssl.create_default_context(cafile=str(first.ca_file))
    ctx.load_cert_chain(str(first.pki / "admin.crt"), str(first.pki / "admin.key"))
    with httpx.Client(base_url=second.url, verify=ctx, timeout=10) as c:
        assert c.get("/api/v1/namespaces/default").status_code == 200


def test_a_serviceaccount_token_authenticates_as_the_account(apiserver_process, api_http):
    # The bearer-token link of the chain asks the apiserver's token authenticators.
    ns = f"sa-{uuid.uuid4().hex[:6]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    assert api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "robot"}}).status_code == 201
    r = api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts/robot/token",
                      json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert r.status_code == 201, r.text
    token = r.json()["status"]["token"]
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    with apiserver_process.http(anonymous=True, timeout=10, headers={"Authorization": f"Bearer {token}"}) as c:
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=review)
        assert r.status_code == 201, r.text
        info = r.json()["status"]["userInfo"]
        assert info["username"] == f"system:serviceaccount:{ns}:robot"
        assert {"system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"} <= set(info["groups"])
    with apiserver_process.http(anonymous=True, timeout=10, headers={"Authorization": f"Bearer {token[:-4]}xxxx"}) as c:
        assert status(c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=review))[0] == 401
    api_http.delete(f"/api/v1/namespaces/{ns}")
