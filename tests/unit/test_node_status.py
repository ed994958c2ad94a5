"""The Node's conditions as the kubelet's node agent computes them from what it knows: the
runtime answering and, where the kubelet makes the pod network, that network and the DNS."""

from __future__ import annotations

from kubelet.config import parse_args
from kubelet.hostinfo import HostInfo
from kubelet.node import NodeAgent
from kubelet.runtime.fake import FakeRuntime

HOST = HostInfo(cpus=2, memory_bytes=4 << 30, kernel="6.1", os_image="Debian", arch="amd64",
                machine_id="m", system_uuid="u", boot_id="b")


def agent(network_status=None) -> NodeAgent:
    cfg = parse_args(["--apiserver", "http://127.0.0.1:1", "--node-name", "n1", "--root-dir", "/tmp"])
    return NodeAgent(None, FakeRuntime(), cfg, node_name="n1", host_ip="127.0.0.1", host=HOST,
                     network_status=network_status)


def conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def test_no_pod_network_made_here_means_no_network_condition() -> None:
    conds = conditions(agent().build_status(runtime_ok=True, previous=None))
    assert "NetworkUnavailable" not in conds and conds["Ready"]["status"] == "True"
    conds = conditions(agent(lambda: None).build_status(runtime_ok=True, previous=None))
    assert "NetworkUnavailable" not in conds and conds["Ready"]["status"] == "True"


def test_a_pod_network_not_ready_keeps_the_node_not_ready_and_says_why() -> None:
    state = {"v": (False, "pod network minik8s-n1 on 10.244.1.0/24 cannot be made: Pool overlaps")}
    a = agent(lambda: state["v"])
    down = a.build_status(runtime_ok=True, previous=None)
    conds = conditions(down)
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "KubeletNotReady"
    assert conds["Ready"]["message"] == ("container runtime network not ready: NetworkReady=false "
                                         "reason:NetworkPluginNotReady message:pod network minik8s-n1 on "
                                         "10.244.1.0/24 cannot be made: Pool overlaps")
    nu = conds["NetworkUnavailable"]
    assert (nu["status"], nu["reason"]) == ("True", "PodNetworkNotReady") and "Pool overlaps" in nu["message"]

    state["v"] = (True, "pod network minik8s-n1 on 10.244.1.0/24 is up")
    conds = conditions(a.build_status(runtime_ok=True, previous=down))
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    nu = conds["NetworkUnavailable"]
    assert (nu["status"], nu["reason"], nu["message"]) == (
        "False", "PodNetworkReady", "pod network minik8s-n1 on 10.244.1.0/24 is up")
    # A runtime that does not answer says so first.
    conds = conditions(a.build_status(runtime_ok=False, previous=None))
    assert conds["Ready"]["message"] == "container runtime is down"
