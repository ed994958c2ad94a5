"""FakeRuntime keeps the runtime contract a kubelet can observe, with nothing behind it."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from kubelet.runtime import interface as ri
from kubelet.runtime.fake import FakeRuntime, probe_annotation


def pod(node: str = "node-a", name: str = "web", **kw) -> ri.PodSandboxConfig:
    kw.setdefault("network", f"minik8s-{node}")
    return ri.PodSandboxConfig(pod_uid=str(uuid.uuid4()), pod_name=name, namespace="default",
                               node_name=node, **kw)


async def networked(rt: FakeRuntime, *nodes: str, prefix: int = 24) -> FakeRuntime:
    """Give each node a pod network, as the hollow kubelet does from its podCIDR."""
    for i, node in enumerate(nodes or ("node-a",)):
        subnet = ipaddress.ip_network((int(ipaddress.ip_address("10.128.0.0")) + (i << (32 - prefix)), prefix))
        await rt.ensure_pod_network(ri.PodNetworkConfig(f"minik8s-{node}", str(subnet),
                                                        str(subnet.network_address + 1), f"mk{i}"))
    return rt


async def test_pod_lifecycle_matches_the_docker_runtime_contract() -> None:
    rt = await networked(FakeRuntime())
    config = pod(labels={"app": "web"})
    sandbox_id = await rt.run_pod_sandbox(config)
    sandbox = await rt.sandbox_status(sandbox_id)
    assert sandbox.state is ri.SandboxState.READY
    assert ipaddress.ip_address(sandbox.ip) in ipaddress.ip_network("10.128.0.0/24")
    assert sandbox.ip != "10.128.0.1"  # the gateway's
    assert sandbox.labels["app"] == "web" and sandbox.labels[ri.LABEL_NODE] == "node-a"

    container_id = await rt.create_container(
        sandbox_id, ri.ContainerConfig(name="app", image="minik8s/busybox:latest", restart_count=1))
    assert (await rt.container_status(container_id)).state is ri.ContainerState.CREATED
    await rt.start_container(container_id)
    status = await rt.container_status(container_id)
    assert (status.state, status.name, status.restart_count, status.pod_uid) == (
        ri.ContainerState.RUNNING, "app", 1, config.pod_uid)
    assert status.labels[ri.LABEL_SANDBOX_ID] == sandbox_id
    # A hollow container has no process: exec and logs say so rather than pretend.
    with pytest.raises(ri.NotFoundError, match='container "app" not found: a hollow node'):
        await rt.exec_sync(container_id, ["true"])
    with pytest.raises(ri.NotFoundError, match="runs no processes to exec in"):
        await rt.exec(container_id, ["sh"])
    with pytest.raises(ri.NotFoundError, match="runs no processes to read logs of"):
        rt.logs(container_id)

    await rt.stop_pod_sandbox(sandbox_id)
    stopped = await rt.container_status(container_id)
    assert (stopped.state, stopped.exit_code, stopped.reason) == (ri.ContainerState.EXITED, 143, "Error")
    assert (await rt.sandbox_status(sandbox_id)).state is ri.SandboxState.NOT_READY
    with pytest.raises(ri.ContainerCreateError, match="not running"):
        await rt.create_container(sandbox_id, ri.ContainerConfig(name="late", image="x"))

    await rt.remove_pod_sandbox(sandbox_id)
    await rt.remove_pod_sandbox(sandbox_id)  # idempotent, as CRI asks
    with pytest.raises(ri.NotFoundError):
        await rt.container_status(container_id)
    with pytest.raises(ri.NotFoundError):
        await rt.sandbox_status(sandbox_id)
    with pytest.raises(ri.NotFoundError):
        await rt.stop_container(container_id, timeout=1)


async def test_lists_filter_by_node_pod_and_sandbox() -> None:
    rt = await networked(FakeRuntime(), "node-a", "node-b")
    a, b = pod("node-a"), pod("node-b")
    sa, sb = await rt.run_pod_sandbox(a), await rt.run_pod_sandbox(b)
    ca = await rt.create_container(sa, ri.ContainerConfig(name="app", image="i"))
    await rt.create_container(sb, ri.ContainerConfig(name="app", image="i"))

    assert [s.id for s in await rt.list_pod_sandboxes(node="node-a")] == [sa]
    assert [s.id for s in await rt.list_pod_sandboxes(pod_uid=b.pod_uid)] == [sb]
    assert len(await rt.list_pod_sandboxes()) == 2
    assert [c.id for c in await rt.list_containers(node="node-a")] == [ca]
    assert [c.id for c in await rt.list_containers(pod_uid=a.pod_uid)] == [ca]
    assert [c.id for c in await rt.list_containers(sandbox_id=sa)] == [ca]


async def test_lists_stay_right_as_sandboxes_and_containers_go() -> None:
    # What a node's relist and a pod's sync see, with many nodes in one runtime (the lists are
    # answered from per-node and per-pod indexes), in creation order, after removals.
    nodes = [f"node-{i}" for i in range(20)]
    rt = await networked(FakeRuntime(), *nodes)
    made: dict[str, list[tuple[ri.PodSandboxConfig, str, list[str]]]] = {n: [] for n in nodes}
    for round_ in range(3):
        for n in nodes:
            config = pod(n, name=f"p{round_}")
            sid = await rt.run_pod_sandbox(config)
            cids = [await rt.create_container(sid, ri.ContainerConfig(name=c, image="i")) for c in ("a", "b")]
            made[n].append((config, sid, cids))
    config, sid, cids = made["node-3"][1]
    await rt.remove_container(cids[0])
    await rt.remove_container(cids[0])  # idempotent, as Docker's removal of a gone container
    assert [c.id for c in await rt.list_containers(pod_uid=config.pod_uid)] == [cids[1]]
    await rt.remove_pod_sandbox(sid)  # takes its remaining container along
    assert await rt.list_pod_resources(pod_uid=config.pod_uid) == ([], [])
    assert [s.id for s in await rt.list_pod_sandboxes(node="node-3")] == [made["node-3"][0][1], made["node-3"][2][1]]
    assert [c.id for c in await rt.list_containers(node="node-3")] == made["node-3"][0][2] + made["node-3"][2][2]
    assert [c.id for c in await rt.list_containers(node="node-4")] == [c for _, _, cs in made["node-4"] for c in cs]
    assert len(await rt.list_containers()) == 20 * 3 * 2 - 2
    # A removed container's name is free again; a live one's is not.
    again = await rt.run_pod_sandbox(config)
    await rt.create_container(again, ri.ContainerConfig(name="a", image="i"))
    with pytest.raises(ri.ContainerCreateError, match="already in use"):
        await rt.create_container(made["node-4"][0][1], ri.ContainerConfig(name="a", image="i"))


async def test_a_container_name_is_taken_once_per_attempt() -> None:
    rt = await networked(FakeRuntime())
    sandbox_id = await rt.run_pod_sandbox(pod())
    await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i"))
    with pytest.raises(ri.ContainerCreateError, match="already in use"):
        await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i"))
    await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i", restart_count=1))


async def test_host_ports_conflict_per_node_only() -> None:
    rt = await networked(FakeRuntime(), "node-a", "node-b")
    ports = [ri.PortMapping(container_port=80, host_port=8080)]
    await rt.run_pod_sandbox(pod("node-a", port_mappings=ports))
    await rt.run_pod_sandbox(pod("node-b", port_mappings=ports))
    with pytest.raises(ri.ContainerStartError, match="already allocated"):
        await rt.run_pod_sandbox(pod("node-a", name="again", port_mappings=ports))
    assert len(await rt.list_pod_sandboxes(node="node-a")) == 1
    # A stopped sandbox gives its port back.
    (first,) = await rt.list_pod_sandboxes(node="node-a")
    await rt.stop_pod_sandbox(first.id)
    await rt.run_pod_sandbox(pod("node-a", name="again", port_mappings=ports))


async def test_pull_policies() -> None:
    rt = await networked(FakeRuntime(images={"local:1"}, pullable={"remote:1"}))
    assert (await rt.pull_image("local:1", policy=ri.PullPolicy.NEVER)).startswith("sha256:")
    with pytest.raises(ri.ImageNeverPullError, match='"remote:1"'):
        await rt.pull_image("remote:1", policy=ri.PullPolicy.NEVER)
    with pytest.raises(ri.ImagePullError, match='"missing:1"'):
        await rt.pull_image("missing:1")
    with pytest.raises(ri.ImagePullError):
        await rt.pull_image("local:1", policy=ri.PullPolicy.ALWAYS)  # no registry has it

    sandbox_id = await rt.run_pod_sandbox(pod())
    with pytest.raises(ri.ContainerCreateError, match="No such image"):
        await rt.create_container(sandbox_id, ri.ContainerConfig(name="c", image="remote:1"))
    await rt.pull_image("remote:1")
    await rt.create_container(sandbox_id, ri.ContainerConfig(name="c", image="remote:1"))
    # By default every image exists and every pull succeeds: hollow nodes never wait on images.
    assert (await FakeRuntime().pull_image("anything", policy=ri.PullPolicy.ALWAYS)).startswith("sha256:")


async def test_exit_reports_kubernetes_reasons() -> None:
    rt = await networked(FakeRuntime())
    sandbox_id = await rt.run_pod_sandbox(pod())
    reasons = {}
    for name, code, oom in (("ok", 0, False), ("crash", 2, False), ("hog", 137, True)):
        container_id = await rt.create_container(sandbox_id, ri.ContainerConfig(name=name, image="i"))
        await rt.start_container(container_id)
        rt.exit(container_id, code, oom_killed=oom)
        status = await rt.container_status(container_id)
        reasons[name] = (status.state, status.exit_code, status.reason)
    assert reasons == {
        "ok": (ri.ContainerState.EXITED, 0, "Completed"),
        "crash": (ri.ContainerState.EXITED, 2, "Error"),
        "hog": (ri.ContainerState.EXITED, 137, "OOMKilled"),
    }


async def test_a_thousand_hollow_nodes_get_distinct_ips_from_their_own_podcidrs() -> None:
    nodes = [f"hollow-{n}" for n in range(1000)]
    rt = await networked(FakeRuntime(), *nodes)
    ids = [await rt.run_pod_sandbox(pod(node, name=f"p{i}")) for node in nodes for i in range(3)]
    ips = {(await rt.sandbox_status(sandbox_id)).ip for sandbox_id in ids}
    assert len(ips) == len(ids) == 3000
    assert len(await rt.list_pod_sandboxes(node="hollow-999")) == 3
    subnet = ipaddress.ip_network(rt.pod_networks["minik8s-hollow-999"].subnet)
    assert all(ipaddress.ip_address(s.ip) in subnet for s in await rt.list_pod_sandboxes(node="hollow-999"))


async def test_a_sandbox_needs_its_nodes_pod_network_and_addresses_are_reused_when_freed() -> None:
    rt = FakeRuntime()
    with pytest.raises(ri.NetworkNotReadyError, match="node-a has no pod network"):
        await rt.run_pod_sandbox(pod())
    assert await rt.list_pod_sandboxes() == []
    await rt.ensure_pod_network(ri.PodNetworkConfig("minik8s-node-a", "10.244.3.0/29", "10.244.3.1", "mk"))
    made = [await rt.run_pod_sandbox(pod(name=f"p{i}")) for i in range(5)]
    # Every host address but the gateway's (.1), the network's (.0) and the broadcast (.7).
    assert [(await rt.sandbox_status(s)).ip for s in made] == [f"10.244.3.{i}" for i in range(2, 7)]
    with pytest.raises(ri.ContainerCreateError, match="no IP addresses available"):
        await rt.run_pod_sandbox(pod(name="late"))
    await rt.stop_pod_sandbox(made[0])
    late = await rt.run_pod_sandbox(pod(name="late"))
    assert (await rt.sandbox_status(late)).ip == "10.244.3.2"
    # A network with pods attached cannot move to another subnet.
    with pytest.raises(ri.PodNetworkError, match="with pods attached"):
        await rt.ensure_pod_network(ri.PodNetworkConfig("minik8s-node-a", "10.244.4.0/24", "10.244.4.1", "mk"))


async def test_probes_are_decided_never_run() -> None:
    rt = await networked(FakeRuntime())
    sandbox_id = await rt.run_pod_sandbox(pod())
    container_id = await rt.create_container(sandbox_id, ri.ContainerConfig(name="web", image="i"))
    await rt.start_container(container_id)
    assert rt.decided_probe(container_id, container="web", kind="Readiness", annotations={}) == (True, "")
    failing = {probe_annotation("web", "Readiness"): "Failure"}
    assert failing == {"probe.hollow.minik8s.io/web.readiness": "Failure"}
    ok, message = rt.decided_probe(container_id, container="web", kind="Readiness", annotations=failing)
    assert not ok and "probe.hollow.minik8s.io/web.readiness" in message
    assert rt.decided_probe(container_id, container="web", kind="Liveness", annotations=failing) == (True, "")


async def test_host_network_sandbox_has_no_ip() -> None:
    rt = FakeRuntime()
    sandbox_id = await rt.run_pod_sandbox(pod(host_network=True))
    assert (await rt.sandbox_status(sandbox_id)).ip is None


async def test_pod_network_is_made_and_moved_only_when_empty():
    from kubelet.runtime import interface as ri
    from kubelet.runtime.fake import FakeRuntime
    rt = FakeRuntime()
    cfg = ri.PodNetworkConfig(name="minik8s-n", subnet="10.244.1.0/24", gateway="10.244.1.1", bridge="mk-n")
    assert await rt.ensure_pod_network(cfg) is True
    assert await rt.ensure_pod_network(cfg) is False
    moved = ri.PodNetworkConfig(name="minik8s-n", subnet="10.244.2.0/24", gateway="10.244.2.1", bridge="mk-n")
    assert await rt.ensure_pod_network(moved) is True
    await rt.remove_pod_network("minik8s-n")
    assert rt.pod_networks == {}


async def test_a_container_with_the_exit_variable_runs_to_completion() -> None:
    from kubelet.runtime.fake import EXIT_ENV

    rt = await networked(FakeRuntime())
    sandbox_id = await rt.run_pod_sandbox(pod())
    done = await rt.create_container(sandbox_id, ri.ContainerConfig(name="job", image="i", env={EXIT_ENV: "3"}))
    forever = await rt.create_container(sandbox_id, ri.ContainerConfig(name="svc", image="i"))
    await rt.start_container(done)
    await rt.start_container(forever)
    status = await rt.container_status(done)
    assert status.state is ri.ContainerState.EXITED and status.exit_code == 3
    assert (await rt.container_status(forever)).state is ri.ContainerState.RUNNING
