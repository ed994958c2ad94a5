"""The kubelet's container runtime interface: what a node agent asks of a container engine.

Shaped like Kubernetes' CRI (``RuntimeService`` + ``ImageService``), made async: a pod is a
*sandbox* (the pod's network/IPC/UTS namespaces, held by a pause container) plus its
*containers*, each of which joins the sandbox's namespaces. The kubelet's pod workers drive
it; ``docker.DockerRuntime`` is the real implementation, ``fake.FakeRuntime`` the hollow one
(kubemark) for thousands of simulated nodes.

Ownership. Everything a runtime creates carries labels (``LABEL_*`` below): the pod's uid,
name and namespace, the container name (``POD`` for the sandbox), the node, the kind
(sandbox|container), the restart count, and the sandbox id. A restarted kubelet adopts what
runs by listing them; two kubelets sharing one engine never touch each other's containers
because every list filters by the node label.

Errors. Every failure leaves a runtime as one of these, never as an engine library's own::

    RuntimeError_                 any runtime failure (engine unreachable, unexpected answer)
    ├── NotFoundError             no such sandbox / container / exec target
    ├── ImagePullError            an image could not be pulled, or is absent under "Never"
    │   └── ImageNeverPullError   absent and the pull policy is "Never" (ErrImageNeverPull)
    ├── PodNetworkError           the node's pod network cannot be made as asked
    │   └── NetworkNotReadyError  no pod network yet for a new sandbox (NetworkPluginNotReady)
    ├── ContainerCreateError      the engine refused to create a container or sandbox
    │   └── ContainerStartError   created, but it could not start (command not found,
    │                             port already allocated) -- Kubernetes' RunContainerError
    └── ExecTimeoutError          an exec_sync command outlived its timeout (it is killed)

Events. A runtime that can stream its containers' changes (``streams_events``) answers
``container_events``: the kubelet's evented PLEG follows it instead of relisting every second.

Streaming exec. ``exec`` starts a command with its stdin, stdout and stderr (or a TTY) wired
to an :class:`ExecSession`, which the node's HTTP API relays to ``kubectl exec``.
"""

from __future__ import annotations

import abc
import datetime
import enum
import socket
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, NewType

__all__ = [
    "SandboxId", "ContainerId", "ContainerRuntime",
    "PodSandboxConfig", "ContainerConfig", "PortMapping", "DNSConfig", "Mount", "Resources",
    "SecurityContext", "PodSandbox", "SandboxState", "Container", "ContainerStatus",
    "ContainerState", "ContainerEvent", "ContainerEventType", "ExecResult", "ExecSession", "RuntimeVersion", "PullPolicy",
    "RuntimeError_", "NotFoundError", "ImagePullError", "ImageNeverPullError",
    "ContainerCreateError", "ContainerStartError", "ExecTimeoutError",
    "LABEL_POD_UID", "LABEL_POD_NAME", "LABEL_POD_NAMESPACE", "LABEL_CONTAINER_NAME",
    "LABEL_NODE", "LABEL_CONTAINER_TYPE", "LABEL_RESTART_COUNT", "LABEL_SANDBOX_ID",
    "SANDBOX_CONTAINER_NAME", "TYPE_SANDBOX", "TYPE_CONTAINER",
    "container_name", "sandbox_name", "terminated_reason",
]

SandboxId = NewType("SandboxId", str)
ContainerId = NewType("ContainerId", str)

LABEL_POD_UID = "io.minik8s.pod.uid"
LABEL_POD_NAME = "io.minik8s.pod.name"
LABEL_POD_NAMESPACE = "io.minik8s.pod.namespace"
LABEL_CONTAINER_NAME = "io.minik8s.container.name"
LABEL_NODE = "io.minik8s.node"
LABEL_CONTAINER_TYPE = "io.minik8s.container.type"
LABEL_RESTART_COUNT = "io.minik8s.container.restartCount"
LABEL_SANDBOX_ID = "io.minik8s.sandbox.id"

SANDBOX_CONTAINER_NAME = "POD"
TYPE_SANDBOX = "sandbox"
TYPE_CONTAINER = "container"


# --- errors ---------------------------------------------------------------------------------


class RuntimeError_(Exception):
    """Raised when the runtime fails in a way no subclass names (engine down, bad answer)."""


