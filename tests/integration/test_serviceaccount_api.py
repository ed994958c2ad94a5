"""ServiceAccounts and the TokenRequest API through the real apiserver and the real kubectl:
``kubectl create serviceaccount`` (a protobuf body), ``get sa`` columns, ``kubectl create
token --duration`` and its JWT (claims, signature by the apiserver's ``sa.key``), bound
tokens, and bad requests answered with Kubernetes' messages."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization


@pytest.fixture
def ns(kubectl) -> str:
    name = "sa" + uuid.uuid4().hex[:6]
    assert kubectl("create", "namespace", name).returncode == 0
    return name


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_create_get_and_token(kubectl, apiserver_process, ns: str) -> None:
    out = kubectl("create", "serviceaccount", "robot", "-n", ns)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "serviceaccount/robot created"
    table = kubectl("get", "sa", "robot", "-n", ns)
    assert table.stdout.split("\n")[0].split() == ["NAME", "SECRETS", "AGE"]
    assert table.stdout.split("\n")[1].split()[:2] == ["robot", "0"]
    sa = json.loads(kubectl("get", "serviceaccount", "robot", "-n", ns, "-o", "json").stdout)

    before = int(time.time())
    out = kubectl("create", "token", "robot", "-n", ns, "--duration", "20m")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["kubernetes.io"] == {"namespace": ns, "serviceaccount": {"name": "robot", "uid": sa["metadata"]["uid"]}}
    assert claims["exp"] - claims["iat"] == 1200 and claims["iat"] >= before - 1
    # signed by the key under <data-dir>/pki, with Kubernetes' kid
    pub = serialization.load_pem_public_key((apiserver_process.data_dir / "pki" / "sa.pub").read_bytes())
    jwt.decode(token, pub, algorithms=["RS256"], audience=claims["aud"])
    assert (apiserver_process.data_dir / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600

    out = kubectl("create", "token", "robot", "-n", ns, "--audience", "vault", "--duration", "1h")
    assert _claims(out.stdout.strip())["aud"] == ["vault"]


def test_token_request_answers(api_http, ns: str) -> None:
    assert api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts",
                         json={"metadata": {"name": "app"}}).status_code == 201
    url = f"/api/v1/namespaces/{ns}/serviceaccounts/app/token"
    r = api_http.post(url, json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "TokenRequest" and body["metadata"]["name"] == "app"
    assert body["spec"]["expirationSeconds"] == 3600
    assert body["status"]["token"].count(".") == 2 and body["status"]["expirationTimestamp"].endswith("Z")

    r = api_http.post(url, json={"spec": {"expirationSeconds": 60}})
    assert r.status_code == 422
    assert r.json()["message"] == ('TokenRequest.authentication.k8s.io "app" is invalid: spec.expirationSeconds: '
                                   'Invalid value: 60: may not specify a duration less than 10 minutes')
    r = api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts/nobody/token", json={"spec": {}})
    assert r.status_code == 404 and r.json()["message"] == 'serviceaccounts "nobody" not found'
    r = api_http.post(url, json={"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}})
    assert r.status_code == 400 and r.json()["message"] == "cannot bind token to object of type /v1, Kind=ConfigMap"
    r = api_http.post(url, json={"spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "gone"}}})
    assert r.status_code == 404 and r.json()["message"] == 'secrets "gone" not found'


def test_bound_to_pod_and_secret(api_http, ns: str) -> None:
    assert api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts",
                         json={"metadata": {"name": "app"}}).status_code == 201
    pod = {"metadata": {"name": "p"}, "spec": {"serviceAccountName": "app",
                                                "containers": [{"name": "c", "image": "busybox"}]}}
    r = api_http.post(f"/api/v1/namespaces/{ns}/pods", json=pod)
    assert r.status_code == 201, r.text
    pod_uid = r.json()["metadata"]["uid"]
    url = f"/api/v1/namespaces/{ns}/serviceaccounts/app/token"
    r = api_http.post(url, json={"spec": {"expirationSeconds": 3607,
                                          "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}})
    assert r.status_code == 201, r.text
    claims = _claims(r.json()["status"]["token"])
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": pod_uid}
    # the kubelet's 3607 s token for a pod lives a year, warns after 3607 s; status says 3607 s
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607

    r = api_http.post(url, json={"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                             "uid": "not-the-uid"}}})
    assert r.status_code == 409 and "does not match the UID in record" in r.json()["message"]

    assert api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts",
                         json={"metadata": {"name": "other"}}).status_code == 201
    r = api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts/other/token",
                      json={"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p"}}})
    assert r.status_code == 400
    assert r.json()["message"] == ('cannot bind token for serviceaccount "other" to pod running with different '
                                   'serviceaccount name.')

    r = api_http.post(f"/api/v1/namespaces/{ns}/secrets", json={"metadata": {"name": "s"}})
    r = api_http.post(url, json={"spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s"}}})
    assert r.status_code == 201
    assert _claims(r.json()["status"]["token"])["kubernetes.io"]["secret"]["name"] == "s"


def test_discovery_lists_serviceaccounts(kubectl) -> None:
    out = kubectl("api-resources", "--api-group=")
    line = next(x for x in out.stdout.splitlines() if x.startswith("serviceaccounts"))
    assert line.split() == ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"]
    explain = kubectl("explain", "serviceaccount.automountServiceAccountToken")
    assert explain.returncode == 0, explain.stderr


def test_token_review(api_http, kubectl, ns: str) -> None:
    assert api_http.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "app"}}).status_code == 201
    sa_uid = api_http.get(f"/api/v1/namespaces/{ns}/serviceaccounts/app").json()["metadata"]["uid"]
    token = kubectl("create", "token", "app", "-n", ns).stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    r = api_http.post("/apis/authentication.k8s.io/v1/tokenreviews", json=review)
    assert r.status_code == 201, r.text
    status = r.json()["status"]
    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{ns}:app" and status["user"]["uid"] == sa_uid
    assert status["user"]["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    assert status["user"]["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("JTI=")
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]

    # another audience than the token's
    r = api_http.post("/apis/authentication.k8s.io/v1/tokenreviews",
                      json={**review, "spec": {"token": token, "audiences": ["vault"]}})
    assert r.json()["status"]["authenticated"] is False and "audiences" in r.json()["status"]["error"]
    # the account is deleted: its tokens stop working at once
    assert api_http.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/app").status_code == 200
    r = api_http.post("/apis/authentication.k8s.io/v1/tokenreviews", json=review)
    assert r.json()["status"] == {"authenticated": False, "user": {},
                                  "error": f"[invalid bearer token, ServiceAccount {ns}/app has been deleted]"}
    # not a token of ours at all; no token
    r = api_http.post("/apis/authentication.k8s.io/v1/tokenreviews", json={**review, "spec": {"token": "abc"}})
    assert r.json()["status"]["authenticated"] is False
    r = api_http.post("/apis/authentication.k8s.io/v1/tokenreviews", json={**review, "spec": {}})
    assert r.status_code == 400 and r.json()["message"] == "token is required for TokenReview in authentication"
