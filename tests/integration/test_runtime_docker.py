"""DockerRuntime against the real Docker engine and the local images.

Every test runs on a node name of its own, so what it creates is found (and removed) by the
node label alone, and nothing another test or kubelet runs is ever touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from kubelet.runtime import interface as ri
from kubelet.runtime.docker import DockerRuntime
from kubelet.runtime.engine import call
from tests.waiting import eventually

pytestmark = pytest.mark.docker

BUSYBOX = "minik8s/busybox:latest"
# A generous bound for a container to reach a state; reaching it is what a test checks.
DEADLINE_S = 30.0


@pytest.fixture
def node() -> str:
    return f"test-node-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def runtime(test_images, node: str) -> AsyncIterator[DockerRuntime]:
    rt = await DockerRuntime.connect(sandbox_image=test_images.pause)
    yield rt
    # Everything this test made carries its node label; the sandbox removal takes its
    # containers with it, and stray containers go one by one.
    for sandbox in await rt.list_pod_sandboxes(node=node):
        await rt.remove_pod_sandbox(sandbox.id)
    for container in await rt.list_containers(node=node):
        await rt.remove_container(container.id)
    await rt.close()


def pod(node: str, name: str = "web", **kw) -> ri.PodSandboxConfig:
    return ri.PodSandboxConfig(pod_uid=str(uuid.uuid4()), pod_name=name, namespace="default",
                               node_name=node, **kw)


async def run(rt: DockerRuntime, sandbox_id: ri.SandboxId, name: str, *,
              command: Sequence[str] | None = None, image: str = BUSYBOX, **kw) -> ri.ContainerId:
    container_id = await rt.create_container(
        sandbox_id, ri.ContainerConfig(name=name, image=image, command=command, **kw))
    await rt.start_container(container_id)
    return container_id


async def wait_exited(rt: DockerRuntime, container_id: ri.ContainerId) -> ri.ContainerStatus:
    async def exited() -> ri.ContainerStatus | None:
        status = await rt.container_status(container_id)
        return status if status.state is ri.ContainerState.EXITED else None
    status: ri.ContainerStatus = await eventually(exited, f"container {container_id} exited", timeout=DEADLINE_S,
                                                  interval=0.05)
    return status


async def output(rt: DockerRuntime, container_id: ri.ContainerId, **kw) -> bytes:
    return b"".join([chunk async for chunk in rt.logs(container_id, **kw)])


async def wait_output(rt: DockerRuntime, container_id: ri.ContainerId, needle: bytes) -> None:
    async def printed() -> bool:
        return needle in await output(rt, container_id)
    await eventually(printed, f"{needle!r} in the output of {container_id}", timeout=DEADLINE_S, interval=0.05)


# busybox nc: "-ll" with "-e" is its persistent server (it has no -k).
SERVE_HI = ["nc", "-ll", "-p", "8080", "-e", "echo", "hi"]


async def test_containers_of_a_pod_share_localhost_and_hostname(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node, hostname="web-0"))
    await run(runtime, sandbox_id, "server", command=SERVE_HI)
    # Retries only while the server container is still starting.
    client = await run(runtime, sandbox_id, "client", command=[
        "sh", "-c", "hostname; for i in $(seq 100); do out=$(nc 127.0.0.1 8080 </dev/null) "
                    "&& [ -n \"$out\" ] && echo \"got $out\" && exit 0; sleep 0.1; done; exit 1"])

    status = await wait_exited(runtime, client)
    logs = await output(runtime, client)
    assert status.exit_code == 0, logs
    assert status.reason == "Completed"
    assert logs.splitlines() == [b"web-0", b"got hi"]
    sandbox = await runtime.sandbox_status(sandbox_id)
    assert sandbox.state is ri.SandboxState.READY
    assert sandbox.ip and sandbox.ip.count(".") == 3


@pytest.fixture
def entrypoint_image(docker_client, test_images) -> str:
    """An image with both ENTRYPOINT and CMD, to tell which one a container replaced."""
    name = f"minik8s/test-entrypoint:{uuid.uuid4().hex[:8]}"
    base = docker_client.api.create_container(test_images.busybox)
    repo, tag = name.split(":")
    docker_client.api.commit(base["Id"], repository=repo, tag=tag,
                             changes=['ENTRYPOINT ["echo", "entry"]', 'CMD ["cmd"]'])
    docker_client.api.remove_container(base["Id"])
    yield name
    # The test's containers still use it (the runtime fixture removes them later).
    for container in docker_client.api.containers(all=True, filters={"ancestor": name}):
        docker_client.api.remove_container(container["Id"], force=True)
    docker_client.api.remove_image(name)


async def test_command_replaces_entrypoint_and_args_replace_cmd(
        runtime: DockerRuntime, node: str, entrypoint_image: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    cases = {
        "neither": (None, None, b"entry cmd"),
        "args": (None, ["a1"], b"entry a1"),
        # Kubernetes: a command without args drops the image's CMD as well.
        "command": (["echo", "c1"], None, b"c1"),
        "both": (["echo", "c1"], ["a1"], b"c1 a1"),
    }
    started = {name: await run(runtime, sandbox_id, name, image=entrypoint_image,
                               command=command, args=args)
               for name, (command, args, _) in cases.items()}
    for name, (_, _, expected) in cases.items():
        await wait_exited(runtime, started[name])
        assert (await output(runtime, started[name])).strip() == expected, name


async def test_env_and_working_dir(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(runtime, sandbox_id, "env", command=["sh", "-c", 'echo "$FOO|$BAR"; pwd'],
                             env={"FOO": "one two", "BAR": "$(not expanded here)"}, working_dir="/tmp")
    await wait_exited(runtime, container_id)
    assert (await output(runtime, container_id)).splitlines() == [b"one two|$(not expanded here)", b"/tmp"]


def read_from(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return conn.recv(100)


async def test_host_port_is_published_and_a_taken_port_fails_cleanly(
        runtime: DockerRuntime, node: str, free_port: int) -> None:
    config = pod(node, port_mappings=[ri.PortMapping(container_port=8080, host_port=free_port),
                                      ri.PortMapping(container_port=9090)])
    sandbox_id = await runtime.run_pod_sandbox(config)
    await run(runtime, sandbox_id, "server", command=SERVE_HI)

    assert await runtime.port_mappings(sandbox_id) == (
        ri.PortMapping(container_port=8080, host_port=free_port, protocol="TCP"),)
    async with asyncio.timeout(DEADLINE_S):
        while await asyncio.to_thread(read_from, free_port) != b"hi\n":
            await asyncio.sleep(0.1)  # the proxy accepts before the server listens

    second = pod(node, name="other", port_mappings=[ri.PortMapping(container_port=80, host_port=free_port)])
    with pytest.raises(ri.ContainerStartError, match="already allocated"):
        await runtime.run_pod_sandbox(second)
    assert await runtime.list_pod_sandboxes(node=node, pod_uid=second.pod_uid) == []


async def test_image_pull_errors_name_the_image(runtime: DockerRuntime, test_images) -> None:
    missing = f"minik8s/does-not-exist-{uuid.uuid4().hex[:6]}:v1"
    with pytest.raises(ri.ImagePullError, match=f'"{missing}"') as caught:
        await runtime.pull_image(missing, policy=ri.PullPolicy.IF_NOT_PRESENT)
    assert caught.value.image == missing
    with pytest.raises(ri.ImageNeverPullError, match="pull policy of Never"):
        await runtime.pull_image(missing, policy=ri.PullPolicy.NEVER)
    # A local image needs no registry under IfNotPresent or Never.
    image_id = await runtime.pull_image(test_images.busybox, policy=ri.PullPolicy.IF_NOT_PRESENT)
    assert image_id.startswith("sha256:")
    assert await runtime.pull_image(test_images.busybox, policy=ri.PullPolicy.NEVER) == image_id


async def test_create_with_an_absent_image_is_a_create_error(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    with pytest.raises(ri.ContainerCreateError, match="no-such-image"):
        await runtime.create_container(sandbox_id, ri.ContainerConfig(name="c", image="minik8s/no-such-image:1"))


async def test_stop_sends_sigterm_then_sigkill(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    polite = await run(runtime, sandbox_id, "polite", command=[
        "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 1 & wait; done"])
    stubborn = await run(runtime, sandbox_id, "stubborn", command=[
        "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"])
    await wait_output(runtime, polite, b"ready")
    await wait_output(runtime, stubborn, b"ready")

    await runtime.stop_container(polite, timeout=30)
    await runtime.stop_container(stubborn, timeout=0.5)

    polite_status = await runtime.container_status(polite)
    assert (polite_status.state, polite_status.exit_code, polite_status.reason) == (
        ri.ContainerState.EXITED, 3, "Error")
    assert b"got-term" in await output(runtime, polite)
    assert (await runtime.container_status(stubborn)).exit_code == 137  # 128 + SIGKILL
    assert polite_status.finished_at is not None and polite_status.started_at is not None
    assert polite_status.finished_at >= polite_status.started_at


async def test_limits_user_and_namespaces_reach_docker(runtime: DockerRuntime, node: str, docker_client) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(
        runtime, sandbox_id, "limited", command=["sleep", "3600"],
        resources=ri.Resources(cpu_limit_millicpu=500, cpu_request_millicpu=250,
                               memory_limit_bytes=64 * 1024 * 1024),
        security=ri.SecurityContext(run_as_user=65534, run_as_group=65534, supplemental_groups=[33],
                                    read_only_root_filesystem=True, capabilities_drop=["NET_RAW"]),
        mounts=[ri.Mount(host_path="/etc", container_path="/host-etc", read_only=True)])

    inspected = await asyncio.to_thread(docker_client.api.inspect_container, container_id)
    host = inspected["HostConfig"]
    assert (host["CpuPeriod"], host["CpuQuota"], host["CpuShares"]) == (100_000, 50_000, 256)
    assert host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
    assert host["ReadonlyRootfs"] is True and host["Privileged"] is False
    assert host["NetworkMode"] == host["IpcMode"] == f"container:{sandbox_id}"
    assert host["CapDrop"] == ["NET_RAW"] and host["GroupAdd"] == ["33"]
    assert host["Binds"] == ["/etc:/host-etc:ro"]
    assert inspected["Config"]["User"] == "65534:65534"

    result = await runtime.exec_sync(container_id, ["sh", "-c", "id -u; id -g; touch /x 2>/dev/null"])
    assert result.exit_code != 0  # the read-only root refused the write
    assert result.output == b"65534\n65534\n"


async def test_run_as_group_without_user_is_refused(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    config = ri.ContainerConfig(name="c", image=BUSYBOX, security=ri.SecurityContext(run_as_group=1))
    with pytest.raises(ri.ContainerCreateError, match="runAsGroup"):
        await runtime.create_container(sandbox_id, config)


async def test_labels_names_and_node_filtering(runtime: DockerRuntime, node: str, docker_client) -> None:
    other_node = f"{node}-other"
    mine = pod(node, name="mine", labels={"app": "web"}, attempt=1)
    theirs = pod(other_node, name="theirs")
    my_sandbox = await runtime.run_pod_sandbox(mine)
    their_sandbox = await runtime.run_pod_sandbox(theirs)
    try:
        my_container = await runtime.create_container(
            my_sandbox, ri.ContainerConfig(name="app", image=BUSYBOX, command=["sleep", "3600"], restart_count=2))
        await runtime.create_container(their_sandbox, ri.ContainerConfig(name="app", image=BUSYBOX))

        assert [s.id for s in await runtime.list_pod_sandboxes(node=node)] == [my_sandbox]
        assert [c.id for c in await runtime.list_containers(node=node)] == [my_container]
        assert [c.id for c in await runtime.list_containers(pod_uid=mine.pod_uid)] == [my_container]
        assert [c.id for c in await runtime.list_containers(sandbox_id=my_sandbox)] == [my_container]

        (sandbox,) = await runtime.list_pod_sandboxes(node=node)
        assert (sandbox.pod_uid, sandbox.pod_name, sandbox.namespace, sandbox.attempt) == (
            mine.pod_uid, "mine", "default", 1)
        assert sandbox.labels["app"] == "web"
        (container,) = await runtime.list_containers(node=node)
        assert (container.name, container.restart_count, container.state, container.sandbox_id) == (
            "app", 2, ri.ContainerState.CREATED, my_sandbox)

        names = {cid: (await asyncio.to_thread(docker_client.api.inspect_container, cid))["Name"]
                 for cid in (my_sandbox, my_container)}
        assert names[my_sandbox] == f"/k8s_POD_mine_default_{mine.pod_uid}_1"
        assert names[my_container] == f"/k8s_app_mine_default_{mine.pod_uid}_2"
        labels = (await runtime.container_status(my_container)).labels
        assert {k: v for k, v in labels.items() if k.startswith("io.minik8s.") and "image" not in k} == {
            ri.LABEL_POD_UID: mine.pod_uid, ri.LABEL_POD_NAME: "mine", ri.LABEL_POD_NAMESPACE: "default",
            ri.LABEL_NODE: node, ri.LABEL_CONTAINER_NAME: "app", ri.LABEL_CONTAINER_TYPE: "container",
            ri.LABEL_RESTART_COUNT: "2", ri.LABEL_SANDBOX_ID: my_sandbox}
    finally:
        await runtime.remove_pod_sandbox(their_sandbox)


async def test_list_pod_resources_answers_both_kinds_in_one_listing(runtime: DockerRuntime, node: str) -> None:
    """The one-call listing the pod syncs and the relist use agrees with the two-call one."""
    a, b = pod(node, name="a"), pod(node, name="b")
    sandbox_a, sandbox_b = await runtime.run_pod_sandbox(a), await runtime.run_pod_sandbox(b)
    container_a = await runtime.create_container(sandbox_a, ri.ContainerConfig(name="app", image=BUSYBOX))
    container_b = await runtime.create_container(sandbox_b, ri.ContainerConfig(name="app", image=BUSYBOX))

    sandboxes, containers = await runtime.list_pod_resources(node=node, pod_uid=a.pod_uid)
    assert ([s.id for s in sandboxes], [c.id for c in containers]) == ([sandbox_a], [container_a])
    sandboxes, containers = await runtime.list_pod_resources(node=node)
    assert {s.id for s in sandboxes} == {sandbox_a, sandbox_b}
    assert {c.id for c in containers} == {container_a, container_b}
    assert sorted(sandboxes, key=lambda s: s.id) == sorted(await runtime.list_pod_sandboxes(node=node),
                                                            key=lambda s: s.id)
    assert await runtime.list_pod_resources(node=f"{node}-none") == ([], [])


async def test_sandbox_stop_and_remove_take_the_containers_and_are_idempotent(
        runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(runtime, sandbox_id, "sleeper", command=[
        "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"])

    await runtime.stop_pod_sandbox(sandbox_id)
    assert (await runtime.sandbox_status(sandbox_id)).state is ri.SandboxState.NOT_READY
    assert (await runtime.container_status(container_id)).state is ri.ContainerState.EXITED
    await runtime.stop_pod_sandbox(sandbox_id)

    await runtime.remove_pod_sandbox(sandbox_id)
    await runtime.remove_pod_sandbox(sandbox_id)
    with pytest.raises(ri.NotFoundError):
        await runtime.sandbox_status(sandbox_id)
    with pytest.raises(ri.NotFoundError):
        await runtime.container_status(container_id)
    with pytest.raises(ri.NotFoundError):
        await runtime.create_container(sandbox_id, ri.ContainerConfig(name="late", image=BUSYBOX))


async def test_a_command_that_cannot_run(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await runtime.create_container(
        sandbox_id, ri.ContainerConfig(name="bad", image=BUSYBOX, command=["/no/such/binary"]))
    with pytest.raises(ri.ContainerStartError, match="no such file or directory|not found"):
        await runtime.start_container(container_id)
    status = await runtime.container_status(container_id)
    assert (status.state, status.reason) == (ri.ContainerState.EXITED, "ContainerCannotRun")
    assert "/no/such/binary" in (status.message or "")


async def test_memory_limit_ends_in_oomkilled(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(
        runtime, sandbox_id, "hog", resources=ri.Resources(memory_limit_bytes=16 * 1024 * 1024),
        command=["sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"])
    status = await wait_exited(runtime, container_id)
    assert (status.reason, status.exit_code) == ("OOMKilled", 137)


async def test_exec_sync_exit_codes_output_and_timeout(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(runtime, sandbox_id, "sleeper", command=["sleep", "3600"])

    assert await runtime.exec_sync(container_id, ["true"]) == (0, b"")
    code, out = await runtime.exec_sync(container_id, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert code == 3 and sorted(out.splitlines()) == [b"err", b"out"]
    code, _ = await runtime.exec_sync(container_id, ["no-such-command"])
    assert code != 0

    with pytest.raises(ri.ExecTimeoutError):
        await runtime.exec_sync(container_id, ["sleep", "300"], timeout=0.5)
    # The timed-out command was killed, not left behind in the container.
    _, processes = await runtime.exec_sync(container_id, ["ps", "-o", "args"])
    assert b"sleep 300" not in processes

    await runtime.stop_container(container_id, timeout=0)
    with pytest.raises(ri.RuntimeError_, match="not running"):
        await runtime.exec_sync(container_id, ["true"])


async def test_logs_tail_timestamps_and_follow(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(runtime, sandbox_id, "talker", command=[
        "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; "
                    "while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after; echo oops >&2"])
    await wait_output(runtime, container_id, b"line5")

    assert (await output(runtime, container_id, tail=2)).splitlines() == [b"line4", b"line5"]
    stamped = (await output(runtime, container_id, tail=1, timestamps=True)).decode()
    assert stamped.endswith(" line5\n") and stamped[:4].isdigit()

    followed = runtime.logs(container_id, follow=True)
    seen = b""
    async with asyncio.timeout(DEADLINE_S):
        while b"line5" not in seen:
            seen += await anext(followed)
        await runtime.exec_sync(container_id, ["touch", "/tmp/go"])
        # The stream ends by itself when the container exits.
        seen += b"".join([chunk async for chunk in followed])
    # stdout keeps its order; stderr is a pipe of its own, so only its presence is certain.
    lines = seen.splitlines()
    assert [line for line in lines if line != b"oops"] == [b"line1", b"line2", b"line3", b"line4", b"line5", b"after"]
    assert b"oops" in lines


async def test_closing_a_follow_on_a_quiet_container_returns(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    container_id = await run(runtime, sandbox_id, "quiet", command=["sh", "-c", "echo hello; sleep 3600"])
    followed = runtime.logs(container_id, follow=True)
    async with asyncio.timeout(DEADLINE_S):
        assert await anext(followed) == b"hello\n"
        reader = asyncio.ensure_future(anext(followed))  # blocks: the container says nothing more
        await asyncio.sleep(0.2)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await followed.aclose()


async def test_host_network_sandbox_has_no_ip_of_its_own(runtime: DockerRuntime, node: str) -> None:
    sandbox_id = await runtime.run_pod_sandbox(pod(node, host_network=True,
                                                   port_mappings=[ri.PortMapping(80, host_port=80)]))
    status = await runtime.sandbox_status(sandbox_id)
    assert status.state is ri.SandboxState.READY
    assert status.ip is None and status.port_mappings == ()


async def test_version(runtime: DockerRuntime) -> None:
    version = await runtime.version()
    assert version.runtime_name == "docker"
    assert version.runtime_version and version.api_version


async def test_pod_network_replaces_a_stale_overlapping_one(runtime: DockerRuntime, node: str, docker_client) -> None:
    """A node's network left behind by an earlier node on the same subnet, with no pod
    attached, gives way; one with pods attached is never touched."""
    from kubelet.runtime import interface as ri

    subnet = "10.250.77.0/24"
    labels = {"io.minik8s.node": node}
    stale = ri.PodNetworkConfig(name=f"minik8s-{node}-old", subnet=subnet, gateway="10.250.77.1",
                                bridge="mkstale0", labels=labels)
    fresh = ri.PodNetworkConfig(name=f"minik8s-{node}-new", subnet=subnet, gateway="10.250.77.1",
                                bridge="mkfresh0", labels=labels)
    try:
        assert await runtime.ensure_pod_network(stale) is True
        assert await runtime.ensure_pod_network(fresh) is True
        names = {n.name for n in docker_client.networks.list()}
        assert fresh.name in names and stale.name not in names
        assert await runtime.ensure_pod_network(fresh) is False  # already there
    finally:
        await runtime.remove_pod_network(fresh.name)
        await runtime.remove_pod_network(stale.name)


async def test_container_events_stream_this_nodes_changes_in_order(runtime: DockerRuntime, node: str) -> None:
    """The evented PLEG's source: once ``container_events`` has returned, every change of this
    node's sandboxes and containers comes through it, in order, with its pod's uid; another
    node's containers and an exec (a probe's) do not."""
    assert runtime.streams_events
    other = await runtime.run_pod_sandbox(pod(f"{node}-other"))  # before and during: never seen
    events = await runtime.container_events(node=node)
    seen: list[ri.ContainerEvent] = []
    try:
        config = pod(node)
        sandbox_id = await runtime.run_pod_sandbox(config)
        app = await run(runtime, sandbox_id, "app", command=["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"])
        await runtime.exec_sync(app, ["true"], timeout=10)
        await run(runtime, other, "theirs", command=["true"])
        await runtime.stop_container(app, timeout=5)
        await runtime.remove_pod_sandbox(sandbox_id)

        async def collect() -> None:
            async for event in events:
                seen.append(event)
                if event.id == sandbox_id and event.type is ri.ContainerEventType.DELETED:
                    return
        await asyncio.wait_for(collect(), DEADLINE_S)
    finally:
        await events.aclose()
        await runtime.remove_pod_sandbox(other)
    assert {e.pod_uid for e in seen} == {config.pod_uid}
    T = ri.ContainerEventType
    assert [(e.id, e.type) for e in seen if e.id == app] == [
        (app, T.CREATED), (app, T.STARTED), (app, T.STOPPED), (app, T.DELETED)]
    assert [(e.type, e.sandbox) for e in seen if e.id == sandbox_id] == [
        (T.CREATED, True), (T.STARTED, True), (T.STOPPED, True), (T.DELETED, True)]
    # The sandbox was made before its container; the container went before the sandbox.
    order = [(e.id, e.type) for e in seen]
    assert order.index((sandbox_id, T.STARTED)) < order.index((app, T.CREATED))
    assert order.index((app, T.DELETED)) < order.index((sandbox_id, T.DELETED))


async def test_create_container_in_an_observed_sandbox(runtime: DockerRuntime, node: str) -> None:
    """Given the sandbox as just observed (the kubelet's sync has it), a container is made in
    it without looking it up again: same labels, same namespaces as by id alone. A sandbox that
    stopped after it was observed cannot be joined: the start fails, it is not run elsewhere."""
    sandbox_id = await runtime.run_pod_sandbox(pod(node))
    (observed,) = await runtime.list_pod_sandboxes(node=node)
    sleeper = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
    by_id = await run(runtime, sandbox_id, "by-id", command=sleeper)
    given = await runtime.create_container(sandbox_id, ri.ContainerConfig(name="given", image=BUSYBOX, command=sleeper),
                                           sandbox=observed)
    await runtime.start_container(given)
    a, b = await runtime.container_status(by_id), await runtime.container_status(given)
    assert {k: v for k, v in a.labels.items() if k != ri.LABEL_CONTAINER_NAME} == \
        {k: v for k, v in b.labels.items() if k != ri.LABEL_CONTAINER_NAME}
    assert (b.sandbox_id, b.pod_uid, b.state) == (sandbox_id, observed.pod_uid, ri.ContainerState.RUNNING)
    # One network namespace: the two see the same eth0 (the sandbox's MAC address).
    mac = ["cat", "/sys/class/net/eth0/address"]
    mac_a = await runtime.exec_sync(by_id, mac, timeout=10)
    mac_b = await runtime.exec_sync(given, mac, timeout=10)
    assert mac_a.exit_code == 0 and mac_a.output.strip() and mac_a.output == mac_b.output

    await runtime.stop_pod_sandbox(sandbox_id)  # the observation is stale now
    late = await runtime.create_container(sandbox_id, ri.ContainerConfig(name="late", image=BUSYBOX, command=sleeper),
                                          sandbox=observed)
    with pytest.raises(ri.ContainerStartError):
        await runtime.start_container(late)
    # Without the observation the runtime looks, and refuses at once.
    with pytest.raises(ri.ContainerCreateError, match="not running"):
        await runtime.create_container(sandbox_id, ri.ContainerConfig(name="later", image=BUSYBOX))


async def test_containers_created_while_the_sandbox_starts(runtime: DockerRuntime, node: str, free_port: int) -> None:
    """A container created in a sandbox that is made but not started yet joins its network
    when it starts after it; the started sandbox comes back with its IP and ports (as a list
    shows them). A sandbox whose start fails is removed with what was created in it."""
    config = pod(node, port_mappings=[ri.PortMapping(container_port=8080, host_port=free_port)])
    created = await runtime.create_pod_sandbox(config)
    assert created.state is ri.SandboxState.NOT_READY and created.ip is None
    sleeper = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
    early = await runtime.create_container(created.id, ri.ContainerConfig(name="early", image=BUSYBOX,
                                                                           command=sleeper), sandbox=created)
    started = await runtime.start_pod_sandbox(created, config)
    listed = await runtime.sandbox_status(created.id)
    # The same sandbox as a list shows it (a list tells its creation time in whole seconds).
    assert dataclasses.replace(started, created_at=listed.created_at) == listed
    assert abs((started.created_at - listed.created_at).total_seconds()) < 1
    assert started.state is ri.SandboxState.READY and started.ip
    assert started.port_mappings == (ri.PortMapping(container_port=8080, host_port=free_port, protocol="TCP"),)
    await runtime.start_container(early)
    status = await runtime.container_status(early)
    assert (status.state, status.sandbox_id, status.pod_uid) == (ri.ContainerState.RUNNING, created.id, config.pod_uid)
    # In the sandbox's network namespace: the pod's IP is the container's.
    ip = await runtime.exec_sync(early, ["sh", "-c", "ip -4 -o addr show eth0 || ifconfig eth0"], timeout=10)
    assert ip.exit_code == 0 and started.ip in ip.output.decode()

    # A second pod asks for the same host port: its sandbox is made, its start fails, and
    # neither the sandbox nor the container created in it meanwhile is left.
    second = pod(node, name="other", port_mappings=[ri.PortMapping(container_port=80, host_port=free_port)])
    doomed = await runtime.create_pod_sandbox(second)
    await runtime.create_container(doomed.id, ri.ContainerConfig(name="early", image=BUSYBOX, command=sleeper),
                                   sandbox=doomed)
    with pytest.raises(ri.ContainerStartError, match="already allocated"):
        await runtime.start_pod_sandbox(doomed, second)
    assert await runtime.list_pod_resources(node=node, pod_uid=second.pod_uid) == ([], [])


@pytest.fixture
async def pod_network(runtime: DockerRuntime, node: str) -> AsyncIterator[ri.PodNetworkConfig]:
    """A node's pod network on a /24 of its own (the kubelet's PodNetwork makes it the same way)."""
    for _ in range(20):
        third = random.randrange(256)
        config = ri.PodNetworkConfig(name=f"minik8s-{node}", subnet=f"10.249.{third}.0/24", gateway=f"10.249.{third}.1",
                                     bridge=f"mk{node[-10:]}", labels={"io.minik8s.node": node})
        try:
            await runtime.ensure_pod_network(config)
            break
        except ri.PodNetworkError:
            continue  # another test's network has that subnet
    yield config
    for sandbox in await runtime.list_pod_sandboxes(node=node):
        await runtime.remove_pod_sandbox(sandbox.id)
    await runtime.remove_pod_network(config.name)


async def test_pod_network_wires_each_sandbox_to_the_bridge(
        runtime: DockerRuntime, node: str, pod_network: ri.PodNetworkConfig, test_images) -> None:
    """A sandbox on the node's pod network gets an address of the podCIDR on its own eth0 (a
    veth on the node's bridge, as CNI's bridge plugin makes it), a default route via the
    gateway, its hostname on that address in /etc/hosts and the pod's nameservers; pods reach
    each other, and the node reaches them. A kubelet that restarts hands out no address in use;
    a stopped sandbox's address is free again."""
    subnet = ipaddress.ip_network(pod_network.subnet)
    dns = ri.DNSConfig(servers=(pod_network.gateway,), searches=("default.svc.cluster.local",), options=("ndots:5",))
    a_config = pod(node, name="a", hostname="pod-a", network=pod_network.name, dns=dns)
    a = await runtime.start_pod_sandbox(await runtime.create_pod_sandbox(a_config), a_config)
    b_id = await runtime.run_pod_sandbox(pod(node, name="b", network=pod_network.name, dns=dns))
    b = await runtime.sandbox_status(b_id)
    assert a.ip and b.ip and a.ip != b.ip and a.ip != pod_network.gateway
    assert ipaddress.ip_address(a.ip) in subnet and ipaddress.ip_address(b.ip) in subnet
    assert (await runtime.list_pod_sandboxes(pod_uid=a_config.pod_uid))[0].ip == a.ip

    server = await run(runtime, a.id, "server", command=SERVE_HI)
    facts = await runtime.exec_sync(server, ["sh", "-c", "ip -4 -o addr show eth0; ip route; cat /etc/hosts "
                                             "/etc/resolv.conf; cat /sys/class/net/eth0/iflink"], timeout=10)
    out = facts.output.decode()
    assert facts.exit_code == 0, out
    assert f"inet {a.ip}/24" in out and f"default via {pod_network.gateway} dev eth0" in out
    assert f"{a.ip}\tpod-a" in out
    assert f"nameserver {pod_network.gateway}" in out and "search default.svc.cluster.local" in out
    # The host end of the pair is a port of the node's bridge, in hairpin mode.
    iflink = out.split()[-1]
    host_end = next(n for n in os.listdir("/sys/class/net")
                    if open(f"/sys/class/net/{n}/ifindex").read().strip() == iflink)
    assert open(f"/sys/class/net/{pod_network.bridge}/brif/{host_end}/hairpin_mode").read().strip() == "1"

    client = await run(runtime, b_id, "client", command=[
        "sh", "-c", f"for i in $(seq 100); do out=$(nc {a.ip} 8080 </dev/null) && [ -n \"$out\" ] "
                    "&& echo \"got $out\" && exit 0; sleep 0.1; done; exit 1"])
    status = await wait_exited(runtime, client)
    assert status.exit_code == 0 and (await output(runtime, client)).strip() == b"got hi"
    assert await asyncio.to_thread(lambda: socket.create_connection((a.ip, 8080), timeout=5).recv(100)) == b"hi\n"

    # A restarted kubelet (a new runtime) recovers the addresses in use from the sandboxes.
    again = await DockerRuntime.connect(sandbox_image=test_images.pause)
    try:
        c_id = await again.run_pod_sandbox(pod(node, name="c", network=pod_network.name))
        c = await again.sandbox_status(c_id)
        assert c.ip and c.ip not in (a.ip, b.ip) and ipaddress.ip_address(c.ip) in subnet
        await again.stop_pod_sandbox(c_id)
        assert (await again.sandbox_status(c_id)).ip is None
        ipam = await again._ipam(pod_network)
        assert c.ip not in ipam.in_use() and {a.ip, b.ip} <= set(ipam.in_use())
    finally:
        await again.close()


