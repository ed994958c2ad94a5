"""Facts about the machine the kubelet runs on, read from /proc, /etc and the network stack.

What the Node object reports: CPU count, memory, disk of the kubelet's root dir, the primary
IP, OS image, kernel, architecture, machine and boot IDs, and the pressure signals
(available memory and disk) behind the MemoryPressure and DiskPressure conditions.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import dataclass

__all__ = ["HostInfo", "read_host_info", "mem_available_bytes", "disk_bytes", "primary_ip", "go_arch"]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True)
class HostInfo:
    cpus: int
    memory_bytes: int
    kernel: str
    os_image: str
    arch: str
    machine_id: str
    system_uuid: str
    boot_id: str


def go_arch() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _meminfo(field: str) -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def mem_available_bytes() -> int:
    return _meminfo("MemAvailable")


def disk_bytes(path: str) -> tuple[int, int]:
    """(capacity, available) of the filesystem holding ``path`` (its nearest existing parent)."""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path or "/")
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return "Linux"


def read_host_info() -> HostInfo:
    return HostInfo(
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
        memory_bytes=_meminfo("MemTotal"),
        kernel=platform.release(),
        os_image=_os_image(),
        arch=go_arch(),
        machine_id=_read("/etc/machine-id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid") or _read("/etc/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
    )


def primary_ip() -> str:
    """The source address of the default route (no packet is sent), else the hostname's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address: str = s.getsockname()[0]
            return address
        except OSError:
            pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
