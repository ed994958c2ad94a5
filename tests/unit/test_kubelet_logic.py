"""The kubelet's pure parts: phase and conditions from container states, back-off arithmetic,
``$(VAR)`` expansion, downward-API and resourceFieldRef values, pull-policy defaults."""

from __future__ import annotations

import datetime

import pytest

from kubelet import containers as cfgs
from kubelet.backoff import Backoff
from kubelet.runtime import interface as ri
from kubelet.status import ContainerView, compute_pod_status

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _c(name: str, state: ri.ContainerState, *, exit_code: int | None = None, restarts: int = 0) -> ri.ContainerStatus:
    return ri.ContainerStatus(
        id=ri.ContainerId(f"id-{name}-{restarts}"), sandbox_id=ri.SandboxId("sb"), pod_uid="u", pod_name="p",
        namespace="ns", node_name="n", name=name, restart_count=restarts, state=state, image="img",
        image_id="sha256:abc", created_at=T0, exit_code=exit_code, started_at=T0,
        finished_at=T0 if state is ri.ContainerState.EXITED else None,
        reason=ri.terminated_reason(exit_code=exit_code, oom_killed=False) if exit_code is not None else None)


def _pod(policy: str = "Always", names=("a",), inits=()) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": n, "image": "img"} for n in names],
                     "initContainers": [{"name": n, "image": "img"} for n in inits]}, "status": {}}


def _status(pod: dict, apps: dict, inits: dict | None = None) -> dict:
    return compute_pod_status(pod, init_views=inits or {}, app_views=apps, pod_ip="10.0.0.5", host_ip="1.2.3.4",
                              sandbox_ready=True, now="2026-01-01T00:00:00Z")


def test_running_ready_pod() -> None:
    st = _status(_pod(), {"a": ContainerView(latest=_c("a", ri.ContainerState.RUNNING), ready=True, started=True)})
    assert st["phase"] == "Running"
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert st["containerStatuses"][0]["containerID"] == "docker://id-a-0"
    assert st["podIP"] == "10.0.0.5" and st["qosClass"] == "BestEffort"


@pytest.mark.parametrize(("policy", "code", "phase"), [
    ("Never", 0, "Succeeded"), ("Never", 1, "Failed"), ("OnFailure", 0, "Succeeded"),
    ("OnFailure", 1, "Running"), ("Always", 0, "Running")])
def test_phase_of_exited_containers(policy: str, code: int, phase: str) -> None:
    st = _status(_pod(policy), {"a": ContainerView(latest=_c("a", ri.ContainerState.EXITED, exit_code=code))})
    assert st["phase"] == phase


def test_crash_loop_is_running_with_last_state() -> None:
    view = ContainerView(latest=_c("a", ri.ContainerState.EXITED, exit_code=2, restarts=3),
                         waiting=("CrashLoopBackOff", "back-off 40s"), restart_count=3)
    st = _status(_pod(), {"a": view})
    cs = st["containerStatuses"][0]
    assert st["phase"] == "Running"
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 2 and cs["restartCount"] == 3


def test_pending_while_init_runs_and_reasons() -> None:
    pod = _pod(inits=("i1", "i2"))
    st = _status(pod, {}, {"i1": ContainerView(latest=_c("i1", ri.ContainerState.RUNNING))})
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == "Pending"
    assert conds["Initialized"]["status"] == "False"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [i1 i2]"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    failed = _status(_pod("Never", inits=("i1",)), {}, {"i1": ContainerView(latest=_c("i1", ri.ContainerState.EXITED, exit_code=1))})
    assert failed["phase"] == "Failed"


def test_transition_time_kept_while_status_unchanged() -> None:
    pod = _pod()
    pod["status"] = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
                                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2019-01-01T00:00:00Z"}]}
    st = _status(pod, {"a": ContainerView(latest=_c("a", ri.ContainerState.RUNNING), ready=True, started=True)})
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Ready"]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert conds["PodScheduled"]["lastTransitionTime"] == "2019-01-01T00:00:00Z"
    st = _status(pod, {"a": ContainerView(latest=_c("a", ri.ContainerState.RUNNING), ready=False, started=True)})
    ready = {c["type"]: c for c in st["conditions"]}["Ready"]
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z" and ready["reason"] == "ContainersNotReady"


def test_backoff_doubles_caps_and_resets() -> None:
    now = [1000.0]
    b = Backoff(clock=lambda: now[0])
    assert b.remaining("k", since=now[0]) == 0  # the first restart is immediate
    delays = [b.next("k") for _ in range(7)]
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    assert b.remaining("k", since=now[0] - 100) == 200
    now[0] += 601  # ran for more than ten minutes since the last restart
    assert b.remaining("k", since=now[0]) == 0
    assert b.next("k") == 10


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "x"}
    assert cfgs.expand("$(A)-$(B)-$$(A)", env) == "x-$(B)-$(A)"


async def test_environment_downward_api_and_resources() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
           "spec": {"nodeName": "n1", "containers": []}}
    container = {"name": "c", "image": "busybox:1.36", "command": ["echo", "$(GREETING)"],
                 "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                 "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                         {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                         {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                            "divisor": "1Mi"}}},
                         {"name": "GREETING", "value": "hi $(POD) on $(NODE)"}]}
    cfg = await cfgs.build_config(pod, container, restart_count=2, pod_ip="10.1.1.1", host_ip="1.1.1.1",
                                  node_allocatable={"cpu": 2000, "memory": 1 << 30}, mounts=[], client=None)
    assert cfg.env == {"POD": "p", "NODE": "n1", "IP": "10.1.1.1", "APP": "web", "CPU": "1", "MEM": "64",
                       "GREETING": "hi p on n1"}
    assert cfg.command == ["echo", "hi p on n1"]
    assert cfg.resources == ri.Resources(cpu_limit_millicpu=500, cpu_request_millicpu=None, memory_limit_bytes=64 << 20)
    assert cfg.restart_count == 2 and cfg.labels[cfgs.LABEL_HASH] == cfgs.spec_hash(container)


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.36", "IfNotPresent"),
    ("localhost:5000/x", "Always"), ("localhost:5000/x:v1", "IfNotPresent"), ("x@sha256:ab", "IfNotPresent")])
def test_pull_policy_defaults_by_tag(image: str, policy: str) -> None:
    assert cfgs.pull_policy({"image": image}) is ri.PullPolicy(policy)
