"""The remaining verbs beside the real kubectl: cordon/uncordon/drain, config, explain,
api-resources, version, cluster-info, and ``mkctl service NAME --url``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid

import pytest
import yaml

from minik8s.api.resources import NODES, PODS
from tests.conftest import ApiServer
from tests.integration.mkctl_harness import mk, ns, run_mkctl, same  # noqa: F401 - fixtures


@pytest.fixture
def node(apiserver_process) -> str:
    return _make_node(apiserver_process)


def _make_node(server: ApiServer) -> str:
    name = f"mk-node-{uuid.uuid4().hex[:6]}"

    async def make() -> None:
        async with server.client() as c:
            await c.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
            n = await c.get(NODES, name)
            n["status"] = {"addresses": [{"type": "InternalIP", "address": "10.9.8.7"}],
                           "conditions": [{"type": "Ready", "status": "True"}]}
            await c.update_status(NODES, n)

    asyncio.run(make())
    return name


def _pods_on(server: ApiServer, ns: str, node: str, pods: list[dict]) -> None:
    async def make() -> None:
        async with server.client() as c:
            for p in pods:
                meta = {"name": p["name"], "namespace": ns}
                if "owner" in p:
                    meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": p["owner"], "name": "o",
                                                "uid": str(uuid.uuid4()), "controller": True}]
                spec = {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}
                if p.get("emptydir"):
                    spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
                await c.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}, namespace=ns)

    asyncio.run(make())


def test_cordon_uncordon_match_kubectl(mk, kubectl, node: str) -> None:
    assert mk("cordon", node).ok() == f"node/{node} cordoned\n"
    same(mk, kubectl, "cordon", node)
    assert kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    assert mk("uncordon", node).ok() == f"node/{node} uncordoned\n"
    same(mk, kubectl, "uncordon", node)
    same(mk, kubectl, "cordon", "nope")


def test_drain_refuses_then_evicts(apiserver_process, mk, kubectl, node: str, ns: str) -> None:
    _pods_on(apiserver_process, ns, node, [{"name": "bare"}, {"name": "managed", "owner": "ReplicaSet"},
                                   {"name": "ds", "owner": "DaemonSet"},
                                   {"name": "scratch", "owner": "ReplicaSet", "emptydir": True}])
    r = mk("drain", node, "--grace-period=0")
    k = kubectl("drain", node, "--grace-period=0")
    assert (r.code, r.out) == (1, f"node/{node} cordoned\n")
    assert (k.returncode, k.stdout) == (1, f"node/{node} already cordoned\n")
    # kubectl groups errors in a Go map: compare them as sets
    head = f'error: unable to drain node "{node}" due to error: ['
    assert r.err.startswith(head) and k.stderr.startswith(head)
    assert set(r.err.splitlines()[3:]) == set(k.stderr.splitlines()[3:]) == {
        f"cannot delete cannot delete Pods that declare no controller (use --force to override): {ns}/bare",
        f'cannot delete daemonsets.apps "o" not found: {ns}/ds',
        f"cannot delete Pods with local storage (use --delete-emptydir-data to override): {ns}/scratch"}
    assert r.err.splitlines()[1:3] == k.stderr.splitlines()[1:3] == ["There are pending nodes to be drained:",
                                                                     f" {node}"]
    r = mk("drain", node, "--grace-period=0", "--force", "--ignore-daemonsets", "--delete-emptydir-data")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == f"node/{node} already cordoned" and lines[-1] == f"node/{node} drained"
    # the DaemonSet named by the owner reference does not exist: --force takes its pod too, as kubectl does
    evicted = ("bare", "managed", "ds", "scratch")
    assert sorted(lines[1:-1]) == sorted([f"evicting pod {ns}/{p}" for p in evicted] +
                                         [f"pod/{p} evicted" for p in evicted])
    # kubectl keeps only each pod's last filter verdict: the owned pods' earlier warnings vanish
    assert r.err == f"Warning: deleting Pods that declare no controller: {ns}/bare\n"
    assert json.loads(kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"] == []




def test_service_url_prints_node_ip_and_node_port(apiserver_factory, kubectl) -> None:
    server = apiserver_factory()  # its own apiserver: the only node is the one made here
    _make_node(server)

    def m(*args: str):
        return run_mkctl(*args, kubeconfig=str(server.kubeconfig))

    assert m("create", "deployment", "web", "--image=nginx", "--port=80").ok() == "deployment.apps/web created\n"
    assert m("expose", "deployment", "web", "--type=NodePort").ok() == "service/web exposed\n"
    port = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}", server=server).stdout
    assert m("service", "web", "--url").ok() == f"http://10.9.8.7:{port}\n"
    assert kubectl("create", "service", "clusterip", "plain", "--tcp=80:80", server=server).returncode == 0
    r = m("service", "plain", "--url")
    assert (r.code, r.err) == (1, 'error: service "plain" in namespace "default" has no node port\n')


@pytest.mark.parametrize("args", [
    ["explain", "pods"], ["explain", "pods.spec.containers"], ["explain", "deploy.spec.replicas"],
    ["explain", "svc.spec"], ["explain", "pods.metadata.labels"], ["explain", "pods.spec.nope"],
    ["explain", "widgets"], ["api-resources"], ["api-resources", "-o", "wide"], ["api-resources", "-o", "name"],
    ["api-resources", "--namespaced=false"], ["api-resources", "--api-group=apps"], ["cluster-info"],
])
def test_discovery_verbs_match_kubectl(mk, kubectl, args: list[str]) -> None:
    same(mk, kubectl, *args)


def test_version(mk) -> None:
    out = mk("version").ok().splitlines()
    assert out[0].startswith("Client Version: v1.32") and out[1].startswith("Server Version: v1.32")
    data = json.loads(mk("version", "-o", "json").ok())
    assert data["serverVersion"]["major"] == "1" and "clientVersion" in data
    assert run_mkctl("version", "--client").ok().startswith("Client Version: ")


@pytest.fixture
def kubeconfig(tmp_path, apiserver_process):
    """Two identical kubeconfig files, one for each CLI to edit; context minik8s reaches the
    session apiserver with the harness' credentials."""
    harness = yaml.safe_load(apiserver_process.kubeconfig.read_text())
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": "minik8s",
        "clusters": [{"name": "minik8s", "cluster": harness["clusters"][0]["cluster"]},
                     {"name": "other", "cluster": {"server": "https://10.0.0.1:6443",
                                                   "certificate-authority-data": "Q0EK"}}],
        "users": [{"name": "minik8s", "user": harness["users"][0]["user"]}, {"name": "admin", "user": {
            "client-certificate-data": "Q0VSVAo=", "client-key-data": "S0VZCg=="}}],
        "contexts": [{"name": "minik8s", "context": {"cluster": "minik8s", "user": "minik8s", "namespace": "default"}},
                     {"name": "prod", "context": {"cluster": "other", "user": "admin"}}],
    }
    paths = []
    for who in ("mk", "k"):
        p = tmp_path / f"{who}.yaml"
        p.write_text(yaml.safe_dump(doc))
        paths.append(str(p))
    return paths