class NotFoundError(RuntimeError_):
    """Raised when the sandbox, container or exec target does not exist."""


class PodNetworkError(RuntimeError_):
    """Raised when the node's pod network cannot be made as asked (e.g. it must move to a new
    subnet while pods are still attached)."""


class NetworkNotReadyError(PodNetworkError):
    """Raised when a sandbox cannot be made yet because the node's pod network is not ready
    (no podCIDR yet, or its network could not be made): the pod waits, as Kubernetes' do while
    the runtime reports NetworkReady=false."""


@dataclass(frozen=True, slots=True)
class PodNetworkConfig:
    """The node's pod network: a bridge on the node's podCIDR that sandboxes join by ``name``
    (``PodSandboxConfig.network``). Address translation of pod traffic is the kubelet's to
    decide (``masquerade`` False: it installs its own rules)."""

    name: str
    subnet: str
    gateway: str
    bridge: str
    labels: Mapping[str, str] = field(default_factory=dict)
    masquerade: bool = False


class ImagePullError(RuntimeError_):
    """Raised when an image cannot be pulled; the message carries the engine's reason."""

    def __init__(self, image: str, message: str) -> None:
        super().__init__(message)
        self.image = image


class ImageNeverPullError(ImagePullError):
    """Raised when an image is absent and the pull policy forbids pulling it."""


class ContainerCreateError(RuntimeError_):
    """Raised when the engine refuses to create a container or sandbox."""


class ContainerStartError(ContainerCreateError):
    """Raised when a created container cannot start (command not found, port taken)."""


class ExecTimeoutError(RuntimeError_):
    """Raised when an ``exec_sync`` command runs past its timeout."""


# --- what the kubelet asks for --------------------------------------------------------------


