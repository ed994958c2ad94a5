"""The pod's status as the kubelet reports it: a pure function of what it knows, and a writer.

:func:`compute_pod_status` turns the pod, the runtime's view of its containers
(:class:`ContainerView` per spec container) and the sandbox into a Kubernetes ``PodStatus``
dict: phase (as the kubelet's ``getPhase``), conditions (PodReadyToStartContainers,
Initialized, ContainersReady, Ready, PodScheduled) whose ``lastTransitionTime`` moves only
when their status does, IPs, start time, container statuses and qosClass.
:class:`StatusWriter` PATCHes ``pods/{name}/status`` only when the status differs from the
last one written or seen, so an idle node writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kubelet.runtime import interface as ri
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import PODS
from minik8s.client.rest import ApiClient
from minik8s.qos import qos_class
from minik8s.timestamps import format_time

__all__ = ["ContainerView", "compute_pod_status", "StatusWriter", "qos_class"]

log = logging.getLogger(__name__)


@dataclass
class ContainerView:
    """What the kubelet knows about one container of the spec at one sync."""

    latest: ri.ContainerStatus | None = None  # the newest attempt in the runtime
    previous: ri.ContainerStatus | None = None  # the attempt before it
    waiting: tuple[str, str] | None = None  # (reason, message) that overrides a non-running state
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _terminated(c: ri.ContainerStatus, runtime: str) -> typed.ContainerStateTerminated:
    out: typed.ContainerStateTerminated = {"exitCode": c.exit_code if c.exit_code is not None else 0,
           "reason": c.reason or ("Completed" if not c.exit_code else "Error"),
           "containerID": f"{runtime}://{c.id}"}
    if c.message:
        out["message"] = c.message
    if c.started_at:
        out["startedAt"] = format_time(c.started_at)
    if c.finished_at:
        out["finishedAt"] = format_time(c.finished_at)
    return out


def _container_status(spec_c: typed.Container, view: ContainerView, *, runtime: str,
                      default_waiting: str) -> typed.ContainerStatus:
    st: typed.ContainerStatus = {"name": spec_c["name"], "image": spec_c.get("image") or "", "imageID": "",
                "ready": False, "restartCount": view.restart_count, "started": False,
                "state": {}, "lastState": {}}
    latest, previous = view.latest, view.previous
    if latest is not None:
        st["imageID"] = f"{runtime}://{latest.image_id}" if latest.image_id else ""
        st["containerID"] = f"{runtime}://{latest.id}"
    running = latest is not None and latest.state is ri.ContainerState.RUNNING
    if running:
        assert latest is not None
        st["state"] = {"running": {"startedAt": format_time(latest.started_at or latest.created_at)}}
        st["ready"] = view.ready
        st["started"] = view.started
        if previous is not None and previous.state is ri.ContainerState.EXITED:
            st["lastState"] = {"terminated": _terminated(previous, runtime)}
    elif view.waiting is not None:
        reason, message = view.waiting
        waiting: typed.ContainerStateWaiting = {"reason": reason}
        if message:
            waiting["message"] = message
        st["state"] = {"waiting": waiting}
        if latest is not None and latest.state is ri.ContainerState.EXITED:
            st["lastState"] = {"terminated": _terminated(latest, runtime)}
    elif latest is not None and latest.state is ri.ContainerState.EXITED:
        st["state"] = {"terminated": _terminated(latest, runtime)}
        if previous is not None and previous.state is ri.ContainerState.EXITED:
            st["lastState"] = {"terminated": _terminated(previous, runtime)}
    else:
        st["state"] = {"waiting": {"reason": default_waiting}}
    return st


def _phase(spec: typed.PodSpec, init: list[typed.ContainerStatus], apps: list[typed.ContainerStatus], *,
           pod_is_terminal: bool = False) -> str:
    """Kubernetes' ``getPhase``: from the container statuses just computed. A pod whose
    termination has finished (deleted, every container stopped) is in a terminal phase
    whatever its restart policy: Succeeded when every container exited 0, else Failed."""
    policy = spec.get("restartPolicy") or "Always"
    for s in init:
        term = s["state"].get("terminated")
        if term and term["exitCode"] == 0:
            continue
        failed = (term is not None and term["exitCode"] != 0) or (
            "waiting" in s["state"] and "terminated" in s["lastState"]
            and s["lastState"]["terminated"]["exitCode"] != 0)
        if failed and policy == "Never":
            return "Failed"
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for s in apps:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in s["lastState"]:
                stopped += 1  # restarting after a crash: it has run
            else:
                waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, old: dict[str, typed.PodCondition], now: str, *, reason: str | None = None,
               message: str | None = None) -> typed.PodCondition:
    status = "True" if ok else "False"
    prev = old.get(ctype)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
    cond: typed.PodCondition = {"type": ctype, "status": status, "lastTransitionTime": since or now}
    if reason and not ok:
        cond["reason"] = reason
    if message and not ok:
        cond["message"] = message
    return cond


def compute_pod_status(pod: typed.Pod, *, init_views: dict[str, ContainerView], app_views: dict[str, ContainerView],
                       pod_ip: str | None, host_ip: str, sandbox_ready: bool, runtime: str = "docker",
                       pod_message: tuple[str, str] | None = None, now: str | None = None,
                       pod_is_terminal: bool = False,
                       ephemeral_views: dict[str, ContainerView] | None = None) -> typed.PodStatus:
    """The PodStatus dict for ``pod`` (pure: reads nothing but its arguments).
    Ephemeral containers get ``ephemeralContainerStatuses`` and count for neither the phase nor
    readiness (they are never ready, as in Kubernetes).
    ``pod_is_terminal``: the pod was deleted and all its containers have stopped."""
    now = now or format_time()
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    old_conds = {c["type"]: c for c in old.get("conditions") or []}
    inits = spec.get("initContainers") or []
    init_statuses = [_container_status(c, init_views.get(c["name"], ContainerView()), runtime=runtime,
                                       default_waiting="PodInitializing") for c in inits]
    init_done = all(s["state"].get("terminated", {}).get("exitCode", 1) == 0 for s in init_statuses)
    app_statuses = [_container_status(c, app_views.get(c["name"], ContainerView()), runtime=runtime,
                                      default_waiting="ContainerCreating" if init_done else "PodInitializing")
                    for c in spec.get("containers") or []]
    phase = _phase(spec, init_statuses, app_statuses, pod_is_terminal=pod_is_terminal)

    incomplete = [s["name"] for s in init_statuses if s["state"].get("terminated", {}).get("exitCode", 1) != 0]
    unready = [s["name"] for s in app_statuses if not s["ready"]]
    terminal = phase in ("Succeeded", "Failed")
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, old_conds, now),
        _condition("Initialized", not incomplete, old_conds, now,
                   reason="ContainersNotInitialized",
                   message=f"containers with incomplete status: [{' '.join(incomplete)}]"),
    ]
    ready_msg = f"containers with unready status: [{' '.join(unready)}]"
    reason = "PodCompleted" if terminal else "ContainersNotReady"
    conditions.append(_condition("ContainersReady", not unready and not terminal, old_conds, now,
                                 reason=reason, message=None if terminal else ready_msg))
    gates_ok = all(old_conds.get(g["conditionType"], {}).get("status") == "True"
                   for g in spec.get("readinessGates") or [])
    conditions.append(_condition("Ready", not unready and not terminal and gates_ok, old_conds, now,
                                 reason=reason if unready or terminal else "ReadinessGatesNotReady",
                                 message=None if terminal else (ready_msg if unready else "corresponding condition of pod readiness gate is not true")))
    scheduled = old_conds.get("PodScheduled") or {"type": "PodScheduled", "status": "True",
                                                   "lastTransitionTime": now}
    conditions.append(scheduled)
    ours = {c["type"] for c in conditions}
    conditions += [c for c in old.get("conditions") or [] if c["type"] not in ours]

    status: typed.PodStatus = {"phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    if pod_ip and not terminal:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    elif terminal and old.get("podIP"):
        status["podIP"], status["podIPs"] = old["podIP"], old.get("podIPs") or [{"ip": old["podIP"]}]
    status["startTime"] = old.get("startTime") or now
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = app_statuses
    if spec.get("ephemeralContainers"):
        views = ephemeral_views or {}
        status["ephemeralContainerStatuses"] = [
            _container_status(c, views.get(c["name"], ContainerView()), runtime=runtime,
                              default_waiting="ContainerCreating") for c in spec["ephemeralContainers"]]
    status["qosClass"] = old.get("qosClass") or qos_class(spec)
    if pod_message is not None:
        status["reason"], status["message"] = pod_message
    return status


# Status fields another component owns: the scheduler's nomination stays as it wrote it.
_NOT_OURS = frozenset(("nominatedNodeName",))


class StatusWriter:
    """Writes pod statuses through the status subresource, only when they changed."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._written: dict[str, typed.PodStatus] = {}  # uid -> the status last written

    async def write(self, pod: typed.Pod, status: typed.PodStatus) -> bool:
        """PATCH the status when it differs from the pod's and from our last write.

        Returns True when a write happened. A pod that is gone (or whose name a new pod took) is
        not an error.
        """
        md = pod["metadata"]
        uid = md["uid"]
        current = pod.get("status") or {}
        if status == self._written.get(uid) or status == current:
            self._written[uid] = status
            return False
        body: dict[str, Any] = dict(status)
        for key in current:  # a merge patch removes a field only when told null
            if key not in body and key not in _NOT_OURS:
                body[key] = None
        try:
            # The uid rides along as a precondition (Kubernetes' PatchPodStatus): a status meant
            # for this pod never lands on a new pod that took its name meanwhile.
            await self.client.patch(PODS, md["name"], {"metadata": {"uid": uid}, "status": body},
                                    namespace=md["namespace"], subresource="status", patch_type="merge")
        except errors.NotFound:
            return False
        except errors.Invalid as e:
            if any(c.get("field") == "metadata.uid" for c in e.causes):
                return False  # the pod is gone; a new one has its name
            raise
        self._written[uid] = status
        return True

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)