def _kubectl_config(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    return subprocess.run([kubectl, "--kubeconfig", path, "config", *args], capture_output=True, text=True,
                          env={**os.environ, "HOME": os.path.dirname(path)})


@pytest.mark.parametrize("args", [
    ["view"], ["view", "--minify"], ["view", "--raw"], ["view", "-o", "json"], ["get-contexts"],
    ["get-contexts", "prod"], ["get-contexts", "-o", "name"], ["get-contexts", "nope"], ["current-context"],
    ["use-context", "prod"], ["use-context", "nope"], ["set-context", "--current", "--namespace=team-a"],
    ["set-context", "new", "--cluster=other", "--user=admin"], ["view", "--context=prod", "--minify"],
])
def test_config_verbs_match_kubectl(kubeconfig, args: list[str]) -> None:
    mine, theirs = kubeconfig
    m = run_mkctl("--kubeconfig", mine, "config", *args)
    k = _kubectl_config(theirs, *args)
    assert (m.code, m.out, m.err) == (k.returncode, k.stdout.replace(theirs, mine), k.stderr.replace(theirs, mine))
    # what each wrote reads back the same
    m2 = run_mkctl("--kubeconfig", mine, "config", "view", "--raw")
    k2 = _kubectl_config(theirs, "view", "--raw")
    assert m2.out == k2.stdout


def test_kubeconfig_context_namespace_is_used(kubeconfig, kubectl, ns: str) -> None:
    mine, _ = kubeconfig
    run_mkctl("--kubeconfig", mine, "config", "set-context", "--current", f"--namespace={ns}").ok()
    assert run_mkctl("--kubeconfig", mine, "create", "configmap", "from-ctx").ok() == "configmap/from-ctx created\n"
    assert kubectl("get", "cm", "from-ctx", "-n", ns).returncode == 0
    r = run_mkctl("--kubeconfig", mine, "--context", "nope", "get", "pods")
    assert (r.code, r.err) == (1, "error: context was not found for specified context: nope\n")
