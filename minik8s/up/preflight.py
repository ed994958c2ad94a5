"""Checks ``minik8s up`` and ``minik8s join`` make before starting anything, each failing with
one line a person can act on: the data dir is writable, no other minik8s runs from it, the
ports are free, the Docker engine answers.

Every check is blocking (files, sockets, the Docker SDK) and runs before the event loop starts.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from minik8s.up import state as statefile
from minik8s.up.config import UpConfig

__all__ = ["check_data_dir", "check_docker", "check_not_running", "check_port", "docker_url", "run_all"]

DEFAULT_DOCKER_URL = "unix:///var/run/docker.sock"


def check_data_dir(data_dir: Path) -> str | None:
    try:
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        return f"data dir {data_dir} is not writable: {e.strerror or e} (choose another with --data-dir)"
    return None


def check_not_running(data_dir: Path) -> str | None:
    if not statefile.is_running(data_dir):
        return None
    pid = (statefile.read_state(data_dir) or {}).get("pid", "?")
    return (f"minik8s is already running from {data_dir} (pid {pid}): `minik8s status --data-dir {data_dir}` "
            f"shows it, `minik8s down --data-dir {data_dir}` stops it")


def check_port(port: int, *, host: str = "0.0.0.0", what: str, flag: str) -> str | None:
    """Whether ``port`` can be listened on, as the component will (SO_REUSEADDR, as uvicorn)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port} ({what}) is already in use (choose another with {flag})"
            return f"cannot listen on {host}:{port} ({what}): {e.strerror or e} (choose another with {flag})"
    return None


def docker_url(docker_host: str | None) -> str:
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_URL


def _root_cause(exc: BaseException) -> str:
    """The innermost reason in an exception chain (the Docker SDK wraps requests wraps urllib3
    wraps the OSError that says what actually happened)."""
    seen: set[int] = set()
    best: BaseException = exc
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror
        best = cur
        cur = cur.__cause__ or cur.__context__
    for arg in getattr(best, "args", ()):  # urllib3 keeps the OSError as an argument
        if isinstance(arg, OSError) and arg.strerror:
            return arg.strerror
        if isinstance(arg, BaseException):
            return _root_cause(arg)
    text = str(best).strip()
    return text.splitlines()[0] if text else type(best).__name__


def check_docker(docker_host: str | None) -> str | None:
    """Whether the Docker engine answers a ping. Asked from a forked child: the Docker SDK
    (with requests, urllib3 and charset_normalizer, ~5 MiB) never loads into the supervisor,
    which lives as long as the cluster and has no other use for it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        try:
            os.close(r)
            os.write(w, (_ping_docker(docker_host) or "").encode())
        except BaseException as e:
            os.write(w, f"Docker is not reachable at {docker_url(docker_host)}: {e}".encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        answer = f.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return answer or None


def _ping_docker(docker_host: str | None) -> str | None:
    import docker  # a heavy import, only when a node will run

    url = docker_url(docker_host)
    try:
        client = docker.DockerClient(base_url=url, timeout=10)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as e:  # the SDK raises DockerException or a requests error, both chained
        return f"Docker is not reachable at {url}: {_root_cause(e)} (start dockerd or run `make run`)"
    return None


def check_etcd(port: int) -> str | None:
    """``--etcd``: the etcd program is installed and its client and peer ports are free."""
    from minik8s.up import etcd as local_etcd

    if local_etcd.binary() is None:
        return "--etcd: etcd is not installed (apt-get install etcd-server; no system service is needed)"
    return (check_port(port, host="127.0.0.1", what="etcd client", flag="--etcd-port")
            or check_port(port + 1, host="127.0.0.1", what="etcd peer", flag="--etcd-port"))


def run_all(cfg: UpConfig) -> list[str]:
    """Every problem found, in the order a person should fix them."""
    problem = check_data_dir(cfg.data_dir)
    if problem:
        return [problem]  # nothing else can be checked sensibly without a data dir
    problem = check_not_running(cfg.data_dir)
    if problem:
        return [problem]
    problems: list[str | None] = []
    if cfg.enabled("apiserver"):
        problems.append(check_port(cfg.port, host=cfg.bind_address, what="apiserver", flag="--port"))
    if cfg.etcd and cfg.enabled("apiserver"):
        problems.append(check_etcd(cfg.etcd_port))
    for i, _node in enumerate(cfg.node_names()):
        problems.append(check_port(cfg.kubelet_port + i, what="node API", flag="--kubelet-port"))
    if cfg.node_names() and cfg.runtime == "docker":
        problems.append(check_docker(cfg.docker_host))
    return [p for p in problems if p]
