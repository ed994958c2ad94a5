"""The kubelet on the real Docker engine, driven through a real apiserver (and kubectl).

Each test binds its pods to a kubelet of its own (``spec.nodeName``: no scheduler needed) and
checks what Kubernetes promises: pods share localhost, env and command, hostPort, restarts
with back-off, probes, image-pull failures, graceful deletion, adoption after a kubelet
restart, two kubelets on one engine, and logs through the apiserver. Probes that must flip
are driven by files the test creates in a hostPath dir, never by sleeps.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from minik8s import errors
from minik8s.api.resources import PODS
from tests.conftest import kubectl_args
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    condition,
    container_status,
    events_for,
    is_ready,
    is_running,
    kubelet_factory,
    pod_containers,
    pod_manifest,
    wait_for,
    wait_pod,
)

pytestmark = pytest.mark.docker

# busybox nc: "-ll" with "-e" is a persistent server.
SERVE_HI = ["nc", "-ll", "-p", "8080", "-e", "echo", "hi"]


@pytest.fixture
def node_kubelet(kubelet_factory, test_images):
    return kubelet_factory()


def _reasons(events: list[dict]) -> set[str]:
    return {e["reason"] for e in events}


async def test_two_containers_share_localhost_env_and_command(client, namespace, node_kubelet, kubectl) -> None:
    pod = pod_manifest("pair", node_kubelet.node, [
        {"name": "server", "command": SERVE_HI},
        {"name": "client",
         "env": [{"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                 {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "GREETING", "value": "hello $(MY_NAME)"}],
         "command": ["sh", "-c"],
         "args": ["echo \"$GREETING in $MY_NS at $MY_IP\"; "
                  "while :; do printf '' | nc -w 2 127.0.0.1 8080 && echo reached; sleep 1; done"]},
    ])
    await client.create(PODS, pod, namespace=namespace)
    running = await wait_pod(client, namespace, "pair", is_ready, what="Ready", kubelet=node_kubelet)
    ip = running["status"]["podIP"]
    assert ip and running["status"]["hostIP"] == "127.0.0.1"

    async def logged() -> bool:
        out = kubectl("logs", "-n", namespace, "pair", "-c", "client")
        return "hi" in out.stdout
    await wait_for(logged, what="client reaching the server over localhost")
    out = kubectl("logs", "-n", namespace, "pair", "-c", "client").stdout
    assert f"hello pair in {namespace} at {ip}" in out
    statuses = {s["name"]: s for s in running["status"]["containerStatuses"]}
    assert statuses["server"]["containerID"].startswith("docker://")
    assert statuses["client"]["state"]["running"]["startedAt"]
    assert running["status"]["qosClass"] == "BestEffort"


async def test_host_port_is_reachable_from_the_host(client, namespace, node_kubelet, free_port) -> None:
    pod = pod_manifest("web", node_kubelet.node, [
        {"name": "server", "command": SERVE_HI, "ports": [{"containerPort": 8080, "hostPort": free_port}],
         "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}])
    await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "web", is_ready, what="Ready", kubelet=node_kubelet)

    def fetch() -> bytes:
        with socket.create_connection(("127.0.0.1", free_port), timeout=3) as s:
            return s.recv(100)
    assert (await asyncio.to_thread(fetch)).strip() == b"hi"


async def test_taken_host_port_is_a_clear_container_error(client, namespace, node_kubelet, free_port) -> None:
    blocker = socket.socket()
    blocker.bind(("0.0.0.0", free_port))
    blocker.listen()
    try:
        pod = pod_manifest("clash", node_kubelet.node, [
            {"name": "server", "command": SERVE_HI, "ports": [{"containerPort": 8080, "hostPort": free_port}]}])
        await client.create(PODS, pod, namespace=namespace)
        seen = await wait_pod(
            client, namespace, "clash",
            lambda p: container_status(p, "server").get("state", {}).get("waiting", {}).get("reason")
            == "CreateContainerError", what="waiting with CreateContainerError", kubelet=node_kubelet)
        assert str(free_port) in container_status(seen, "server")["state"]["waiting"]["message"]

        async def sandbox_failed() -> bool:  # events are sent in the background: may follow the status
            return "FailedCreatePodSandBox" in _reasons(await events_for(client, namespace, "clash"))
        await wait_for(sandbox_failed, what="a FailedCreatePodSandBox event")
    finally:
        blocker.close()


async def test_crash_restarts_with_backoff_and_counts(client, namespace, node_kubelet) -> None:
    pod = pod_manifest("crash", node_kubelet.node, [{"name": "app", "command": ["sh", "-c", "echo boom; exit 3"]}])
    await client.create(PODS, pod, namespace=namespace)
    backing_off = await wait_pod(
        client, namespace, "crash",
        lambda p: container_status(p, "app").get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff",
        what="in CrashLoopBackOff", kubelet=node_kubelet)
    app = container_status(backing_off, "app")
    assert app["restartCount"] >= 1
    assert app["lastState"]["terminated"]["exitCode"] == 3
    assert app["lastState"]["terminated"]["reason"] == "Error"
    assert "back-off 10s restarting failed container=app" in app["state"]["waiting"]["message"]
    assert backing_off["status"]["phase"] == "Running"  # restartPolicy Always: it will run again
    # The back-off ends and the container runs (and crashes) again, counted.
    count = app["restartCount"]
    await wait_pod(client, namespace, "crash", lambda p: container_status(p, "app").get("restartCount", 0) > count,
                   what="restarted after its back-off", kubelet=node_kubelet)
    assert "BackOff" in _reasons(await events_for(client, namespace, "crash"))


async def test_never_restart_policy_ends_in_a_final_phase(client, namespace, node_kubelet) -> None:
    await client.create(PODS, pod_manifest("ok", node_kubelet.node, [{"name": "a", "command": ["true"]}],
                                           restartPolicy="Never"), namespace=namespace)
    await client.create(PODS, pod_manifest("bad", node_kubelet.node, [{"name": "a", "command": ["sh", "-c", "exit 7"]}],
                                           restartPolicy="OnFailure"), namespace=namespace)
    await client.create(PODS, pod_manifest("fail", node_kubelet.node, [{"name": "a", "command": ["false"]}],
                                           restartPolicy="Never"), namespace=namespace)
    ok = await wait_pod(client, namespace, "ok", lambda p: p["status"].get("phase") == "Succeeded",
                        what="Succeeded", kubelet=node_kubelet)
    assert container_status(ok, "a")["state"]["terminated"]["reason"] == "Completed"
    assert condition(ok, "Ready") == "False"
    fail = await wait_pod(client, namespace, "fail", lambda p: p["status"].get("phase") == "Failed",
                          what="Failed", kubelet=node_kubelet)
    assert container_status(fail, "a")["state"]["terminated"]["exitCode"] == 1
    assert container_status(fail, "a")["restartCount"] == 0
    bad = await wait_pod(client, namespace, "bad", lambda p: container_status(p, "a").get("restartCount", 0) >= 1,
                         what="restarted (OnFailure)", kubelet=node_kubelet)
    assert bad["status"]["phase"] == "Running"


async def test_command_not_found_is_reported_not_fatal(client, namespace, node_kubelet) -> None:
    await client.create(PODS, pod_manifest("nocmd", node_kubelet.node, [{"name": "a", "command": ["/no/such/binary"]}]),
                        namespace=namespace)

    def failed_to_run(p: dict) -> bool:
        s = container_status(p, "a")
        waiting = s.get("state", {}).get("waiting", {}).get("reason")
        last = s.get("lastState", {}).get("terminated", {}).get("reason")
        return waiting in ("RunContainerError", "CrashLoopBackOff") and (waiting == "RunContainerError" or last)
    seen = await wait_pod(client, namespace, "nocmd", failed_to_run, what="failing to run", kubelet=node_kubelet)
    s = container_status(seen, "a")
    text = s["state"]["waiting"].get("message", "") + str(s.get("lastState"))
    assert "no such file" in text.lower() or "not found" in text.lower()
    # The kubelet is alive and still serves other pods.
    await client.create(PODS, pod_manifest("fine", node_kubelet.node, [{"name": "a", "command": ["sleep", "600"]}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "fine", is_running, what="Running", kubelet=node_kubelet)


async def test_missing_image_backs_off_pulling(client, namespace, node_kubelet) -> None:
    image = f"minik8s/does-not-exist-{uuid.uuid4().hex[:6]}:v1"
    await client.create(PODS, pod_manifest("noimg", node_kubelet.node, [{"name": "a", "image": image}]),
                        namespace=namespace)
    seen_reasons: set[str] = set()

    def pull_backoff(p: dict) -> bool:
        waiting = container_status(p, "a").get("state", {}).get("waiting", {})
        seen_reasons.add(waiting.get("reason", ""))
        return waiting.get("reason") == "ImagePullBackOff"
    pod = await wait_pod(client, namespace, "noimg", pull_backoff, what="in ImagePullBackOff", kubelet=node_kubelet)
    assert container_status(pod, "a")["state"]["waiting"]["message"] == f'Back-off pulling image "{image}"'
    assert pod["status"]["phase"] == "Pending"
    events = await events_for(client, namespace, "noimg")
    failed = [e["message"] for e in events if e["reason"] == "Failed"]
    assert any(m.startswith(f'Failed to pull image "{image}"') for m in failed)
    assert "Error: ErrImagePull" in failed


async def test_liveness_failure_restarts_the_container(client, namespace, node_kubelet, tmp_path: Path) -> None:
    (tmp_path / "healthy").touch()
    pod = pod_manifest("live", node_kubelet.node, [{
        "name": "app", "command": ["sleep", "600"],
        "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}],
        "livenessProbe": {"exec": {"command": ["test", "-f", "/ctl/healthy"]}, "periodSeconds": 1,
                          "failureThreshold": 1}}],
        volumes=[{"name": "ctl", "hostPath": {"path": str(tmp_path)}}])
    await client.create(PODS, pod, namespace=namespace)
    first = await wait_pod(client, namespace, "live", is_ready, what="Ready", kubelet=node_kubelet)
    first_id = container_status(first, "app")["containerID"]
    (tmp_path / "healthy").unlink()
    restarted = await wait_pod(client, namespace, "live", lambda p: container_status(p, "app").get("restartCount", 0) >= 1,
                               what="restarted after liveness failure", kubelet=node_kubelet)
    (tmp_path / "healthy").touch()  # healthy again, so it stays up
    assert container_status(restarted, "app").get("containerID") != first_id
    reasons = _reasons(await events_for(client, namespace, "live"))
    assert {"Unhealthy", "Killing"} <= reasons


async def test_readiness_probe_drives_ready(client, namespace, node_kubelet, tmp_path: Path) -> None:
    pod = pod_manifest("ready", node_kubelet.node, [{
        "name": "app", "command": ["sleep", "600"],
        "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}],
        "readinessProbe": {"exec": {"command": ["test", "-f", "/ctl/ready"]}, "periodSeconds": 1,
                           "failureThreshold": 1}}],
        volumes=[{"name": "ctl", "hostPath": {"path": str(tmp_path)}}])
    await client.create(PODS, pod, namespace=namespace)
    running = await wait_pod(client, namespace, "ready", is_running, what="Running", kubelet=node_kubelet)
    assert condition(running, "Ready") == "False"
    assert container_status(running, "app")["ready"] is False
    (tmp_path / "ready").touch()
    await wait_pod(client, namespace, "ready", is_ready, what="Ready", kubelet=node_kubelet)
    (tmp_path / "ready").unlink()
    unready = await wait_pod(client, namespace, "ready", lambda p: condition(p, "Ready") == "False",
                             what="unready again", kubelet=node_kubelet)
    assert container_status(unready, "app")["restartCount"] == 0  # readiness never restarts


async def test_init_containers_volumes_and_config(client, namespace, node_kubelet, kubectl) -> None:
    from minik8s.api.resources import CONFIGMAPS, SECRETS
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"},
                                     "data": {"color": "blue", "file.txt": "from-configmap"}}, namespace=namespace)
    await client.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
                                  "data": {"token": "czNjcjN0"}}, namespace=namespace)  # "s3cr3t"
    pod = pod_manifest("init", node_kubelet.node, [{
        "name": "app", "command": ["sh", "-c", "cat /work/order; cat /conf/file.txt; echo; echo $COLOR $TOKEN; sleep 600"],
        "env": [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "color"}}},
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}}],
        "volumeMounts": [{"name": "work", "mountPath": "/work"}, {"name": "conf", "mountPath": "/conf"}]}],
        initContainers=[
            {"name": "one", "image": "minik8s/busybox:latest", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "echo one >> /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            {"name": "two", "image": "minik8s/busybox:latest", "imagePullPolicy": "IfNotPresent",
             "command": ["sh", "-c", "echo two >> /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
        volumes=[{"name": "work", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "conf"}}])
    await client.create(PODS, pod, namespace=namespace)
    ready = await wait_pod(client, namespace, "init", is_ready, what="Ready", kubelet=node_kubelet)
    inits = ready["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    assert condition(ready, "Initialized") == "True"

    async def printed() -> bool:
        return "s3cr3t" in kubectl("logs", "-n", namespace, "init").stdout
    await wait_for(printed, what="app output")
    assert kubectl("logs", "-n", namespace, "init").stdout.split() == ["one", "two", "from-configmap", "blue", "s3cr3t"]


async def test_missing_configmap_is_a_config_error(client, namespace, node_kubelet) -> None:
    pod = pod_manifest("nocm", node_kubelet.node, [{
        "name": "a", "command": ["sleep", "600"],
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}])
    await client.create(PODS, pod, namespace=namespace)
    pod = await wait_pod(client, namespace, "nocm",
                         lambda p: container_status(p, "a").get("state", {}).get("waiting", {}).get("reason")
                         == "CreateContainerConfigError", what="CreateContainerConfigError", kubelet=node_kubelet)
    assert container_status(pod, "a")["state"]["waiting"]["message"] == 'configmap "absent" not found'


async def test_delete_sends_sigterm_and_the_container_gc_removes_everything(client, namespace, kubelet_factory,
                                                                            test_images, docker_client,
                                                                            tmp_path: Path) -> None:
    node_kubelet = kubelet_factory(extra_args=("--container-gc-period", "2"))
    tmp_path.chmod(0o777)
    pod = pod_manifest("term", node_kubelet.node, [{
        "name": "app", "command": ["sh", "-c", "trap 'echo TERM > /ctl/signal; exit 0' TERM; "
                                               "while :; do sleep 0.2; done"],
        "volumeMounts": [{"name": "ctl", "mountPath": "/ctl"}]}],
        volumes=[{"name": "ctl", "hostPath": {"path": str(tmp_path)}}], terminationGracePeriodSeconds=20)
    created = await client.create(PODS, pod, namespace=namespace)
    uid = created["metadata"]["uid"]
    await wait_pod(client, namespace, "term", is_running, what="Running", kubelet=node_kubelet)
    assert len(await pod_containers(docker_client, uid)) == 2  # sandbox + app
    await client.delete(PODS, "term", namespace=namespace)

    async def gone() -> bool:
        try:
            await client.get(PODS, "term", namespace=namespace)
            return False
        except errors.NotFound:
            return True
    await wait_for(gone, what="pod deleted by the kubelet's confirmation")
    assert (tmp_path / "signal").read_text().strip() == "TERM"
    # The pod object goes once nothing of it runs; the container GC removes what stopped.
    assert not [c for c in await pod_containers(docker_client, uid) if c.status == "running"]

    async def removed() -> bool:
        return await pod_containers(docker_client, uid) == []
    await wait_for(removed, what="the stopped sandbox and container removed by the container GC", timeout=30)
    assert "Killing" in _reasons(await events_for(client, namespace, "term"))


async def test_kubelet_restart_adopts_and_cleans_up(client, namespace, kubelet_factory, test_images,
                                                    docker_client) -> None:
    k = kubelet_factory(extra_args=("--container-gc-period", "2"))
    keep = await client.create(PODS, pod_manifest("keep", k.node, [{"name": "a", "command": ["sleep", "600"]}]),
                               namespace=namespace)
    drop = await client.create(PODS, pod_manifest("drop", k.node, [{"name": "a", "command": ["sleep", "600"]}]),
                               namespace=namespace)
    running = await wait_pod(client, namespace, "keep", is_running, what="Running", kubelet=k)
    await wait_pod(client, namespace, "drop", is_running, what="Running", kubelet=k)
    before = {c.id for c in await pod_containers(docker_client, keep["metadata"]["uid"])}
    k.kill()
    # While the kubelet is down, "drop" is force-deleted: its containers now belong to no pod.
    await client.delete(PODS, "drop", namespace=namespace, grace_period_seconds=0)
    k.start()

    async def orphans_removed() -> bool:
        return await pod_containers(docker_client, drop["metadata"]["uid"]) == []
    # The restarted kubelet stops them (they belong to no pod) and its container GC removes them.
    await wait_for(orphans_removed, what="orphaned containers removed")
    after = {c.id for c in await pod_containers(docker_client, keep["metadata"]["uid"])}
    assert after == before  # adopted: the same two containers, no duplicates
    pod = await client.get(PODS, "keep", namespace=namespace)
    assert container_status(pod, "a")["restartCount"] == 0
    assert container_status(pod, "a")["containerID"] == container_status(running, "a")["containerID"]


async def test_two_kubelets_share_one_engine(client, namespace, kubelet_factory, test_images, docker_client) -> None:
    a, b = kubelet_factory(), kubelet_factory()
    pa = await client.create(PODS, pod_manifest("on-a", a.node, [{"name": "x", "command": ["sleep", "600"]}]),
                             namespace=namespace)
    pb = await client.create(PODS, pod_manifest("on-b", b.node, [{"name": "x", "command": ["sleep", "600"]}]),
                             namespace=namespace)
    await wait_pod(client, namespace, "on-a", is_running, what="Running", kubelet=a)
    await wait_pod(client, namespace, "on-b", is_running, what="Running", kubelet=b)
    b_before = {c.id for c in await pod_containers(docker_client, pb["metadata"]["uid"])}
    # A restarted kubelet removes whatever belongs to no pod it knows -- but only on its node.
    a.kill()
    a.start()
    marker = await client.create(PODS, pod_manifest("marker", a.node, [{"name": "x", "command": ["sleep", "600"]}]),
                                 namespace=namespace)
    await wait_pod(client, namespace, "marker", is_running, what="Running after restart", kubelet=a)
    assert {c.id for c in await pod_containers(docker_client, pb["metadata"]["uid"])} == b_before
    assert len(await pod_containers(docker_client, pa["metadata"]["uid"])) == 2
    assert marker["spec"]["nodeName"] == a.node
    # Deleting on a leaves b's pod alone.
    await client.delete(PODS, "on-a", namespace=namespace)
    await wait_for(lambda: _gone(client, namespace, "on-a"), what="on-a deleted")
    assert {c.id for c in await pod_containers(docker_client, pb["metadata"]["uid"])} == b_before


async def _gone(client, namespace: str, name: str) -> bool:
    try:
        await client.get(PODS, name, namespace=namespace)
        return False
    except errors.NotFound:
        return True


async def test_kubectl_logs_and_follow(client, namespace, node_kubelet, kubectl, kubectl_path, apiserver_process,
                                       tmp_path: Path) -> None:
    pod = pod_manifest("talk", node_kubelet.node, [{
        "name": "app", "command": ["sh", "-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.3; done"]}])
    await client.create(PODS, pod, namespace=namespace)
    await wait_pod(client, namespace, "talk", is_running, what="Running", kubelet=node_kubelet)

    async def has_lines() -> bool:
        return "line 2" in kubectl("logs", "-n", namespace, "talk").stdout
    await wait_for(has_lines, what="logged")
    tail = kubectl("logs", "-n", namespace, "talk", "--tail=1").stdout.strip().splitlines()
    assert len(tail) == 1 and tail[0].startswith("line ")
    stamped = kubectl("logs", "-n", namespace, "talk", "--timestamps", "--tail=1").stdout.strip()
    assert stamped.split(" ", 1)[0].endswith("Z")

    env = {"KUBECONFIG": str(tmp_path / "kubeconfig"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    follow = subprocess.Popen([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache"),
                               "logs", "-f", "--tail=1", "-n", namespace, "talk"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = await asyncio.wait_for(asyncio.to_thread(lambda: [follow.stdout.readline() for _ in range(4)]), 30)
    finally:
        follow.kill()
        follow.wait()
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4  # new lines arrive while following
