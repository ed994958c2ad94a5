"""The kubelet process against a real apiserver with the hollow runtime (``--runtime=fake``).

No Docker here: what is checked is the kubelet's side of the API -- Node registration and
status, the Lease heartbeat, many hollow nodes in one process, pods bound by nodeName or by
the binding subresource reaching Running with a status Kubernetes clients accept, deletion
confirmed by the kubelet, and the node HTTP API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from controllers.nodeipam import NodeIpamController
from minik8s import errors
from minik8s.api.resources import LEASES, NODES, PODS
from tests.conftest import REPO
from tests.integration.controller_harness import running
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    condition,
    container_status,
    events_for,
    is_ready,
    kubelet_factory,
    pod_manifest,
    wait_for,
    wait_pod,
)

FAKE = ("--runtime", "fake")


async def test_hollow_nodes_register_with_capacity_labels_and_taints(client, kubelet_factory) -> None:
    k = kubelet_factory(extra_args=(*FAKE, "--count", "3", "--max-pods", "50", "--system-reserved",
                                    "cpu=500m,memory=1Gi", "--node-labels", "zone=z1,tier=hollow",
                                    "--register-with-taints", "dedicated=test:NoSchedule"),
                        nodes=None, start=False)
    names = [f"{k.node}-{i}" for i in range(3)]
    k.start(nodes=names)
    for name in names:
        node = await client.get(NODES, name)
        md, status = node["metadata"], node["status"]
        assert md["labels"]["kubernetes.io/hostname"] == name
        assert md["labels"]["kubernetes.io/os"] == "linux"
        assert md["labels"]["kubernetes.io/arch"]
        assert md["labels"]["zone"] == "z1" and md["labels"]["tier"] == "hollow"
        assert node["spec"]["taints"] == [{"key": "dedicated", "value": "test", "effect": "NoSchedule"}]
        assert status["capacity"]["pods"] == "50"
        cpus = int(status["capacity"]["cpu"])
        assert status["allocatable"]["cpu"] == f"{cpus * 1000 - 500}m"
        mem_ki = int(status["capacity"]["memory"].removesuffix("Ki"))
        assert status["allocatable"]["memory"] == f"{mem_ki - 1024 * 1024}Ki"
        assert {a["type"]: a["address"] for a in status["addresses"]} == {"InternalIP": "127.0.0.1", "Hostname": name}
        conds = {c["type"]: c for c in status["conditions"]}
        assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
        for pressure in ("MemoryPressure", "DiskPressure", "PIDPressure"):
            assert conds[pressure]["status"] == "False"
            assert conds[pressure]["lastHeartbeatTime"] and conds[pressure]["lastTransitionTime"]
        assert status["nodeInfo"]["kubeletVersion"] == "v1.32.0-minik8s"
        assert status["nodeInfo"]["containerRuntimeVersion"].startswith("fake://")
        assert status["nodeInfo"]["operatingSystem"] == "linux" and status["nodeInfo"]["kernelVersion"]
        assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == k.port


async def test_lease_is_renewed(client, kubelet_factory) -> None:
    k = kubelet_factory(extra_args=FAKE)

    async def lease() -> dict | None:
        try:
            return await client.get(LEASES, k.node, namespace="kube-node-lease")
        except errors.NotFound:
            return None
    first: dict = {}

    async def exists() -> bool:
        nonlocal first
        first = await lease() or {}
        return bool(first)
    await wait_for(exists, what="lease created")
    assert first["spec"]["holderIdentity"] == k.node
    assert first["spec"]["leaseDurationSeconds"] == 40
    assert first["metadata"]["ownerReferences"][0]["kind"] == "Node"

    async def renewed() -> bool:
        now = await lease()
        return now is not None and now["spec"]["renewTime"] != first["spec"]["renewTime"]
    await wait_for(renewed, what="lease renewed", timeout=30)


@pytest.fixture
async def node_ipam(client) -> AsyncIterator[None]:
    """The node IPAM controller, in-process: hollow nodes get podCIDRs, their pods IPs from them."""
    async with running(client, lambda f: NodeIpamController(client, f)):
        yield


async def test_a_hollow_node_without_a_podcidr_holds_its_pods(client, namespace, kubelet_factory) -> None:
    k = kubelet_factory(extra_args=FAKE)
    await client.create(PODS, pod_manifest("waiting", k.node, [{"name": "a"}]), namespace=namespace)

    async def network_not_ready() -> bool:
        return any(e["reason"] == "NetworkNotReady" for e in await events_for(client, namespace, "waiting"))
    await wait_for(network_not_ready, what="a NetworkNotReady event")
    pod = await client.get(PODS, "waiting", namespace=namespace)
    assert not pod["status"].get("podIP")
    assert container_status(pod, "a")["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ev = next(e for e in await events_for(client, namespace, "waiting") if e["reason"] == "NetworkNotReady")
    assert ev["type"] == "Warning" and f"node {k.node} has no podCIDR yet" in ev["message"]
    assert ev["message"].startswith("network is not ready: container runtime network not ready")

    # Node IPAM gives the node its block: the pod starts with an address from it.
    async with running(client, lambda f: NodeIpamController(client, f)):
        pod = await wait_pod(client, namespace, "waiting", is_ready, what="Ready", kubelet=k)
    cidr = (await client.get(NODES, k.node))["spec"]["podCIDR"]
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(cidr)


async def test_pods_run_on_hollow_nodes_and_deletion_is_confirmed(client, namespace, kubelet_factory,
                                                                  node_ipam) -> None:
    k = kubelet_factory(extra_args=(*FAKE, "--count", "2"), start=False)
    k.start(nodes=[f"{k.node}-0", f"{k.node}-1"])
    await client.create(PODS, pod_manifest("bound", f"{k.node}-1", [{"name": "a"}]), namespace=namespace)
    # Unbound, then bound through the binding subresource, as a scheduler does.
    unbound = pod_manifest("later", "", [{"name": "a"}])
    del unbound["spec"]["nodeName"]
    await client.create(PODS, unbound, namespace=namespace)
    await client.create_subresource(PODS, "later", "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "later"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": f"{k.node}-0"}}, namespace=namespace)
    for name in ("bound", "later"):
        pod = await wait_pod(client, namespace, name, is_ready, what="Ready", kubelet=k)
        status = pod["status"]
        assert status["phase"] == "Running"
        cidr = (await client.get(NODES, pod["spec"]["nodeName"]))["spec"]["podCIDR"]
        assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network(cidr)
        assert status["podIPs"] == [{"ip": status["podIP"]}] and status["hostIP"] == "127.0.0.1"
        assert {c["type"] for c in status["conditions"]} >= {"PodScheduled", "Initialized", "ContainersReady", "Ready"}
        cs = container_status(pod, "a")
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and cs["imageID"] and cs["containerID"]
        assert status["startTime"] and status["qosClass"] == "BestEffort"

    with k.http() as node_api:
        r = node_api.get("/pods")
        assert {p["metadata"]["name"] for p in r.json()["items"]} >= {"bound", "later"}
        assert node_api.get("/healthz").text == "ok"
    # The node API answers only callers with a client certificate of the cluster CA.
    with k.http(anonymous=True) as anonymous:
        for path in ("/pods", "/healthz", f"/containerLogs/{namespace}/bound/a"):
            r = anonymous.get(path)
            assert (r.status_code, r.text) == (401, "Unauthorized"), path

    await client.delete(PODS, "bound", namespace=namespace)

    async def gone() -> bool:
        try:
            await client.get(PODS, "bound", namespace=namespace)
            return False
        except errors.NotFound:
            return True
    await wait_for(gone, what="deletion confirmed by the kubelet")


async def test_status_is_not_rewritten_when_nothing_changed(client, namespace, kubelet_factory, node_ipam) -> None:
    k = kubelet_factory(extra_args=(*FAKE, "--sync-frequency", "1"))
    await client.create(PODS, pod_manifest("idle", k.node, [{"name": "a"}]), namespace=namespace)
    ready = await wait_pod(client, namespace, "idle", is_ready, what="Ready", kubelet=k)
    rv = ready["metadata"]["resourceVersion"]
    # Several one-second resyncs pass; none may write an identical status again.
    watch = client.watch(PODS, namespace=namespace, resource_version=rv, timeout_seconds=3)
    events = [ev async for ev in watch if ev.type != "BOOKMARK"]
    assert events == []


def test_conflicting_flags_are_rejected_by_name() -> None:
    proc = subprocess.run([sys.executable, "-m", "kubelet.main", "--apiserver", "http://127.0.0.1:1",
                           "--count", "3"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--count needs --runtime=fake" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "kubelet.main", "--apiserver", "http://127.0.0.1:1",
                           "--system-reserved", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--system-reserved" in proc.stderr


async def test_unreachable_apiserver_is_reported_once(tmp_path) -> None:
    from tests.conftest import pick_free_port
    log = tmp_path / "kubelet.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kubelet.main", "--apiserver",
                                 f"http://127.0.0.1:{pick_free_port()}", "--runtime", "fake", "--node-name", "lonely",
                                 "--port", str(pick_free_port()), "--root-dir", str(tmp_path)],
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        # First the report (start-up may be slow on a loaded machine), then several retries
        # with backoff (0.5 s, 1 s, 2 s...) that must not repeat it.
        await wait_for(lambda: asyncio.sleep(0, "cannot reach the apiserver" in log.read_text()),
                       what="the unreachable apiserver reported", timeout=30)
        await asyncio.sleep(4)
        assert proc.poll() is None  # still trying, not crashed
    finally:
        proc.terminate()
        proc.wait(10)
    text = log.read_text()
    assert text.count("cannot reach the apiserver") == 1
    assert "Traceback" not in text


async def test_a_graceful_delete_publishes_ready_false_before_the_pod_goes(
        client, namespace, kubelet_factory, node_ipam, kubectl) -> None:
    k = kubelet_factory(extra_args=FAKE)
    for name in ("leaving", "held"):
        pod = pod_manifest(name, k.node, [{"name": "a"}, {"name": "b"}], terminationGracePeriodSeconds=30)
        if name == "held":  # kept in the API after the kubelet is done, for kubectl wait to read
            pod["metadata"]["finalizers"] = ["test.minik8s.io/hold"]
        await client.create(PODS, pod, namespace=namespace)
    for name in ("leaving", "held"):
        ready = await wait_pod(client, namespace, name, is_ready, what="Ready", kubelet=k)
    rv = ready["metadata"]["resourceVersion"]

    # The watch of a plain graceful delete: Ready=False, containers terminated, then DELETED.
    await client.delete(PODS, "leaving", namespace=namespace)
    seen: list[tuple[str, str | None, str | None]] = []
    async for ev in client.watch(PODS, namespace=namespace, resource_version=rv,
                                 field_selector="metadata.name=leaving", timeout_seconds=30):
        if ev.type in ("MODIFIED", "DELETED"):
            seen.append((ev.type, condition(ev.object, "Ready"), (ev.object.get("status") or {}).get("phase")))
            if ev.type == "DELETED":
                last = ev.object
                break
    assert seen[-1][0] == "DELETED", seen
    assert ("MODIFIED", "False", "Failed") in seen[:-1], seen
    first_false = next(i for i, s in enumerate(seen) if s[1] == "False")
    assert all(s[1] == "False" for s in seen[first_false:]), seen
    for name in ("a", "b"):
        term = container_status(last, name)["state"]["terminated"]
        assert term["exitCode"] == 143 and term["reason"] == "Error"
        assert not container_status(last, name)["ready"]

    # kubectl wait --for=condition=Ready=false returns once the kubelet has stopped the pod.
    await client.delete(PODS, "held", namespace=namespace)
    r = await asyncio.to_thread(kubectl, "wait", "-n", namespace, "--for=condition=Ready=false", "pod/held",
                                "--timeout=30s")
    assert r.returncode == 0, r.stderr
    assert "condition met" in r.stdout
    await client.patch(PODS, "held", {"metadata": {"finalizers": None}}, namespace=namespace)


async def test_a_one_container_pods_teardown_is_written_once(client, namespace, kubelet_factory, node_ipam) -> None:
    """The last container's stop needs no status write of its own: the final one (terminated,
    not ready, the terminal phase) follows at once. Between the delete and DELETED the pod
    changes twice: the deletion's timestamp, the kubelet's one terminating status."""
    k = kubelet_factory(extra_args=FAKE)
    await client.create(PODS, pod_manifest("single", k.node, [{"name": "a"}], terminationGracePeriodSeconds=30),
                        namespace=namespace)
    ready = await wait_pod(client, namespace, "single", is_ready, what="Ready", kubelet=k)
    await client.delete(PODS, "single", namespace=namespace)
    seen: list[tuple[str, str | None, str | None]] = []
    async for ev in client.watch(PODS, namespace=namespace, resource_version=ready["metadata"]["resourceVersion"],
                                 field_selector="metadata.name=single", timeout_seconds=30):
        seen.append((ev.type, condition(ev.object, "Ready"), (ev.object.get("status") or {}).get("phase")))
        if ev.type == "DELETED":
            break
    assert seen == [("MODIFIED", "True", "Running"), ("MODIFIED", "False", "Failed"), ("DELETED", "False", "Failed")], seen


async def test_the_node_api_listens_on_the_node_ip_only(kubelet_factory) -> None:
    k = kubelet_factory(extra_args=FAKE)  # InternalIP 127.0.0.1
    with socket.create_connection(("127.0.0.1", k.port), timeout=5):
        pass
    # Another address of this host (the loopback network's 127.0.0.2) is not listened on.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", k.port), timeout=5).close()


async def test_webhook_mode_asks_the_apiserver_who_may_use_the_node_api(kubelet_factory, apiserver_process,
                                                                         kubectl, tmp_path) -> None:
    from minik8s import pki
    k = kubelet_factory(extra_args=(*FAKE, "--authorization-mode", "Webhook"))
    ca = pki.ensure_ca(apiserver_process.pki)
    alice = pki.ensure_client_cert(ca, tmp_path, "alice", "alice")
    bob = pki.ensure_client_cert(ca, tmp_path, "bob", "bob", ["node-readers"])
    role = f"node-proxy-{k.node}"
    assert kubectl("create", "clusterrole", role, "--verb=get", "--resource=nodes/proxy").returncode == 0
    assert kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}",
                   "--group=node-readers").returncode == 0
    try:
        with k.http() as apiserver_like:  # kube-apiserver-kubelet-client, system:masters
            assert apiserver_like.get("/pods").status_code == 200
        with k.http(client_cert=(alice.cert_path, alice.key_path)) as as_alice:
            r = as_alice.get("/pods")
            assert (r.status_code, r.text) == (403, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)")
        with k.http(client_cert=(bob.cert_path, bob.key_path)) as as_bob:
            assert as_bob.get("/pods").status_code == 200  # nodes/proxy get, through his group
            assert as_bob.post("/exec/ns/p/c?command=id&output=1").status_code == 403  # no create
    finally:
        kubectl("delete", "clusterrolebinding", role)
        kubectl("delete", "clusterrole", role)
