"""Bootstrap tokens on a real apiserver, asked through TokenReview: a token Secret in
kube-system authenticates as system:bootstrap:<id> in system:bootstrappers (and its extra
groups); a wrong secret, an expired token, one not for authentication, or a deleted Secret
does not."""

from __future__ import annotations

import datetime

import pytest

from minik8s.api import bootstraptoken as bt

REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SECRETS = "/api/v1/namespaces/kube-system/secrets"


@pytest.fixture
def api_http(apiserver_factory):
    """An apiserver of the test's own, with bootstrap tokens accepted (off by default)."""
    with apiserver_factory(extra_args=("--enable-bootstrap-token-auth",)).http() as http:
        yield http


def _review(http, token: str) -> dict:
    r = http.post(REVIEWS, json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                 "spec": {"token": token}})
    assert r.status_code == 201, r.text
    return r.json()["status"]


def test_bootstrap_token_authenticates(api_http) -> None:
    token = bt.new_token()
    assert bt.TOKEN_PATTERN.match(token)
    secret = bt.secret_for(token, ttl_seconds=3600, extra_groups=["system:bootstrappers:kubeadm:default-node-token"])
    assert api_http.post(SECRETS, json=secret).status_code == 201
    status = _review(api_http, token)
    assert status["authenticated"] is True
    assert status["user"] == {"username": f"system:bootstrap:{token[:6]}",
                              "groups": ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                                         "system:authenticated"]}
    # another secret for the same id
    assert _review(api_http, token[:7] + "0" * 16)["authenticated"] is False
    # deleted: refused at once
    assert api_http.delete(f"{SECRETS}/bootstrap-token-{token[:6]}").status_code == 200
    assert "no bootstrap token secret" in _review(api_http, token)["error"]


def test_refused_tokens(api_http) -> None:
    expired = bt.new_token()
    s = bt.secret_for(expired, ttl_seconds=None)
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    s["stringData"]["expiration"] = past.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api_http.post(SECRETS, json=s).status_code == 201
    assert "has expired" in _review(api_http, expired)["error"]
    signing_only = bt.new_token()
    assert api_http.post(SECRETS, json=bt.secret_for(signing_only, ttl_seconds=600, usages=["signing"])).status_code == 201
    assert "not usable for authentication" in _review(api_http, signing_only)["error"]
    bad_group = bt.new_token()
    assert api_http.post(SECRETS, json=bt.secret_for(bad_group, ttl_seconds=600,
                                                     extra_groups=["system:masters"])).status_code == 201
    assert "system:masters" in _review(api_http, bad_group)["error"]