class PullPolicy(enum.StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


@dataclass(frozen=True)
class PortMapping:
    """A container port, published on the node when ``host_port`` is set (``hostPort``)."""

    container_port: int
    host_port: int | None = None
    protocol: str = "TCP"  # TCP | UDP | SCTP, as in the pod spec
    host_ip: str = ""  # "" = every address of the node


@dataclass(frozen=True)
class DNSConfig:
    """The pod's resolv.conf: nameservers, search domains, options (``ndots:5``)."""

    servers: Sequence[str] = ()
    searches: Sequence[str] = ()
    options: Sequence[str] = ()


@dataclass(frozen=True)
class PodSandboxConfig:
    """Everything needed to make a pod's sandbox.

    ``network`` names the engine network the pod joins (the networking issue gives each node
    a bridge of its own); ``None`` is the engine's default bridge. ``host_network`` puts the
    pod in the node's namespace (``hostNetwork: true``) and ignores ``network`` and ports.
    """

    pod_uid: str
    pod_name: str
    namespace: str
    node_name: str
    hostname: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    port_mappings: Sequence[PortMapping] = ()
    dns: DNSConfig | None = None
    network: str | None = None
    host_network: bool = False
    extra_hosts: Mapping[str, str] = field(default_factory=dict)  # hostAliases: name -> ip
    attempt: int = 0


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Resources:
    """Limits in the units the kubelet computed from the pod spec's quantities.

    CPU limit becomes a CFS quota (``limit_millicpu * period / 1000``), CPU request becomes
    shares (``request * 1024 / 1000``), memory limit a hard limit with no swap beyond it.
    """

    cpu_limit_millicpu: int | None = None
    cpu_request_millicpu: int | None = None
    memory_limit_bytes: int | None = None


@dataclass(frozen=True)
class SecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: Sequence[int] = ()
    privileged: bool = False
    read_only_root_filesystem: bool = False
    capabilities_add: Sequence[str] = ()
    capabilities_drop: Sequence[str] = ()


@dataclass(frozen=True)
class ContainerConfig:
    """One container of a pod, with Kubernetes' command semantics.

    ``command`` replaces the image's ENTRYPOINT (and then the image's CMD is dropped too);
    ``args`` replaces the image's CMD. ``None`` or empty keeps the image's. ``env`` is
    already expanded by the kubelet (``$(VAR)`` references, downward API).
    """

    name: str
    image: str
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    mounts: Sequence[Mount] = ()
    resources: Resources = field(default_factory=Resources)
    security: SecurityContext = field(default_factory=SecurityContext)
    labels: Mapping[str, str] = field(default_factory=dict)  # extra labels, e.g. a spec hash
    restart_count: int = 0
    share_process_namespace: bool = False  # shareProcessNamespace: join the sandbox's PID ns
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False  # stdinOnce: stdin closes when the first attached client ends its input
    # An ephemeral container's targetContainerName, resolved: it joins that container's PID
    # namespace (kubectl debug --target) instead of its own.
    pid_target: ContainerId | None = None


# --- what the runtime reports ---------------------------------------------------------------


class SandboxState(enum.StrEnum):
    READY = "ready"
    NOT_READY = "notready"


class ContainerState(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PodSandbox:
    id: SandboxId
    pod_uid: str
    pod_name: str
    namespace: str
    node_name: str
    attempt: int
    state: SandboxState
    created_at: datetime.datetime
    ip: str | None  # None on the host network: the pod's IP is then the node's
    port_mappings: tuple[PortMapping, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Container:
    """A container as a list shows it; ``container_status`` tells exit codes and times."""

    id: ContainerId
    sandbox_id: SandboxId
    pod_uid: str
    pod_name: str
    namespace: str
    node_name: str
    name: str
    restart_count: int
    state: ContainerState
    image: str
    image_id: str
    created_at: datetime.datetime
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerStatus(Container):
    """``reason`` for an exited container is Kubernetes': ``Completed`` (exit 0), ``Error``,
    ``OOMKilled``, or ``ContainerCannotRun`` when it never started (``message`` says why)."""

    exit_code: int | None = None
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    reason: str | None = None
    message: str | None = None


class ContainerEventType(enum.StrEnum):
    """CRI's ContainerEventType: what happened to a container or sandbox."""

    CREATED = "ContainerCreated"
    STARTED = "ContainerStarted"
    STOPPED = "ContainerStopped"
    DELETED = "ContainerDeleted"


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """One change of a container or sandbox as the engine streamed it (CRI's
    ContainerEventResponse): whose pod it is, what happened, and to which kind of object."""

    id: str
    pod_uid: str
    type: ContainerEventType
    sandbox: bool


@dataclass(frozen=True)
class ContainerStats:
    """One reading of a running container's cgroup, as the engine reports it (cAdvisor's
    figures): cumulative CPU time, memory usage and its working set (usage less inactive file
    pages, what the kubelet's eviction and ``kubectl top`` count)."""

    id: ContainerId
    timestamp: datetime.datetime
    cpu_usage_core_nano_seconds: int
    memory_usage_bytes: int
    memory_working_set_bytes: int
    memory_rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None


class ExecResult(NamedTuple):
    exit_code: int
    output: bytes  # stdout and stderr interleaved, as a probe reads them


class ExecSession(abc.ABC):
    """One interactive command in a container (``kubectl exec``), started by
    :meth:`ContainerRuntime.exec`. One reader and one writer may use it at once.

    Output comes as ``(stream, data)`` with stream 1 (stdout) or 2 (stderr); with a TTY all
    output is stdout, as a terminal merges them. ``read`` returns ``None`` once the command's
    output has ended; ``wait`` then gives its exit code.
    """

    @abc.abstractmethod
    async def read(self) -> tuple[int, bytes] | None:
        """The next chunk of output, or ``None`` at its end."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Feed the command's stdin (ignored when it was started without stdin)."""

    @abc.abstractmethod
    async def close_stdin(self) -> None:
        """End of input: the command reads EOF. Idempotent."""

    @abc.abstractmethod
    async def resize(self, *, width: int, height: int) -> None:
        """Set the TTY's size in columns and rows (ignored without a TTY)."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """The command's exit code, once its output has ended."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the session (the client went away); the command is not waited for."""


@dataclass(frozen=True)
class RuntimeVersion:
    runtime_name: str  # "docker": the scheme of containerID/imageID ("docker://...")
    runtime_version: str
    api_version: str


# --- helpers every implementation shares ----------------------------------------------------


def sandbox_name(config: PodSandboxConfig) -> str:
    """The engine name of a sandbox, as dockershim made it: ``k8s_POD_<pod>_<ns>_<uid>_<n>``."""
    return f"k8s_{SANDBOX_CONTAINER_NAME}_{config.pod_name}_{config.namespace}_{config.pod_uid}_{config.attempt}"


def container_name(config: ContainerConfig, *, pod_name: str, namespace: str, pod_uid: str) -> str:
    """``k8s_<container>_<pod>_<ns>_<uid>_<restartCount>``: unique per attempt, readable in ps."""
    return f"k8s_{config.name}_{pod_name}_{namespace}_{pod_uid}_{config.restart_count}"


def terminated_reason(*, exit_code: int, oom_killed: bool) -> str:
    """Kubernetes' reason for a terminated container."""
    if oom_killed:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


# --- the interface --------------------------------------------------------------------------


class ContainerRuntime(abc.ABC):
    """A container engine as the kubelet sees it. All methods are coroutines; none blocks
    the event loop. Removal is idempotent (removing what is gone is not an error), as in CRI.
    """

    @abc.abstractmethod
    async def version(self) -> RuntimeVersion:
        """Name and version of the engine (node status ``containerRuntimeVersion``)."""

    # sandboxes

    @abc.abstractmethod
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> SandboxId:
        """Create and start the pod's sandbox; on failure nothing is left behind."""

    async def create_pod_sandbox(self, config: PodSandboxConfig) -> PodSandbox:
        """The pod's sandbox made but perhaps not started yet, so that the pod's containers can
        be created in it while it starts (:meth:`start_pod_sandbox`): a container joins the
        sandbox's namespaces when it starts, not when it is created. A runtime that cannot
        split the two starts it here (this default), and its start is then a look-up."""
        return await self.sandbox_status(await self.run_pod_sandbox(config))

    async def start_pod_sandbox(self, sandbox: PodSandbox, config: PodSandboxConfig) -> PodSandbox:
        """Start a sandbox :meth:`create_pod_sandbox` made and return it as it runs (with its
        IP); on failure it is removed, with any container created in it meanwhile."""
        return await self.sandbox_status(sandbox.id)

    @abc.abstractmethod
    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        """Stop the sandbox and any of its containers still running. Idempotent."""

    @abc.abstractmethod
    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        """Remove the sandbox and all its containers, forcibly. Idempotent."""

    @abc.abstractmethod
    async def list_pod_sandboxes(self, *, node: str | None = None,
                                 pod_uid: str | None = None) -> list[PodSandbox]:
        """Sandboxes, ready or not, of one node (``None``: every node) and/or one pod."""

    @abc.abstractmethod
    async def sandbox_status(self, sandbox_id: SandboxId) -> PodSandbox:
        """One sandbox, with its IP; ``NotFoundError`` when it is gone."""

    async def port_mappings(self, sandbox_id: SandboxId) -> tuple[PortMapping, ...]:
        """The ports the sandbox publishes on the node, as the engine bound them."""
        return (await self.sandbox_status(sandbox_id)).port_mappings

    # images

    @abc.abstractmethod
    async def pull_image(self, image: str, *, policy: PullPolicy = PullPolicy.IF_NOT_PRESENT) -> str:
        """Make ``image`` present as ``policy`` says; return its image ID (``sha256:...``)."""

    # containers

    @abc.abstractmethod
    async def create_container(self, sandbox_id: SandboxId, config: ContainerConfig, *,
                               sandbox: PodSandbox | None = None) -> ContainerId:
        """Create a container in the sandbox's network, IPC and UTS namespaces. ``sandbox``:
        the sandbox as the caller just observed it ready, or as :meth:`create_pod_sandbox`
        returned it while it starts (CRI passes the sandbox's config along likewise), so the
        runtime need not look it up again; the container's start fails if the sandbox is
        not running by then."""

    @abc.abstractmethod
    async def start_container(self, container_id: ContainerId) -> None:
        """Start a created container; ``ContainerStartError`` when it cannot run."""

    @abc.abstractmethod
    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after ``timeout`` seconds."""

    @abc.abstractmethod
    async def remove_container(self, container_id: ContainerId) -> None:
        """Remove a container (killing it if it runs). Idempotent."""

    @abc.abstractmethod
    async def list_containers(self, *, node: str | None = None, pod_uid: str | None = None,
                              sandbox_id: SandboxId | None = None) -> list[Container]:
        """Containers (running or not, sandboxes excluded), filtered as asked."""

    async def list_pod_resources(self, *, node: str | None = None, pod_uid: str | None = None
                                 ) -> tuple[list[PodSandbox], list[Container]]:
        """Sandboxes and containers together, filtered as asked: what one relist or one pod
        sync observes. A runtime that can answer both in one round trip overrides this."""
        sandboxes = await self.list_pod_sandboxes(node=node, pod_uid=pod_uid)
        return sandboxes, await self.list_containers(node=node, pod_uid=pod_uid)

    @abc.abstractmethod
    async def container_status(self, container_id: ContainerId) -> ContainerStatus:
        """State, exit code, times and reason of one container."""

    @abc.abstractmethod
    async def exec_sync(self, container_id: ContainerId, cmd: Sequence[str], *,
                        timeout: float | None = None) -> ExecResult:
        """Run ``cmd`` in a running container and wait for it (exec probes)."""

    @abc.abstractmethod
    async def exec(self, container_id: ContainerId, cmd: Sequence[str], *, stdin: bool = False,
                   tty: bool = False) -> ExecSession:
        """Start ``cmd`` in a running container with its stdio streamed (``kubectl exec``);
        ``NotFoundError`` when the container is gone, ``RuntimeError_`` when it cannot run."""

    @abc.abstractmethod
    async def attach(self, container_id: ContainerId, *, stdin: bool = False, tty: bool = False) -> ExecSession:
        """The running container's own stdio streamed (``kubectl attach``): its output from
        now on, and its stdin when it was created with one. ``wait`` answers 0 once the
        output ends (Kubernetes reports an attach as a success; the exit code is the pod's);
        ``close`` detaches and leaves the container running."""

    #: Whether :meth:`container_events` streams anything (else the kubelet only relists).
    streams_events: bool = False

    async def container_events(self, *, node: str) -> AsyncGenerator[ContainerEvent, None]:
        """Open the engine's stream of changes to ``node``'s sandboxes and containers and
        return it once open: every change from then on comes through it, in order, until the
        stream ends (the engine went away: the caller relists and opens it again) or the
        caller closes it (``aclose``). Raises ``RuntimeError_`` when it cannot be opened."""
        raise NotImplementedError(f"{type(self).__name__} does not stream container events")

    #: Whether :meth:`port_forward` can reach a pod at all (a hollow runtime never dials one).
    forwards_ports: bool = True

    @abc.abstractmethod
    async def port_forward(self, sandbox_id: SandboxId, port: int) -> socket.socket:
        """A connected, non-blocking TCP socket to ``port`` on localhost inside the sandbox's
        network namespace (CRI's PortForward); ``NotFoundError`` when the sandbox is gone,
        ``RuntimeError_`` when the port cannot be reached (the kernel's words)."""

    @abc.abstractmethod
    def logs(self, container_id: ContainerId, *, follow: bool = False, tail: int | None = None,
             timestamps: bool = False,
             since: datetime.datetime | None = None) -> AsyncGenerator[bytes, None]:
        """The container's output as chunks of bytes; with ``follow`` it ends when the
        container stops or the consumer closes the iterator."""

    def decided_probe(self, container_id: ContainerId, *, container: str, kind: str,
                      annotations: Mapping[str, str]) -> tuple[bool, str] | None:
        """A probe's (success, message) when the runtime decides it instead of the kubelet
        running it; ``None`` (a real engine) means the kubelet runs the probe against the
        container. The hollow runtime decides every probe: a hollow node never dials a pod.
        ``kind`` is Liveness, Readiness or Startup; ``annotations`` are the pod's, as now."""
        return None

    async def container_stats(self, container_ids: Sequence[ContainerId]) -> dict[ContainerId, ContainerStats] | None:
        """One reading of each running container in ``container_ids`` (gone ones are left
        out), in one sweep; ``None`` when the runtime has no cgroups to read (the hollow
        runtime: its containers use nothing, and it says so rather than invent figures)."""
        return None

    @abc.abstractmethod
    async def ensure_pod_network(self, config: PodNetworkConfig) -> bool:
        """Make the pod network as ``config`` says; an existing one on another subnet is made
        again when no sandbox is attached (else PodNetworkError). True when it was created."""

    @abc.abstractmethod
    async def remove_pod_network(self, name: str) -> None:
        """Remove the pod network (idempotent)."""

    async def close(self) -> None:  # noqa: B027 - not abstract: a runtime holding no connection has nothing to release
        """Release the engine connection."""
