"""Authorization attributes from method, path and query (Kubernetes' RequestInfoFactory), the
authorizer chain, and how a refusal is worded."""

from __future__ import annotations

import pytest

from apiserver.auth import authorize, requestinfo
from apiserver.auth.attributes import Decision
from apiserver.auth.user import ANONYMOUS_USER, UserInfo

ALICE = UserInfo(name="alice", groups=("dev", "system:authenticated"))
ADMIN = UserInfo(name="root", groups=("system:masters", "system:authenticated"))


@pytest.mark.parametrize("method, path, query, want", [
    ("GET", "/api/v1/namespaces/ns1/pods/web", b"", ("get", "ns1", "", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/ns1/pods", b"", ("list", "ns1", "", "pods", "", "")),
    ("GET", "/api/v1/pods", b"watch=true", ("watch", "", "", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns1/pods/web", b"", ("watch", "ns1", "", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/ns1/pods", b"fieldSelector=metadata.name%3Dweb", ("list", "ns1", "", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/ns1/pods", b"fieldSelector=metadata.name!%3Dweb", ("list", "ns1", "", "pods", "", "")),
    ("POST", "/apis/apps/v1/namespaces/ns1/deployments", b"", ("create", "ns1", "apps", "deployments", "", "")),
    ("PUT", "/apis/apps/v1/namespaces/ns1/deployments/d/scale", b"", ("update", "ns1", "apps", "deployments", "scale", "d")),
    ("PATCH", "/api/v1/nodes/n1/status", b"", ("patch", "", "", "nodes", "status", "n1")),
    ("DELETE", "/api/v1/namespaces/ns1/configmaps", b"", ("deletecollection", "ns1", "", "configmaps", "", "")),
    ("DELETE", "/api/v1/namespaces/ns1/configmaps/c", b"", ("delete", "ns1", "", "configmaps", "", "c")),
    # A namespace is in itself; its status and finalize are its subresources.
    ("GET", "/api/v1/namespaces/ns1", b"", ("get", "ns1", "", "namespaces", "", "ns1")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", b"", ("update", "ns1", "", "namespaces", "finalize", "ns1")),
    ("GET", "/api/v1/namespaces", b"", ("list", "", "", "namespaces", "", "")),
    ("POST", "/api/v1/namespaces/ns1/pods/web/exec", b"command=ls", ("create", "ns1", "", "pods", "exec", "web")),
])
def test_resource_requests(method, path, query, want):
    a = requestinfo.attributes(ALICE, method, path, query)
    assert a.resource_request
    assert (a.verb, a.namespace, a.api_group, a.resource, a.subresource, a.name) == want


@pytest.mark.parametrize("method, path", [
    ("GET", "/api"), ("GET", "/api/v1"), ("GET", "/apis"), ("GET", "/apis/apps"), ("GET", "/apis/apps/v1"),
    ("GET", "/healthz"), ("GET", "/openapi/v3/apis/apps/v1"), ("POST", "/version"),
])
def test_non_resource_requests(method, path):
    a = requestinfo.attributes(ALICE, method, path)
    assert not a.resource_request and a.verb == method.lower() and a.path == path


def test_chain_masters_public_paths_then_modes():
    chain = authorize.build(["AlwaysAllow"], server=None)
    anon_health = requestinfo.attributes(ANONYMOUS_USER, "GET", "/healthz")
    anon_pods = requestinfo.attributes(ANONYMOUS_USER, "GET", "/api/v1/pods")
    assert chain.authorize(anon_health).decision is Decision.ALLOW
    assert chain.authorize(requestinfo.attributes(ANONYMOUS_USER, "GET", "/apis/apps/v1")).decision is Decision.ALLOW
    assert chain.authorize(requestinfo.attributes(ANONYMOUS_USER, "POST", "/healthz")).decision is not Decision.ALLOW
    assert chain.authorize(anon_pods).decision is not Decision.ALLOW
    assert chain.authorize(requestinfo.attributes(ALICE, "GET", "/api/v1/pods")).decision is Decision.ALLOW
    deny = authorize.build(["AlwaysDeny"], server=None)
    assert deny.authorize(requestinfo.attributes(ALICE, "GET", "/api/v1/pods")).decision is Decision.DENY
    assert deny.authorize(requestinfo.attributes(ADMIN, "DELETE", "/api/v1/nodes/x")).decision is Decision.ALLOW
    assert deny.authorize(anon_health).decision is Decision.ALLOW


def test_registered_modes_are_built_in_order():
    seen = []

    class Recorder:
        def authorize(self, attrs):
            seen.append(attrs.verb)
            return authorize.NO_OPINION

    authorize.register_mode("TestRecorder", lambda server: Recorder())
    try:
        chain = authorize.build(["TestRecorder", "AlwaysAllow"], server=None)
        assert chain.authorize(requestinfo.attributes(ALICE, "GET", "/api/v1/pods")).decision is Decision.ALLOW
        assert seen == ["list"]
    finally:
        del authorize.MODES["TestRecorder"]


def test_forbidden_messages_are_kubernetes_words():
    m = authorize.forbidden_message
    assert m(requestinfo.attributes(ANONYMOUS_USER, "GET", "/api/v1/namespaces/default/pods")) == (
        'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
        'in the namespace "default"')
    assert m(requestinfo.attributes(ALICE, "DELETE", "/apis/apps/v1/namespaces/a/deployments/web")) == (
        'deployments.apps "web" is forbidden: User "alice" cannot delete resource "deployments" in API group '
        '"apps" in the namespace "a"')
    assert m(requestinfo.attributes(ALICE, "GET", "/api/v1/nodes/n1/proxy")) == (
        'nodes "n1" is forbidden: User "alice" cannot get resource "nodes/proxy" in API group "" '
        'at the cluster scope')
    assert m(requestinfo.attributes(ALICE, "GET", "/metrics"), "no RBAC policy matched") == (
        'forbidden: User "alice" cannot get path "/metrics": no RBAC policy matched')
