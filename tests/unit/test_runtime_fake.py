"""FakeRuntime keeps the runtime contract a kubelet can observe, with nothing behind it."""

from __future__ import annotations

import uuid

import pytest

from kubelet.runtime import interface as ri
from kubelet.runtime.fake import FakeRuntime


def pod(node: str = "node-a", name: str = "web", **kw) -> ri.PodSandboxConfig:
    return ri.PodSandboxConfig(pod_uid=str(uuid.uuid4()), pod_name=name, namespace="default",
                               node_name=node, **kw)


async def test_pod_lifecycle_matches_the_docker_runtime_contract() -> None:
    rt = FakeRuntime()
    config = pod(labels={"app": "web"})
    sandbox_id = await rt.run_pod_sandbox(config)
    sandbox = await rt.sandbox_status(sandbox_id)
    assert sandbox.state is ri.SandboxState.READY and sandbox.ip
    assert sandbox.labels["app"] == "web" and sandbox.labels[ri.LABEL_NODE] == "node-a"

    container_id = await rt.create_container(
        sandbox_id, ri.ContainerConfig(name="app", image="minik8s/busybox:latest", restart_count=1))
    assert (await rt.container_status(container_id)).state is ri.ContainerState.CREATED
    await rt.start_container(container_id)
    status = await rt.container_status(container_id)
    assert (status.state, status.name, status.restart_count, status.pod_uid) == (
        ri.ContainerState.RUNNING, "app", 1, config.pod_uid)
    assert status.labels[ri.LABEL_SANDBOX_ID] == sandbox_id
    assert await rt.exec_sync(container_id, ["true"]) == (0, b"")

    await rt.stop_pod_sandbox(sandbox_id)
    stopped = await rt.container_status(container_id)
    assert (stopped.state, stopped.exit_code, stopped.reason) == (ri.ContainerState.EXITED, 143, "Error")
    assert (await rt.sandbox_status(sandbox_id)).state is ri.SandboxState.NOT_READY
    with pytest.raises(ri.RuntimeError_, match="not running"):
        await rt.exec_sync(container_id, ["true"])
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
    rt = FakeRuntime()
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


async def test_a_container_name_is_taken_once_per_attempt() -> None:
    rt = FakeRuntime()
    sandbox_id = await rt.run_pod_sandbox(pod())
    await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i"))
    with pytest.raises(ri.ContainerCreateError, match="already in use"):
        await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i"))
    await rt.create_container(sandbox_id, ri.ContainerConfig(name="app", image="i", restart_count=1))


async def test_host_ports_conflict_per_node_only() -> None:
    rt = FakeRuntime()
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
    rt = FakeRuntime(images={"local:1"}, pullable={"remote:1"})
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


async def test_exit_reports_kubernetes_reasons_and_logs_replay_output() -> None:
    rt = FakeRuntime()
    sandbox_id = await rt.run_pod_sandbox(pod())
    reasons = {}
    for name, code, oom in (("ok", 0, False), ("crash", 2, False), ("hog", 137, True)):
        container_id = await rt.create_container(sandbox_id, ri.ContainerConfig(name=name, image="i"))
        await rt.start_container(container_id)
        rt.emit(container_id, b"one\n")
        rt.emit(container_id, b"two\n")
        rt.exit(container_id, code, oom_killed=oom)
        status = await rt.container_status(container_id)
        reasons[name] = (status.state, status.exit_code, status.reason)
        assert [c async for c in rt.logs(container_id, tail=1)] == [b"two\n"]
        assert [c async for c in rt.logs(container_id, tail=0)] == []
        assert [c async for c in rt.logs(container_id)] == [b"one\n", b"two\n"]
    assert reasons == {
        "ok": (ri.ContainerState.EXITED, 0, "Completed"),
        "crash": (ri.ContainerState.EXITED, 2, "Error"),
        "hog": (ri.ContainerState.EXITED, 137, "OOMKilled"),
    }


async def test_a_thousand_hollow_nodes_get_distinct_ips() -> None:
    rt = FakeRuntime()
    ids = [await rt.run_pod_sandbox(pod(f"hollow-{n}", name=f"p{i}")) for n in range(1000) for i in range(3)]
    ips = {(await rt.sandbox_status(sandbox_id)).ip for sandbox_id in ids}
    assert len(ips) == len(ids) == 3000
    assert len(await rt.list_pod_sandboxes(node="hollow-999")) == 3


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