async def test_pod_network_host_port_is_published(runtime: DockerRuntime, node: str,
                                                  pod_network: ri.PodNetworkConfig, free_port: int) -> None:
    """A pod with a hostPort on the node's pod network is reachable on the node's port, with
    an address of the podCIDR that no other pod is given."""
    other = await runtime.sandbox_status(await runtime.run_pod_sandbox(pod(node, name="other", network=pod_network.name)))
    config = pod(node, network=pod_network.name, port_mappings=[ri.PortMapping(container_port=8080, host_port=free_port)])
    sandbox_id = await runtime.run_pod_sandbox(config)
    sandbox = await runtime.sandbox_status(sandbox_id)
    assert sandbox.ip and sandbox.ip != other.ip and sandbox.ip.startswith(pod_network.subnet.rsplit(".", 2)[0])
    assert sandbox.port_mappings == (ri.PortMapping(container_port=8080, host_port=free_port, protocol="TCP"),)
    await run(runtime, sandbox_id, "server", command=SERVE_HI)
    got = await eventually(lambda: asyncio.to_thread(_try_read, free_port), f"hi on port {free_port}",
                           timeout=DEADLINE_S, interval=0.1)
    assert got == b"hi\n"


def _try_read(port: int) -> bytes | None:
    try:
        return read_from(port) or None
    except OSError:
        return None


