"""The node API's authorization through SubjectAccessReview against the real apiserver: the
request maps to ``nodes/<subresource>`` of the node, answers follow RBAC bindings, and are
cached (allowed 5 minutes, denied 30 seconds)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from kubelet.authz import Caller, SubjectAccessReviewAuthorizer, attributes
from minik8s.api.resources import CLUSTERROLEBINDINGS


@pytest.mark.parametrize(("method", "path", "want"), [
    ("GET", "/containerLogs/default/p/c", ("get", "proxy")),
    ("POST", "/exec/default/p/c", ("create", "proxy")),
    ("GET", "/pods", ("get", "proxy")),
    ("GET", "/stats/summary", ("get", "stats")),
    ("GET", "/stats", ("get", "stats")),
    ("GET", "/statsx", ("get", "proxy")),
    ("GET", "/metrics/cadvisor", ("get", "metrics")),
    ("GET", "/logs/syslog", ("get", "log")),
    ("GET", "/spec/", ("get", "spec")),
    ("DELETE", "/pods", ("delete", "proxy")),
])
def test_paths_map_to_node_subresources(method: str, path: str, want: tuple[str, str]) -> None:
    assert attributes(method, path) == want


def test_answers_follow_bindings_and_are_cached(apiserver_process: Any) -> None:
    user = f"ops-{uuid.uuid4().hex[:6]}"
    now = [0.0]

    async def go() -> None:
        async with apiserver_process.client() as client:
            authz = SubjectAccessReviewAuthorizer(client, "node-a", clock=lambda: now[0])
            caller = Caller(user, ("system:authenticated",))
            refused = await authz.authorize(caller, "GET", "/containerLogs/default/p/c")
            assert not refused.allowed
            assert refused.message == f"Forbidden (user={user}, verb=get, resource=nodes, subresource=proxy)"
            await client.create(CLUSTERROLEBINDINGS, {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": user},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "system:kubelet-api-admin"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
            # the refusal is remembered for 30 seconds, then asked again
            assert not (await authz.authorize(caller, "GET", "/containerLogs/default/p/c")).allowed
            now[0] += 31
            assert (await authz.authorize(caller, "GET", "/containerLogs/default/p/c")).allowed
            assert (await authz.authorize(caller, "GET", "/stats/summary")).allowed
            masters = Caller("root", ("system:masters",))
            assert (await authz.authorize(masters, "POST", "/exec/default/p/c")).allowed
            await client.delete(CLUSTERROLEBINDINGS, user)

    asyncio.run(go())
