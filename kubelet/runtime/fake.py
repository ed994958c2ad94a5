"""The hollow container runtime: ``ContainerRuntime`` with no engine behind it (kubemark's).

Sandboxes and containers exist only as entries in dicts; a started container is "running" at
once and stays so until stopped. IDs are random 64-hex strings, so a thousand hollow nodes fit
in one process. It keeps the real runtime's contract where a kubelet can tell: the same labels
and names, ``NotFoundError`` for unknown ids, idempotent removal, a hostPort taken twice on one
node fails to start.

Nothing here ever sends a packet. A sandbox joins its node's pod network
(:meth:`ensure_pod_network`, the node's podCIDR) and takes a free address of it, as a bridge's
IPAM would; without a pod network (the node has no podCIDR yet) it cannot be made. Probes are
not run but decided (:meth:`decided_probe`): success, unless the pod's annotation
``probe.hollow.minik8s.io/<container>.<liveness|readiness|startup>`` is ``Failure`` (read at
every probe, so a test may flip it on a running pod). Exec and logs fail with
``NotFoundError``: a hollow container has no process to run a command in or to read output
from, as a node whose engine lost the container would answer.

Test knobs (keyword-only): ``images`` limits which images "exist" locally (default: every
image exists, nothing ever needs pulling), ``pullable`` which of the others a pull fetches;
:meth:`exit` makes a running container exit with a code, as a crashed process would. A
container whose environment sets :data:`EXIT_ENV` (``MINIK8S_HOLLOW_EXIT=<code>``) is a process
that runs to completion: it exits with that code as soon as it has started (batch pods —
Jobs — on hollow nodes).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
import socket
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from kubelet.runtime import interface as ri
from kubelet.runtime.interface import ContainerId, SandboxId

__all__ = ["FakeRuntime", "EXIT_ENV", "PROBE_ANNOTATION_PREFIX", "probe_annotation"]

# ``probe.hollow.minik8s.io/<container>.<kind>: Failure`` makes that probe of a hollow pod fail.
PROBE_ANNOTATION_PREFIX = "probe.hollow.minik8s.io/"
_FAILURE = "failure"
# A hollow container with this variable in its environment exits with its value once started.
EXIT_ENV = "MINIK8S_HOLLOW_EXIT"
# Docker's code for a process ended by SIGTERM (128 + 15): what a stopped container shows.
_STOPPED_EXIT_CODE = 143


_Id = TypeVar("_Id", bound=str)


def _exit_code(env: Mapping[str, str]) -> int | None:
    raw = env.get(EXIT_ENV)
    try:
        return None if raw is None else int(raw)
    except ValueError:
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class _Sandbox:
    config: ri.PodSandboxConfig
    status: ri.PodSandbox


@dataclass
class _Container:
    status: ri.ContainerStatus
    engine_name: str  # k8s_<container>_<pod>_<ns>_<uid>_<n>, unique as Docker's names are
    exit_code: int | None = None  # runs to completion with this code (EXIT_ENV)


@dataclass
class _PodNetwork:
    """A node's pod network: its subnet and the addresses its sandboxes hold."""

    config: ri.PodNetworkConfig
    used: set[str] = field(default_factory=set)
    cursor: int = 0  # where the search for a free address resumes (round robin, as IPAM does)