async def test_engine_calls_share_one_pool_while_exec_streams_hold_their_own_connections(
        runtime: DockerRuntime, node: str) -> None:
    """The SDK's calls on the engine's unix socket share one connection pool, not docker-py's
    one per request URL, and an exec's hijacked connection never goes back to it: two
    interactive execs stay open, each with its own stdin and output, while 60 SDK calls and 60
    of the runtime's own (the socket engine's) about other containers run at once."""
    sid = await runtime.run_pod_sandbox(pod(node))
    cid = await run(runtime, sid, "app", command=["sleep", "3600"])
    others = [await run(runtime, sid, f"other{i}", command=["sleep", "3600"]) for i in range(3)]
    sessions = [await runtime.exec(cid, ["sh", "-c", "read line; echo got-$line"], stdin=True) for _ in range(2)]
    statuses = await asyncio.gather(*(runtime.container_status(others[i % 3]) for i in range(60)))
    assert all(s.state is ri.ContainerState.RUNNING for s in statuses)
    inspected = await asyncio.gather(*(call(runtime._api.inspect_container, others[i % 3]) for i in range(60)))
    assert all(info["State"]["Running"] for info in inspected)
    for i, session in enumerate(sessions):
        await session.write(f"s{i}\n".encode())
        await session.close_stdin()
    for i, session in enumerate(sessions):
        out = b""
        while (chunk := await session.read()) is not None:
            out += chunk[1]
        assert out == f"got-s{i}\n".encode()
        assert await session.wait() == 0
        await session.close()
    adapter = runtime._api.get_adapter("http+docker://localhost")
    assert len(adapter.pools) == 1, list(adapter.pools.keys())
