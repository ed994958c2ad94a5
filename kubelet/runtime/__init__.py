"""The kubelet's container runtime: the interface, the Docker runtime, the hollow one."""

from kubelet.runtime.docker import DEFAULT_SANDBOX_IMAGE, DockerRuntime
from kubelet.runtime.fake import FakeRuntime
from kubelet.runtime.interface import (
    Container,
    ContainerConfig,
    ContainerCreateError,
    ContainerId,
    ContainerRuntime,
    ContainerStartError,
    ContainerState,
    ContainerStatus,
    DNSConfig,
    ExecResult,
    ExecTimeoutError,
    ImageNeverPullError,
    ImagePullError,
    Mount,
    NotFoundError,
    PodSandbox,
    PodSandboxConfig,
    PortMapping,
    PullPolicy,
    Resources,
    RuntimeError_,
    RuntimeVersion,
    SandboxId,
    SandboxState,
    SecurityContext,
)

__all__ = [
    "Container", "ContainerConfig", "ContainerCreateError", "ContainerId", "ContainerRuntime",
    "ContainerStartError", "ContainerState", "ContainerStatus", "DEFAULT_SANDBOX_IMAGE",
    "DNSConfig", "DockerRuntime", "ExecResult", "ExecTimeoutError", "FakeRuntime",
    "ImageNeverPullError", "ImagePullError", "Mount", "NotFoundError", "PodSandbox",
    "PodSandboxConfig", "PortMapping", "PullPolicy", "Resources", "RuntimeError_",
    "RuntimeVersion", "SandboxId", "SandboxState", "SecurityContext",
]