class _Index(Generic[_Id]):
    """Ids by node and by pod uid, each in creation order (dicts as ordered sets)."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[_Id, None]] = {}
        self._by_pod: dict[str, dict[_Id, None]] = {}

    def add(self, id_: _Id, *, node: str, pod_uid: str) -> None:
        self._by_node.setdefault(node, {})[id_] = None
        self._by_pod.setdefault(pod_uid, {})[id_] = None

    def remove(self, id_: _Id, *, node: str, pod_uid: str) -> None:
        for index, key in ((self._by_node, node), (self._by_pod, pod_uid)):
            ids = index.get(key)
            if ids is not None:
                ids.pop(id_, None)
                if not ids:
                    del index[key]

    def find(self, every: Mapping[_Id, object] | None = None, *, node: str | None = None,
             pod_uid: str | None = None) -> list[_Id]:
        """The ids of one pod (else of one node, else ``every`` id), a copy: the caller may
        change the runtime while it walks them. The caller still checks the other filter."""
        if pod_uid is not None:
            return list(self._by_pod.get(pod_uid, ()))
        if node is not None:
            return list(self._by_node.get(node, ()))
        return list(every or ())


def probe_annotation(container: str, kind: str) -> str:
    """The pod annotation that decides a hollow probe: ``kind`` is Liveness|Readiness|Startup."""
    return f"{PROBE_ANNOTATION_PREFIX}{container}.{kind.lower()}"


class FakeRuntime(ri.ContainerRuntime):
    def __init__(self, *, images: Collection[str] | None = None,
                 pullable: Collection[str] = ()) -> None:
        self._images = None if images is None else set(images)
        self._pullable = set(pullable)
        self._sandboxes: dict[SandboxId, _Sandbox] = {}
        self._containers: dict[ContainerId, _Container] = {}
        self._networks: dict[str, _PodNetwork] = {}
        # One process holds every hollow node's sandboxes and containers (kubemark's 500 or
        # 1,000 nodes): what a node's relist or a pod's sync lists is found through these
        # indexes (ids in creation order), not by a scan of every node's containers.
        self._sandbox_ids = _Index[SandboxId]()
        self._container_ids = _Index[ContainerId]()
        self._names: dict[str, ContainerId] = {}  # engine name -> id, unique as Docker's

    @property
    def pod_networks(self) -> dict[str, ri.PodNetworkConfig]:
        return {name: net.config for name, net in self._networks.items()}

    async def ensure_pod_network(self, config: ri.PodNetworkConfig) -> bool:
        had = self._networks.get(config.name)
        if had is not None and had.config.subnet == config.subnet:
            return False
        if had is not None and had.used:
            raise ri.PodNetworkError(f"network {config.name} is on {had.config.subnet} with pods attached")
        ipaddress.ip_network(config.subnet, strict=False)  # a bad subnet fails here, as the engine's would
        self._networks[config.name] = _PodNetwork(config)
        return True

    async def remove_pod_network(self, name: str) -> None:
        self._networks.pop(name, None)

    async def version(self) -> ri.RuntimeVersion:
        return ri.RuntimeVersion(runtime_name="fake", runtime_version="0.1.0", api_version="0.1.0")

    # --- sandboxes --------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: ri.PodSandboxConfig) -> SandboxId:
        published = [] if config.host_network else [p for p in config.port_mappings if p.host_port]
        taken = {(p.host_port, p.protocol) for s in map(self._sandboxes.__getitem__,
                                                        self._sandbox_ids.find(node=config.node_name))
                 if s.status.state is ri.SandboxState.READY for p in s.status.port_mappings}
        for p in published:
            if (p.host_port, p.protocol) in taken:
                raise ri.ContainerStartError(
                    f"Bind for 0.0.0.0:{p.host_port} failed: port is already allocated")
        ip = None if config.host_network else self._allocate_ip(config)
        sandbox_id = SandboxId(secrets.token_hex(32))
        labels = {**config.labels, ri.LABEL_POD_UID: config.pod_uid, ri.LABEL_POD_NAME: config.pod_name,
                  ri.LABEL_POD_NAMESPACE: config.namespace, ri.LABEL_NODE: config.node_name,
                  ri.LABEL_CONTAINER_NAME: ri.SANDBOX_CONTAINER_NAME,
                  ri.LABEL_CONTAINER_TYPE: ri.TYPE_SANDBOX, ri.LABEL_RESTART_COUNT: str(config.attempt)}
        self._sandboxes[sandbox_id] = _Sandbox(config, ri.PodSandbox(
            id=sandbox_id, pod_uid=config.pod_uid, pod_name=config.pod_name,
            namespace=config.namespace, node_name=config.node_name, attempt=config.attempt,
            state=ri.SandboxState.READY, created_at=_now(),
            ip=ip,
            port_mappings=tuple(published), labels=labels))
        self._sandbox_ids.add(sandbox_id, node=config.node_name, pod_uid=config.pod_uid)
        return sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        for container_id in self._container_ids.find(pod_uid=sandbox.status.pod_uid):
            if self._containers[container_id].status.sandbox_id == sandbox_id:
                self._exit(container_id, _STOPPED_EXIT_CODE)
        self._release_ip(sandbox)
        sandbox.status = replace(sandbox.status, state=ri.SandboxState.NOT_READY, ip=None)

    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            return
        for container_id in self._container_ids.find(pod_uid=sandbox.status.pod_uid):
            if self._containers[container_id].status.sandbox_id == sandbox_id:
                self._drop_container(container_id)
        self._sandbox_ids.remove(sandbox_id, node=sandbox.status.node_name, pod_uid=sandbox.status.pod_uid)
        self._release_ip(sandbox)

    async def list_pod_sandboxes(self, *, node: str | None = None,
                                 pod_uid: str | None = None) -> list[ri.PodSandbox]:
        return [s.status for s in map(self._sandboxes.__getitem__,
                                      self._sandbox_ids.find(self._sandboxes, node=node, pod_uid=pod_uid))
                if (node is None or s.status.node_name == node)
                and (pod_uid is None or s.status.pod_uid == pod_uid)]

    async def sandbox_status(self, sandbox_id: SandboxId) -> ri.PodSandbox:
        return self._sandbox(sandbox_id).status

    # --- images -----------------------------------------------------------------------------

    async def pull_image(self, image: str, *, policy: ri.PullPolicy = ri.PullPolicy.IF_NOT_PRESENT) -> str:
        present = self._images is None or image in self._images
        if policy is ri.PullPolicy.NEVER or (policy is ri.PullPolicy.IF_NOT_PRESENT and present):
            if not present:
                raise ri.ImageNeverPullError(
                    image, f'Container image "{image}" is not present with pull policy of Never')
            return _image_id(image)
        if self._images is not None:
            if image not in self._pullable:
                raise ri.ImagePullError(image, f'failed to pull image "{image}": repository does not exist')
            self._images.add(image)
        return _image_id(image)

    # --- containers -------------------------------------------------------------------------

    async def create_container(self, sandbox_id: SandboxId, config: ri.ContainerConfig, *,
                               sandbox: ri.PodSandbox | None = None) -> ContainerId:
        # The fake's own record is at hand: nothing is saved by trusting the caller's ``sandbox``.
        record = self._sandbox(sandbox_id)
        if record.status.state is not ri.SandboxState.READY:
            raise ri.ContainerCreateError(f"pod sandbox {sandbox_id[:12]} is not running")
        if self._images is not None and config.image not in self._images:
            raise ri.ContainerCreateError(f"No such image: {config.image}")
        name = ri.container_name(config, pod_name=record.config.pod_name,
                                 namespace=record.config.namespace, pod_uid=record.config.pod_uid)
        if name in self._names:
            raise ri.ContainerCreateError(f'Conflict. The container name "/{name}" is already in use')
        s = record.status
        labels = {**config.labels, ri.LABEL_POD_UID: s.pod_uid, ri.LABEL_POD_NAME: s.pod_name,
                  ri.LABEL_POD_NAMESPACE: s.namespace, ri.LABEL_NODE: s.node_name,
                  ri.LABEL_SANDBOX_ID: sandbox_id, ri.LABEL_CONTAINER_NAME: config.name,
                  ri.LABEL_CONTAINER_TYPE: ri.TYPE_CONTAINER,
                  ri.LABEL_RESTART_COUNT: str(config.restart_count)}
        container_id = ContainerId(secrets.token_hex(32))
        self._containers[container_id] = _Container(ri.ContainerStatus(
            id=container_id, sandbox_id=sandbox_id, pod_uid=s.pod_uid, pod_name=s.pod_name,
            namespace=s.namespace, node_name=s.node_name, name=config.name,
            restart_count=config.restart_count, state=ri.ContainerState.CREATED,
            image=config.image, image_id=_image_id(config.image), created_at=_now(), labels=labels),
            engine_name=name, exit_code=_exit_code(config.env))
        self._container_ids.add(container_id, node=s.node_name, pod_uid=s.pod_uid)
        self._names[name] = container_id
        return container_id

    async def start_container(self, container_id: ContainerId) -> None:
        container = self._container(container_id)
        container.status = replace(container.status, state=ri.ContainerState.RUNNING, started_at=_now())
        if container.exit_code is not None:
            self._exit(container_id, container.exit_code)

    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        self._container(container_id)
        self._exit(container_id, _STOPPED_EXIT_CODE)

    async def remove_container(self, container_id: ContainerId) -> None:
        if container_id in self._containers:
            self._drop_container(container_id)

    async def list_containers(self, *, node: str | None = None, pod_uid: str | None = None,
                              sandbox_id: SandboxId | None = None) -> list[ri.Container]:
        return [c.status for c in map(self._containers.__getitem__,
                                      self._container_ids.find(self._containers, node=node, pod_uid=pod_uid))
                if (node is None or c.status.node_name == node)
                and (pod_uid is None or c.status.pod_uid == pod_uid)
                and (sandbox_id is None or c.status.sandbox_id == sandbox_id)]

    async def container_status(self, container_id: ContainerId) -> ri.ContainerStatus:
        return self._container(container_id).status

    async def exec_sync(self, container_id: ContainerId, cmd: Sequence[str], *,
                        timeout: float | None = None) -> ri.ExecResult:
        raise self._no_process(container_id, "exec in")

    async def exec(self, container_id: ContainerId, cmd: Sequence[str], *, stdin: bool = False,
                   tty: bool = False) -> ri.ExecSession:
        raise self._no_process(container_id, "exec in")

    async def attach(self, container_id: ContainerId, *, stdin: bool = False, tty: bool = False) -> ri.ExecSession:
        raise self._no_process(container_id, "attach to")

    forwards_ports = False

    async def port_forward(self, sandbox_id: SandboxId, port: int) -> socket.socket:
        # A hollow node never dials a pod: there is no process behind the port.
        raise ri.RuntimeError_(f"port-forward is not supported by the hollow runtime: sandbox {sandbox_id[:12]} "
                               f"has no network namespace to connect to port {port} in")

    def logs(self, container_id: ContainerId, *, follow: bool = False, tail: int | None = None,
             timestamps: bool = False, since: datetime.datetime | None = None) -> AsyncGenerator[bytes, None]:
        # Raised at the call, before any iterator exists: the node API answers it as an error.
        raise self._no_process(container_id, "read logs of")

    def decided_probe(self, container_id: ContainerId, *, container: str, kind: str,
                      annotations: Mapping[str, str]) -> tuple[bool, str]:
        self._container(container_id)
        key = probe_annotation(container, kind)
        if (annotations.get(key) or "").lower() == _FAILURE:
            return False, f"hollow node: {kind} probe set to fail by annotation {key}"
        return True, ""

    # --- test hooks -------------------------------------------------------------------------

    def exit(self, container_id: ContainerId, exit_code: int, *, oom_killed: bool = False) -> None:
        """Make a running container exit, as if its process ended with ``exit_code``."""
        self._container(container_id)
        self._exit(container_id, exit_code, oom_killed=oom_killed)

    # --- helpers ----------------------------------------------------------------------------

    def _drop_container(self, container_id: ContainerId) -> None:
        container = self._containers.pop(container_id)
        s = container.status
        self._container_ids.remove(container_id, node=s.node_name, pod_uid=s.pod_uid)
        if self._names.get(container.engine_name) == container_id:
            del self._names[container.engine_name]

    def _exit(self, container_id: ContainerId, exit_code: int, *, oom_killed: bool = False) -> None:
        container = self._containers[container_id]
        if container.status.state is not ri.ContainerState.RUNNING:
            return
        container.status = replace(
            container.status, state=ri.ContainerState.EXITED, exit_code=exit_code, finished_at=_now(),
            reason=ri.terminated_reason(exit_code=exit_code, oom_killed=oom_killed))

    def _allocate_ip(self, config: ri.PodSandboxConfig) -> str:
        net = self._networks.get(config.network or "")
        if net is None:
            raise ri.NetworkNotReadyError(f"node {config.node_name} has no pod network "
                                     f"{config.network or '(none given)'} (no podCIDR yet)")
        subnet = ipaddress.ip_network(net.config.subnet, strict=False)
        first, size = int(subnet.network_address) + 1, max(0, subnet.num_addresses - 2)
        for step in range(size):
            candidate = str(ipaddress.ip_address(first + (net.cursor + step) % size))
            if candidate not in net.used and candidate != net.config.gateway:
                net.used.add(candidate)
                net.cursor = (net.cursor + step + 1) % size
                return candidate
        raise ri.ContainerCreateError(f"no IP addresses available in range set: {net.config.subnet}")

    def _release_ip(self, sandbox: _Sandbox) -> None:
        net = self._networks.get(sandbox.config.network or "")
        if net is not None and sandbox.status.ip is not None:
            net.used.discard(sandbox.status.ip)

    def _no_process(self, container_id: ContainerId, what: str) -> ri.NotFoundError:
        name = self._container(container_id).status.name
        return ri.NotFoundError(f'container "{name}" not found: a hollow node (--runtime fake) runs no '
                                f"processes to {what}")

    def _sandbox(self, sandbox_id: SandboxId) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise ri.NotFoundError(f"pod sandbox {sandbox_id} not found") from None

    def _container(self, container_id: ContainerId) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise ri.NotFoundError(f"container {container_id} not found") from None


def _image_id(image: str) -> str:
    # Stable per name, like a content digest would be.
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()
