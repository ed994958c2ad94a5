"""Syncing one pod: make the runtime match the pod spec, then report what is true.

:meth:`PodSyncer.sync` is level-triggered, as the kubelet's ``SyncPod``: it lists the pod's
sandboxes and containers (by the pod-uid and node labels, so it adopts what a previous
kubelet left running), makes sure one ready sandbox exists (a new one restarts every
container, as in Kubernetes), runs init containers one at a time to completion, then starts
the app containers, restarting exited ones as ``restartPolicy`` says with CrashLoopBackOff,
kills containers whose liveness/startup probe failed or whose spec changed, and writes the
computed status. Every failure of a step (image pull, config, create, start, sandbox) becomes
a waiting reason and an Event, never an exception out of the kubelet.
:meth:`PodSyncer.terminate` stops everything of a pod with its grace period; the container GC
(``container_gc.py``) removes what stopped once the pod is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from kubelet import containers as cfgs
from kubelet import metrics as kubelet_metrics
from kubelet import volumes as vols
from kubelet.backoff import Backoff
from kubelet.netservices import NodeNetworkServices
from kubelet.objects import ObjectManager, ObjectReader
from kubelet.probes import ProbeManager
from kubelet.runtime import interface as ri
from kubelet.status import ContainerView, StatusWriter, compute_pod_status
from kubelet.tokens import TokenManager
from minik8s import errors, taskgroup
from minik8s.api import typed
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.rest import ApiClient

__all__ = ["PodSyncer", "NodeFacts"]

log = logging.getLogger(__name__)

# Force-deleted and orphaned pods get this much grace (Kubernetes' minimum for them).
_MIN_GRACE_S = 2
# How soon to look again after an image pull failed, so ErrImagePull turns into ImagePullBackOff.
_AFTER_PULL_FAILURE_S = 1.0
# How soon to retry a step that failed for a reason that is not the container's own (config,
# volume, create): Kubernetes retries on its next sync.
_RETRY_S = 10.0
# A pod waiting for the node's pod network looks again this often.
_NETWORK_RETRY_S = 5.0
# Exited attempts kept per container beyond the newest (for `kubectl logs --previous`).
_KEEP_ATTEMPTS = 2


@dataclass
class NodeFacts:
    name: str
    host_ip: str
    root: str  # the node's state dir (volumes live under <root>/pods/<uid>)
    allocatable: dict[str, int] = field(default_factory=dict)  # cpu (millis), memory (bytes)


@dataclass
class _Pass:
    """What one sync learned and decided."""

    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    requeue: float | None = None
    changed: bool = False  # a container was started or killed: observe again before reporting
    pod_message: tuple[str, str] | None = None
    volumes: dict[str, vols.HostVolume] | None = None
    # App containers created while their new sandbox started, by name: the id to start, or
    # None when the create failed (its event and waiting reason are recorded already).
    early: dict[str, ri.ContainerId | None] = field(default_factory=dict)
    created: list[ri.ContainerId] = field(default_factory=list)  # the containers this pass created

    def after(self, seconds: float) -> None:
        self.requeue = seconds if self.requeue is None else min(self.requeue, seconds)


def _ts(t: datetime.datetime | None) -> float:
    return t.timestamp() if t is not None else time.time()


def _field_path(name: str, init: bool, ephemeral: bool = False) -> str:
    kind = "ephemeralContainers" if ephemeral else "initContainers" if init else "containers"
    return f"spec.{kind}{{{name}}}"


def _should_restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodNetworkSource(Protocol):
    """What names the network a new sandbox joins: a real node's
    :class:`~kubelet.netservices.NodeNetworkServices`, a hollow node's
    :class:`~kubelet.hollownet.HollowPodNetwork`."""

    async def sandbox_network(self) -> str | None: ...


class PodSyncer:
    def __init__(self, *, node: NodeFacts, runtime: ri.ContainerRuntime, client: ApiClient, recorder: EventRecorder,
                 probes: ProbeManager, writer: StatusWriter, runtime_name: str = "docker",
                 net: NodeNetworkServices | None = None, tokens: TokenManager | None = None,
                 pod_network: PodNetworkSource | None = None, objects: ObjectManager | None = None) -> None:
        self.node = node
        self.tokens = tokens  # kubelet.tokens.TokenManager: pod-bound ServiceAccount tokens
        # kubelet.objects.ObjectManager: the ConfigMaps and Secrets pods use, watched; None: GETs
        self.objects = objects
        self.net = net  # kubelet.netservices.NodeNetworkServices, or None (hollow nodes)
        # What names the network a new sandbox joins (``sandbox_network()``): ``net`` on a real
        # node, kubelet.hollownet.HollowPodNetwork on a hollow one; None: the runtime's default.
        self.pod_network: PodNetworkSource | None = pod_network if pod_network is not None else net
        self.runtime = runtime
        self.client = client
        self.recorder = recorder
        self.probes = probes
        self.writer = writer
        self.runtime_name = runtime_name
        self.crash_backoff = Backoff()
        self.image_backoff = Backoff()
        self.sandbox_backoff = Backoff()
        self._pull_failed_at: dict[tuple[str, str], float] = {}
        self._sandbox_failed: dict[str, tuple[float, str]] = {}
        # Restart counts carried across a sandbox change (the old attempts are removed with it).
        self._restart_floor: dict[str, dict[str, int]] = defaultdict(dict)
        self._terminal: set[str] = set()  # pods whose final phase we computed
        self._network_waiting: set[str] = set()  # pods told NetworkNotReady, still waiting
        self.pod_starts = kubelet_metrics.PodStartTracker()  # kubelet_pod_start_duration_seconds

    def _reader(self, pod: typed.Pod) -> ObjectReader:
        """What reads the ConfigMaps and Secrets of ``pod``: the object manager, else the client."""
        return self.objects.reader(pod["metadata"]["uid"]) if self.objects is not None else self.client

    # --- the live pod -----------------------------------------------------------------------

    async def sync(self, pod: typed.Pod) -> float | None:
        """One level-triggered pass over a pod that should run here; returns when to look again."""
        md, spec = pod["metadata"], pod.get("spec") or {}
        uid = md["uid"]
        p = _Pass()
        self.pod_starts.seen(uid, (pod.get("status") or {}).get("phase"))
        sandboxes, containers = await self._observe(uid)
        # Our own write of a final phase may not have come back through the watch yet.
        terminal = uid in self._terminal or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ready = sorted((s for s in sandboxes if s.state is ri.SandboxState.READY),
                       key=lambda s: (s.attempt, s.created_at), reverse=True)
        sandbox = ready[0] if ready else None

        if terminal:
            # Nothing of a finished pod runs again; its exited containers stay for their logs.
            for s in ready:
                await self.runtime.stop_pod_sandbox(s.id)
            await self._report(pod, p, None, containers)
            return None

        stale = [s for s in sandboxes if sandbox is None or s.id != sandbox.id]
        if stale:
            await self._retire_sandboxes(uid, stale, containers)
            containers = [c for c in containers if sandbox is not None and c.sandbox_id == sandbox.id]
        fresh = sandbox is None
        if sandbox is None:
            sandbox = await self._new_sandbox(pod, sandboxes, p)
            if sandbox is None:
                await self._report(pod, p, None, containers)
                return p.requeue
            containers = []

        await self._refresh_tokens(pod, p)
        by_name = await self._attempts(containers)
        await self._sync_containers(pod, sandbox, by_name, p)
        if p.changed and fresh:
            # A sandbox made in this pass holds what this pass created, nothing else: those are
            # inspected without listing the pod's containers again.
            by_name = _by_name(await asyncio.gather(*(self._inspect_id(c) for c in p.created)))
        elif p.changed:
            _, containers = await self._observe(uid, sandboxes=False)
            by_name = await self._attempts([c for c in containers if c.sandbox_id == sandbox.id])
        # Probe workers exist before the status is computed: a container with a readiness
        # probe must never be reported ready before its first success.
        for c in spec.get("containers") or []:
            attempts = by_name.get(c["name"]) or []
            if attempts and attempts[0].state is ri.ContainerState.RUNNING:
                self.probes.ensure(pod, c, attempts[0], sandbox.ip or self.node.host_ip)
        status = await self._report(pod, p, sandbox, by_name)
        self.pod_starts.phase(uid, status["phase"])
        if status["phase"] in ("Succeeded", "Failed"):
            self._terminal.add(uid)
            self.probes.remove_pod(uid)
            await self.runtime.stop_pod_sandbox(sandbox.id)
            return None
        return p.requeue

    async def _refresh_tokens(self, pod: typed.Pod, p: _Pass) -> None:
        """Rewrite the pod's projected volumes once a token in them is due (80% of its life,
        as the kubelet's token manager), and look again when the next one will be."""
        if self.tokens is None:
            return
        uid = pod["metadata"]["uid"]
        due = self.tokens.next_refresh(uid)
        if due is None:
            if not vols.has_token_projection(pod):
                return
            due = 0.0  # a token this kubelet did not write (it restarted): renew it now
        if time.time() >= due:
            try:
                await vols.refresh_projected(pod, node_root=self.node.root, client=self._reader(pod),
                                             tokens=self.tokens)
            except (vols.VolumeError, OSError) as e:
                self.recorder.event(pod, WARNING, "FailedMount", f"MountVolume.SetUp failed: {e}")
                p.after(_RETRY_S)
                return
            due = self.tokens.next_refresh(uid) or due + _RETRY_S
        p.after(max(0.0, due - time.time()))

    async def _observe(self, uid: str, *, sandboxes: bool = True
                       ) -> tuple[list[ri.PodSandbox], list[ri.Container]]:
        if not sandboxes:
            return [], await self.runtime.list_containers(node=self.node.name, pod_uid=uid)
        return await self.runtime.list_pod_resources(node=self.node.name, pod_uid=uid)

    async def _attempts(self, containers: list[ri.Container]) -> dict[str, list[ri.ContainerStatus]]:
        """Per container name, its newest attempts first, inspected; older ones removed."""
        grouped: dict[str, list[ri.Container]] = defaultdict(list)
        for c in containers:
            grouped[c.name].append(c)
        keep: list[ri.Container] = []
        for attempts in grouped.values():
            attempts.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
            keep += attempts[:_KEEP_ATTEMPTS]
            for old in attempts[_KEEP_ATTEMPTS:]:
                if old.state is not ri.ContainerState.RUNNING:
                    await self.runtime.remove_container(old.id)
        return _by_name(await asyncio.gather(*(self._inspect(c) for c in keep)))

    async def _inspect(self, c: ri.Container) -> ri.ContainerStatus | None:
        return await self._inspect_id(c.id)

    async def _inspect_id(self, container_id: ri.ContainerId) -> ri.ContainerStatus | None:
        try:
            return await self.runtime.container_status(container_id)
        except ri.NotFoundError:
            return None

    async def _retire_sandboxes(self, uid: str, stale: list[ri.PodSandbox], containers: list[ri.Container]) -> None:
        floor = self._restart_floor[uid]
        stale_ids = {s.id for s in stale}
        for c in containers:
            if c.sandbox_id in stale_ids:
                floor[c.name] = max(floor.get(c.name, 0), c.restart_count + 1)
        for s in stale:
            await self.runtime.stop_pod_sandbox(s.id)
            await self.runtime.remove_pod_sandbox(s.id)

    async def _new_sandbox(self, pod: typed.Pod, previous: list[ri.PodSandbox], p: _Pass) -> ri.PodSandbox | None:
        md, spec = pod["metadata"], pod.get("spec") or {}
        uid = md["uid"]
        failed = self._sandbox_failed.get(uid)
        if failed is not None:
            remaining = self.sandbox_backoff.remaining((uid, "POD"), since=failed[0])
            if remaining > 0:
                self._all_waiting(pod, p, "CreateContainerError", failed[1])
                p.after(remaining)
                return None
        ports = [ri.PortMapping(container_port=int(port["containerPort"]), host_port=int(port["hostPort"]),
                                protocol=port.get("protocol") or "TCP", host_ip=port.get("hostIP") or "")
                 for c in spec.get("containers") or [] for port in c.get("ports") or [] if port.get("hostPort")]
        dns = warning = None
        try:
            # A host-network pod needs no pod network (it is how a network's own agents start).
            network = await self.pod_network.sandbox_network() \
                if self.pod_network is not None and not spec.get("hostNetwork") else None
            if self.net is not None:
                dns, warning = self.net.dns_config(pod)  # dnsPolicy + dnsConfig (kubelet/dns/podconfig.py)
        except ri.NetworkNotReadyError as e:
            # Kubernetes does not try a sandbox while the runtime's network is not ready. Said
            # once per pod: a thousand waiting pods must not write an event each every retry.
            if uid not in self._network_waiting:
                self._network_waiting.add(uid)
                self.recorder.event(pod, WARNING, "NetworkNotReady",
                                    "network is not ready: container runtime network not ready: NetworkReady=false "
                                    f"reason:NetworkPluginNotReady message:{e}")
            self._all_waiting(pod, p, "ContainerCreating", "")
            p.after(_NETWORK_RETRY_S)
            return None
        self._network_waiting.discard(uid)
        if self.net is not None:
            if warning:
                self.recorder.event(pod, WARNING, "MissingClusterDNS", warning)
        elif spec.get("dnsConfig"):
            dc = spec["dnsConfig"]
            dns = ri.DNSConfig(servers=tuple(dc.get("nameservers") or ()), searches=tuple(dc.get("searches") or ()),
                               options=tuple(o["name"] + (f":{o['value']}" if o.get("value") else "")
                                             for o in dc.get("options") or []))
        config = ri.PodSandboxConfig(
            pod_uid=uid, pod_name=md["name"], namespace=md["namespace"], node_name=self.node.name,
            hostname=spec.get("hostname") or md["name"], port_mappings=tuple(ports), dns=dns,
            host_network=bool(spec.get("hostNetwork")),
            network=network,
            extra_hosts={h: a["ip"] for a in spec.get("hostAliases") or [] for h in a.get("hostnames") or []},
            attempt=max((s.attempt + 1 for s in previous), default=0))
        # The volumes are the kubelet's own work (token requests, ConfigMap reads, files) and
        # the sandbox needs none of them: both proceed at once, and the pod's first container
        # finds its volumes ready. Kubernetes mounts before making the sandbox; the outcome
        # is kept the same: a pod whose volumes fail has no sandbox (it is removed again).
        volumes = asyncio.create_task(vols.prepare_volumes(pod, node_root=self.node.root, client=self._reader(pod),
                                                           tokens=self.tokens), name=f"volumes {uid}")
        early: asyncio.Task[None] | None = None
        try:
            created = await self.runtime.create_pod_sandbox(config)
            if _may_create_early(pod):
                # The app containers are created while the sandbox starts (they join its
                # namespaces when they start, after it): one engine round trip fewer on
                # each new pod's way to Running.
                early = asyncio.create_task(self._create_early(pod, created, volumes, p), name=f"early {uid}")
            try:
                sandbox = await self.runtime.start_pod_sandbox(created, config)
            except ri.RuntimeError_:
                if early is not None:
                    await asyncio.gather(early, return_exceptions=True)
                # What the early creates made after the runtime removed the sandbox goes too.
                await self.runtime.remove_pod_sandbox(created.id)
                p.early.clear()
                raise
        except ri.RuntimeError_ as e:
            await asyncio.gather(volumes, return_exceptions=True)
            message = f"failed to create pod sandbox: {e}"
            self.recorder.event(pod, WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {e}")
            self.sandbox_backoff.next((uid, "POD"))
            self._sandbox_failed[uid] = (time.time(), message)
            self._all_waiting(pod, p, "CreateContainerError", message)
            p.after(self.sandbox_backoff.delay((uid, "POD")))
            return None
        except BaseException:
            await taskgroup.cancel_and_wait([t for t in (early, volumes) if t is not None])
            raise
        self._sandbox_failed.pop(uid, None)
        try:
            if early is not None:
                await early
            p.volumes = await volumes
        except (vols.VolumeError, OSError) as e:
            p.early.clear()
            self.recorder.event(pod, WARNING, "FailedMount", getattr(e, "event_message", None)
                                or f"MountVolume.SetUp failed: {e}")
            await self.runtime.stop_pod_sandbox(sandbox.id)
            await self.runtime.remove_pod_sandbox(sandbox.id)
            self._all_waiting(pod, p, "ContainerCreating", "")
            p.after(_RETRY_S)
            return None
        if previous:
            self.recorder.event(pod, NORMAL, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
        return sandbox

    async def _create_early(self, pod: typed.Pod, sandbox: ri.PodSandbox,
                            volumes: asyncio.Task[dict[str, vols.HostVolume]], p: _Pass) -> None:
        """Create the pod's app containers in ``sandbox`` (just created, starting) once its
        volumes are ready; ``_sync_containers`` starts them. A volume failure creates none:
        the sandbox is removed again by the caller."""
        try:
            p.volumes = await volumes
        except (vols.VolumeError, OSError):
            return
        floor = self._restart_floor.get(pod["metadata"]["uid"], {})
        spec = pod.get("spec") or {}

        async def one(c: typed.Container) -> None:
            p.early[c["name"]] = await self._create(pod, c, sandbox, p, restart_count=floor.get(c["name"], 0),
                                                    announce=False)
        await asyncio.gather(*(one(c) for c in spec.get("containers") or []))

    def _all_waiting(self, pod: typed.Pod, p: _Pass, reason: str, message: str) -> None:
        spec = pod.get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            p.waiting[c["name"]] = (reason, message)

    async def _sync_containers(self, pod: typed.Pod, sandbox: ri.PodSandbox,
                               by_name: dict[str, list[ri.ContainerStatus]], p: _Pass) -> None:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        uid = pod["metadata"]["uid"]
        floor = self._restart_floor.get(uid, {})
        for c in spec.get("initContainers") or []:
            attempts = by_name.get(c["name"]) or []
            latest = attempts[0] if attempts else None
            if latest is not None and latest.state is ri.ContainerState.EXITED and latest.exit_code == 0:
                continue
            if latest is None:
                await self._start(pod, c, sandbox, p, restart_count=floor.get(c["name"], 0), init=True)
            elif latest.state is ri.ContainerState.CREATED:
                await self.runtime.remove_container(latest.id)
                await self._start(pod, c, sandbox, p, restart_count=latest.restart_count, init=True)
            elif latest.state is ri.ContainerState.EXITED and policy != "Never":
                await self._restart(pod, c, sandbox, latest, p, init=True)
            return  # the next init container (or the app containers) waits for this one

        for c in spec.get("containers") or []:
            name = c["name"]
            attempts = by_name.get(name) or []
            latest = attempts[0] if attempts else None
            if latest is None:
                if name in p.early:
                    if (early := p.early.pop(name)) is not None:
                        fp = _field_path(name, False)
                        self.recorder.event(pod, NORMAL, "Created", f"Created container {name}", field_path=fp)
                        await self._run(pod, c, early, p, fp)
                    continue
                await self._start(pod, c, sandbox, p, restart_count=floor.get(name, 0))
                continue
            if latest.state is ri.ContainerState.CREATED:
                await self.runtime.remove_container(latest.id)
                await self._start(pod, c, sandbox, p, restart_count=latest.restart_count)
                continue
            if latest.state is ri.ContainerState.RUNNING:
                why = None
                if latest.labels.get(cfgs.LABEL_HASH) not in (None, cfgs.spec_hash(c)):
                    why = f"Container {name} definition changed, will be restarted"
                else:
                    why = self.probes.failed(uid, name, latest.id)
                if why is None:
                    continue
                self.recorder.event(pod, NORMAL, "Killing", why, field_path=_field_path(name, False))
                self.probes.stop_container(uid, name)
                await self._stop(latest.id, _grace(pod))
                p.changed = True
                latest = await self._inspect(latest) or latest
            if latest.state is ri.ContainerState.EXITED and _should_restart(policy, latest.exit_code):
                await self._restart(pod, c, sandbox, latest, p)

        # Ephemeral containers (kubectl debug): started once each, in the pod's namespaces
        # (and the target container's PID namespace), never restarted, never probed.
        for c in spec.get("ephemeralContainers") or []:
            if by_name.get(c["name"]):
                continue
            target = None
            if c.get("targetContainerName"):
                running = [a for a in by_name.get(c["targetContainerName"]) or []
                           if a.state is ri.ContainerState.RUNNING]
                if not running:
                    p.waiting[c["name"]] = ("ContainerCreating", f"target container "
                                            f"{c['targetContainerName']!r} is not running")
                    p.after(_RETRY_S)
                    continue
                target = running[0].id
            await self._start(pod, c, sandbox, p, restart_count=0, ephemeral=True, pid_target=target)

    async def _restart(self, pod: typed.Pod, c: typed.Container, sandbox: ri.PodSandbox, latest: ri.ContainerStatus,
                       p: _Pass, *, init: bool = False) -> None:
        md = pod["metadata"]
        name = c["name"]
        key = (md["uid"], name)
        remaining = self.crash_backoff.remaining(key, since=_ts(latest.finished_at))
        if remaining > 0:
            delay = int(self.crash_backoff.delay(key))
            who = f"{md['name']}_{md['namespace']}({md['uid']})"
            p.waiting[name] = ("CrashLoopBackOff", f"back-off {_duration(delay)} restarting failed container={name} pod={who}")
            self.recorder.event(pod, WARNING, "BackOff", f"Back-off restarting failed container {name} in pod {who}",
                                field_path=_field_path(name, init))
            p.after(remaining)
            return
        self.crash_backoff.next(key, since=_ts(latest.started_at))
        await self._start(pod, c, sandbox, p, restart_count=latest.restart_count + 1, init=init)

    async def _start(self, pod: typed.Pod, c: typed.Container, sandbox: ri.PodSandbox, p: _Pass, *, restart_count: int,
                     init: bool = False, ephemeral: bool = False, pid_target: ri.ContainerId | None = None) -> None:
        container_id = await self._create(pod, c, sandbox, p, restart_count=restart_count, init=init,
                                          ephemeral=ephemeral, pid_target=pid_target)
        if container_id is not None:
            await self._run(pod, c, container_id, p, _field_path(c["name"], init, ephemeral))

    async def _create(self, pod: typed.Pod, c: typed.Container, sandbox: ri.PodSandbox, p: _Pass, *,
                      restart_count: int, init: bool = False, ephemeral: bool = False,
                      pid_target: ri.ContainerId | None = None, announce: bool = True) -> ri.ContainerId | None:
        """The container created (image present, config built), or None with the failure
        recorded. ``announce=False``: the caller records the Created event itself."""
        name = c["name"]
        fp = _field_path(name, init, ephemeral)
        if not await self._ensure_image(pod, c, p, fp):
            return None
        try:
            if p.volumes is None:
                p.volumes = await vols.prepare_volumes(pod, node_root=self.node.root, client=self._reader(pod),
                                                     tokens=self.tokens)
            # A thread hop costs ~60 us of CPU: only for the subPath dirs mounts_for may make.
            mounts = (await asyncio.to_thread(vols.mounts_for, c, p.volumes) if vols.mounts_touch_disk(c)
                      else vols.mounts_for(c, p.volumes))
            service_env = await self.net.service_env(pod) if self.net is not None else None
            config = await cfgs.build_config(
                pod, c, restart_count=restart_count, pod_ip=sandbox.ip or self.node.host_ip,
                host_ip=self.node.host_ip, node_allocatable=self.node.allocatable, mounts=mounts,
                client=self._reader(pod), service_env=service_env)
            if pid_target is not None:
                config = dataclasses.replace(config, pid_target=pid_target)
        except vols.VolumeError as e:
            self.recorder.event(pod, WARNING, "FailedMount", e.event_message or f"MountVolume.SetUp failed: {e}")
            p.waiting[name] = ("CreateContainerConfigError", str(e))
            p.after(_RETRY_S)
            return None
        except (cfgs.ConfigError, ValueError, OSError, TimeoutError) as e:
            self.recorder.event(pod, WARNING, "Failed", f"Error: {e}", field_path=fp)
            p.waiting[name] = ("CreateContainerConfigError", str(e))
            p.after(_RETRY_S)
            return None
        try:
            container_id = await self.runtime.create_container(sandbox.id, config, sandbox=sandbox)
        except ri.RuntimeError_ as e:
            self.recorder.event(pod, WARNING, "Failed", f"Error: {e}", field_path=fp)
            p.waiting[name] = ("CreateContainerError", str(e))
            p.after(_RETRY_S)
            return None
        p.changed = True
        p.created.append(container_id)
        if announce:
            self.recorder.event(pod, NORMAL, "Created", f"Created container {name}", field_path=fp)
        return container_id

    async def _run(self, pod: typed.Pod, c: typed.Container, container_id: ri.ContainerId, p: _Pass, fp: str) -> None:
        md = pod["metadata"]
        name, image = c["name"], c.get("image") or ""
        try:
            await self.runtime.start_container(container_id)
        except ri.RuntimeError_ as e:
            message = f"failed to start container \"{name}\": {e}"
            self.recorder.event(pod, WARNING, "Failed", f"Error: {message}", field_path=fp)
            p.waiting[name] = ("RunContainerError", message)
            # It counts as a crash: the next start waits out the back-off.
            self.crash_backoff.next((md["uid"], name))
            p.after(_AFTER_PULL_FAILURE_S)
            return
        self.recorder.event(pod, NORMAL, "Started", f"Started container {name}", field_path=fp)
        log.debug("started %s/%s container %s (%s)", md["namespace"], md["name"], name, image)

    async def _ensure_image(self, pod: typed.Pod, c: typed.Container, p: _Pass, fp: str) -> bool:
        uid = pod["metadata"]["uid"]
        name, image = c["name"], c.get("image") or ""
        policy = cfgs.pull_policy(c)
        if policy is not ri.PullPolicy.ALWAYS:
            try:
                await self.runtime.pull_image(image, policy=ri.PullPolicy.NEVER)
                self.recorder.event(pod, NORMAL, "Pulled", f'Container image "{image}" already present on machine',
                                    field_path=fp)
                return True
            except ri.ImagePullError as e:
                if policy is ri.PullPolicy.NEVER:
                    self.recorder.event(pod, WARNING, "ErrImageNeverPull", str(e), field_path=fp)
                    p.waiting[name] = ("ErrImageNeverPull", str(e))
                    p.after(_RETRY_S)
                    return False
        key = (uid, image)
        failed_at = self._pull_failed_at.get(key)
        if failed_at is not None:
            remaining = self.image_backoff.remaining(key, since=failed_at)
            if remaining > 0:
                message = f'Back-off pulling image "{image}"'
                self.recorder.event(pod, NORMAL, "BackOff", message, field_path=fp)
                p.waiting[name] = ("ImagePullBackOff", message)
                p.after(remaining)
                return False
        self.recorder.event(pod, NORMAL, "Pulling", f'Pulling image "{image}"', field_path=fp)
        started = time.monotonic()
        try:
            await self.runtime.pull_image(image, policy=ri.PullPolicy.ALWAYS)
        except ri.RuntimeError_ as e:
            self.image_backoff.next(key)
            self._pull_failed_at[key] = time.time()
            self.recorder.event(pod, WARNING, "Failed", f'Failed to pull image "{image}": {e}', field_path=fp)
            self.recorder.event(pod, WARNING, "Failed", "Error: ErrImagePull", field_path=fp)
            p.waiting[name] = ("ErrImagePull", str(e))
            p.after(_AFTER_PULL_FAILURE_S)
            return False
        self._pull_failed_at.pop(key, None)
        took = time.monotonic() - started
        self.recorder.event(pod, NORMAL, "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s', field_path=fp)
        return True

    async def _stop(self, container_id: str, grace: float) -> None:
        with contextlib.suppress(ri.NotFoundError):
            await self.runtime.stop_container(ri.ContainerId(container_id), timeout=grace)

    async def _report(self, pod: typed.Pod, p: _Pass, sandbox: ri.PodSandbox | None,
                      observed: dict[str, list[ri.ContainerStatus]] | list[ri.Container], *,
                      readiness: dict[ri.ContainerId, bool] | None = None, pod_is_terminal: bool = False) -> typed.PodStatus:
        """Compute the status from what was observed and write it if it changed. ``readiness``
        (container id -> ready) stands for the probes' answers once they are stopped."""
        if isinstance(observed, list):
            observed = await self._attempts(observed)
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}

        def view(c: typed.Container, init: bool) -> ContainerView:
            attempts = observed.get(c["name"]) or []
            latest = attempts[0] if attempts else None
            prev = attempts[1] if len(attempts) > 1 else None
            running = latest is not None and latest.state is ri.ContainerState.RUNNING
            latest_id = latest.id if latest is not None else ri.ContainerId("")  # read only when running
            return ContainerView(
                latest=latest, previous=prev, waiting=p.waiting.get(c["name"]),
                ready=running and not init and (self.probes.ready(uid, c["name"], latest_id) if readiness is None
                                                 else readiness.get(latest_id, False)),
                started=running and self.probes.started(uid, c["name"], latest_id),
                restart_count=latest.restart_count if latest else self._restart_floor.get(uid, {}).get(c["name"], 0))

        status = compute_pod_status(
            pod, init_views={c["name"]: view(c, True) for c in spec.get("initContainers") or []},
            app_views={c["name"]: view(c, False) for c in spec.get("containers") or []},
            ephemeral_views={c["name"]: view(c, True) for c in spec.get("ephemeralContainers") or []},
            pod_ip=(sandbox.ip or self.node.host_ip) if sandbox is not None else None,
            host_ip=self.node.host_ip, sandbox_ready=sandbox is not None, runtime=self.runtime_name,
            pod_message=p.pod_message, pod_is_terminal=pod_is_terminal)
        await self.writer.write(pod, status)
        return status

    # --- teardown ---------------------------------------------------------------------------

    async def terminate(self, uid: str, pod: typed.Pod | None) -> None:
        """Stop every container of the pod (SIGTERM, then SIGKILL after the grace period) and
        its sandbox, remove its volumes' directory and forget the pod's state; the stopped
        containers are left to the container GC.

        A pod still in the API (being deleted) has its status written as its containers stop,
        as Kubernetes' status manager does: a container that stopped while others still run is
        terminated and not ready, so Ready turns False, and once all have stopped one write
        says so with the terminal phase. Only then is the pod removed, so a client waiting for
        Ready=False sees it before the pod goes."""
        sandboxes, containers = await self.runtime.list_pod_resources(node=self.node.name, pod_uid=uid)
        running = [c for c in containers if c.state is ri.ContainerState.RUNNING]
        # The probes stop now; a container still running keeps its last readiness meanwhile.
        readiness = {c.id: self.probes.ready(uid, c.name, c.id) for c in running}
        self.probes.remove_pod(uid)
        grace = _grace(pod) if pod is not None else _MIN_GRACE_S
        if pod is not None:
            for c in running:
                self.recorder.event(pod, NORMAL, "Killing", f"Stopping container {c.name}",
                                    field_path=_field_path(c.name, False))
        reporting = asyncio.Lock()
        still_running = len(running)

        async def stop(c: ri.Container) -> None:
            nonlocal still_running
            await self._stop(c.id, grace)
            readiness[c.id] = False
            still_running -= 1
            # The last container's stop is told by the final report just below (terminated, not
            # ready, and the terminal phase): one status write and one listing fewer per pod.
            if pod is not None and still_running:
                async with reporting:
                    await self._report_terminating(pod, readiness, done=False)

        await asyncio.gather(*(stop(c) for c in running))
        if pod is not None:
            await self._report_terminating(pod, readiness, done=True)
        # The app containers have had their grace period; the sandboxes stop now (their pause
        # process exits on SIGTERM; the pod's address is released), as Kubernetes' StopPodSandbox.
        # Removing the stopped containers and sandboxes is the container GC's (container_gc.py),
        # once the pod is gone: not on the path of the deletion, nor of the pods starting now.
        await asyncio.gather(*(self.runtime.stop_pod_sandbox(s.id) for s in sandboxes
                               if s.state is ri.SandboxState.READY))
        await vols.remove_pod_dir(self.node.root, uid)
        self.forget(uid)

    async def _report_terminating(self, pod: typed.Pod, readiness: dict[ri.ContainerId, bool], *, done: bool) -> None:
        uid = pod["metadata"]["uid"]
        try:
            sandboxes, containers = await self.runtime.list_pod_resources(node=self.node.name, pod_uid=uid)
            ready = [s for s in sandboxes if s.state is ri.SandboxState.READY]
            sandbox = max(ready, key=lambda s: (s.attempt, s.created_at)) if ready else None
            await self._report(pod, _Pass(), sandbox, containers, readiness=readiness,
                               pod_is_terminal=done and not any(c.state is ri.ContainerState.RUNNING
                                                                for c in containers))
        except (ri.RuntimeError_, errors.ApiError, errors.ConnectionFailed) as e:
            # The teardown goes on: a status not written is no reason to leave containers behind.
            log.warning("pod %s/%s: cannot report its terminating status: %s",
                        pod["metadata"].get("namespace"), pod["metadata"]["name"], e)

    def forget(self, uid: str) -> None:
        self.writer.forget(uid)
        self.pod_starts.forget(uid)
        if self.tokens is not None:
            self.tokens.forget(uid)
        if self.objects is not None:
            self.objects.forget(uid)
        self._restart_floor.pop(uid, None)
        self._sandbox_failed.pop(uid, None)
        self._terminal.discard(uid)
        self._network_waiting.discard(uid)
        for b in (self.crash_backoff, self.image_backoff, self.sandbox_backoff):
            b.forget_prefix(uid)
        for key in [k for k in self._pull_failed_at if k[0] == uid]:
            del self._pull_failed_at[key]


def _by_name(statuses: list[ri.ContainerStatus | None]) -> dict[str, list[ri.ContainerStatus]]:
    """Per container name, its attempts newest first (None: gone since it was listed)."""
    out: dict[str, list[ri.ContainerStatus]] = defaultdict(list)
    for s in statuses:
        if s is not None:
            out[s.name].append(s)
    for tries in out.values():
        tries.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
    return out


def _may_create_early(pod: typed.Pod) -> bool:
    """Whether the app containers can be created before the sandbox runs: none waits for an
    init container, and none is told the pod's IP (known once the sandbox runs)."""
    spec = pod.get("spec") or {}
    if spec.get("initContainers"):
        return False
    return not any(((e.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath") in ("status.podIP", "status.podIPs")
                   for c in spec.get("containers") or [] for e in c.get("env") or [])


def _grace(pod: typed.Pod) -> float:
    md, spec = pod["metadata"], pod.get("spec") or {}
    if md.get("deletionTimestamp") and md.get("deletionGracePeriodSeconds") is not None:
        return max(0, int(md["deletionGracePeriodSeconds"]))
    g = spec.get("terminationGracePeriodSeconds")
    return 30 if g is None else max(0, int(g))


def _duration(seconds: int) -> str:
    """Go's time.Duration formatting for whole seconds: 10s, 1m20s, 5m0s."""
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60}s"
