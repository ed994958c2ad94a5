"""Policy end to end on real Docker, driven by the real kubectl against a ``minik8s up`` cluster
(apiserver admission, the controller-manager's quota controller, the scheduler, a kubelet
running containers): a namespace quota of 2 pods refuses the third with Kubernetes' message;
a LimitRange default shows in the created pod's spec and in the container's cgroup limit; a
high-priority pod preempts a low one on the full node, whose container is stopped.

The cluster is this module's own (its own data dir, ports and node name).
"""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from minik8s import quantity
from tests.minik8s_up_harness import kubectl_for, up_cluster, wait_until

pytestmark = pytest.mark.docker

BUSYBOX = "minik8s/busybox:latest"


@pytest.fixture(scope="module")
def up(tmp_path_factory, docker_client, test_images):
    with up_cluster(tmp_path_factory, docker_client, "pol") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kubectl(up, kubectl_path, tmp_path_factory):
    return kubectl_for(up, kubectl_path, tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture
def ns(kubectl):
    name = f"pol-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def get_json(kubectl, *args: str) -> dict | None:
    out = kubectl("get", *args, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def running(kubectl, ns: str, name: str) -> bool:
    pod = get_json(kubectl, "pod", name, "-n", ns)
    return bool(pod and (pod.get("status") or {}).get("phase") == "Running")


def sleeper(name: str, *, cpu: str | None = None, priority_class: str | None = None) -> str:
    extra = f"\n          priorityClassName: {priority_class}" if priority_class else ""
    res = f"\n            resources: {{requests: {{cpu: {cpu}}}}}" if cpu else ""
    return textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}}}
        spec:
          terminationGracePeriodSeconds: 1{extra}
          containers:
          - name: main
            image: {BUSYBOX}
            imagePullPolicy: Never
            command: [sleep, "3600"]{res}
        """)


def test_quota_of_two_pods_refuses_the_third(up, kubectl, ns) -> None:
    assert kubectl("create", "quota", "two", "--hard=pods=2", "-n", ns).returncode == 0
    # Admission charges only a quota the controller has counted.
    wait_until(lambda: ((get_json(kubectl, "quota", "two", "-n", ns) or {}).get("status") or {}).get("used")
               == {"pods": "0"}, "quota counted", diag=up.diag)
    for i in (1, 2):
        out = kubectl("apply", "-n", ns, "-f", "-", input=sleeper(f"p{i}"))
        assert out.returncode == 0, out.stderr
    out = kubectl("apply", "-n", ns, "-f", "-", input=sleeper("p3"))
    assert out.returncode == 1
    assert out.stderr.strip() == ('Error from server (Forbidden): error when creating "STDIN": pods "p3" is '
                                  'forbidden: exceeded quota: two, requested: pods=1, used: pods=2, limited: pods=2')
    wait_until(lambda: running(kubectl, ns, "p1") and running(kubectl, ns, "p2"), "p1 and p2 running",
               diag=up.diag)
    assert kubectl("get", "quota", "-n", ns).stdout.splitlines()[1].split()[2:] == ["pods:", "2/2"]


def test_limitrange_default_in_the_pod_and_its_container(up, kubectl, ns, docker_client) -> None:
    limits = textwrap.dedent("""
        apiVersion: v1
        kind: LimitRange
        metadata: {name: defaults}
        spec:
          limits:
          - type: Container
            default: {memory: 64Mi}
            defaultRequest: {memory: 32Mi}
        """)
    assert kubectl("apply", "-n", ns, "-f", "-", input=limits).returncode == 0
    out = kubectl("apply", "-n", ns, "-f", "-", input=sleeper("limited"))
    assert out.returncode == 0, out.stderr
    pod = get_json(kubectl, "pod", "limited", "-n", ns)
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"memory": "64Mi"},
                                                          "requests": {"memory": "32Mi"}}
    wait_until(lambda: running(kubectl, ns, "limited"), "limited running", diag=up.diag)
    uid = get_json(kubectl, "pod", "limited", "-n", ns)["metadata"]["uid"]
    containers = [c for c in docker_client.containers.list(ignore_removed=True, filters={"label": f"io.minik8s.pod.uid={uid}"})
                  if c.labels.get("io.minik8s.container.name") == "main"]
    assert containers, "the pod's container"
    assert containers[0].attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024


def test_high_priority_pod_preempts_a_low_one_on_the_full_node(up, kubectl, ns, docker_client) -> None:
    node = get_json(kubectl, "node", up.node)
    alloc = quantity.parse_cpu_millis(node["status"]["allocatable"]["cpu"])
    pods = get_json(kubectl, "pods", "-A")["items"]
    used = sum(quantity.parse_cpu_millis(((c.get("resources") or {}).get("requests") or {}).get("cpu", "0"))
               for p in pods if p["spec"].get("nodeName") == up.node
               and p["status"].get("phase") not in ("Succeeded", "Failed")
               for c in p["spec"]["containers"])
    free = alloc - used
    suffix = uuid.uuid4().hex[:6]
    for name, value in ((f"low-{suffix}", 10), (f"high-{suffix}", 1000)):
        assert kubectl("create", "priorityclass", name, f"--value={value}").returncode == 0
    try:
        out = kubectl("apply", "-n", ns, "-f", "-",
                      input=sleeper("victim", cpu=f"{free * 7 // 10}m", priority_class=f"low-{suffix}"))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: running(kubectl, ns, "victim"), "victim running", diag=up.diag)
        victim_uid = get_json(kubectl, "pod", "victim", "-n", ns)["metadata"]["uid"]
        out = kubectl("apply", "-n", ns, "-f", "-",
                      input=sleeper("preemptor", cpu=f"{free // 2}m", priority_class=f"high-{suffix}"))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: running(kubectl, ns, "preemptor"), "preemptor running",
                   diag=lambda: kubectl("describe", "pod", "preemptor", "-n", ns).stdout + up.diag())
        assert get_json(kubectl, "pod", "victim", "-n", ns) is None
        assert not docker_client.containers.list(ignore_removed=True, filters={"label": f"io.minik8s.pod.uid={victim_uid}"})
        pre = get_json(kubectl, "pod", "preemptor", "-n", ns)
        assert pre["spec"]["nodeName"] == up.node and pre["status"]["nominatedNodeName"] == up.node
        events = get_json(kubectl, "events", "-n", ns)["items"]
        assert [e["message"] for e in events if e["reason"] == "Preempted"] == [
            f"Preempted by pod {pre['metadata']['uid']} on node {up.node}"]
    finally:
        kubectl("delete", "priorityclass", f"low-{suffix}", f"high-{suffix}")
