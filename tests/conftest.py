"""Fixtures every test may use: the Docker engine, the local images, free ports, a real
apiserver process on a temporary data dir, and the real kubectl pointed at it.

Missing parts (no Docker engine, no kubectl) skip a test on a developer's machine and fail it
when ``CI`` is set: CI must never pass by skipping. A test marked ``@pytest.mark.docker``
gets the engine check without asking for ``docker_client``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
BUILD_IMAGES = REPO / "tests" / "images" / "build.sh"
KUBECTL = "/usr/bin/kubectl"


def missing(reason: str) -> None:
    """Skip a test whose prerequisite is absent, or fail it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


# --- Docker ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A ``docker.DockerClient`` talking to a live engine."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # docker raises DockerException or a requests error
        missing(f"no Docker engine answers ({exc}); run scripts/setup.sh")
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _docker_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("docker") is not None:
        request.getfixturevalue("docker_client")


@dataclass(frozen=True)
class LocalImages:
    busybox: str = "minik8s/busybox:latest"
    pause: str = "minik8s/pause:latest"


@pytest.fixture(scope="session")
def test_images(docker_client: Any) -> LocalImages:
    """The local images exist (built by the same script `make test` runs; fast when built)."""
    proc = subprocess.run([str(BUILD_IMAGES)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building test images failed:\n{proc.stderr}")
    return LocalImages()


# --- ports ----------------------------------------------------------------------------------


def pick_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice, so parallel runs differ)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    return pick_free_port()


@pytest.fixture
def free_port_factory() -> Callable[[], int]:
    """Several distinct free ports in one test."""
    given: set[int] = set()

    def factory() -> int:
        while (port := pick_free_port()) in given:
            pass
        given.add(port)
        return port

    return factory


# --- apiserver ------------------------------------------------------------------------------


@dataclass
class ApiServer:
    """One ``python -m apiserver.main`` process; ``url`` is its base URL (HTTPS).

    The server makes its CA and certificates under ``<data_dir>/pki`` and the admin kubeconfig
    at ``<data_dir>/kubeconfig`` on first start; clients built here trust that CA and present
    the admin certificate (``system:masters``) unless told otherwise.
    """

    data_dir: Path
    port: int
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    # The harness chose ``port``: another process may take it between that choice and the
    # server's bind, and then start() chooses again (a port a test chose itself is kept).
    port_chosen: bool = False
    # Set by start_control_plane: the --cluster-cidr its node IPAM gives node podCIDRs from;
    # the harness tells this cluster's kubelets the same.
    cluster_cidr: str | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pki(self) -> Path:
        """The server's ``--cert-dir`` (default ``<data_dir>/pki``)."""
        args = self.extra_args
        for i, arg in enumerate(args):
            if arg == "--cert-dir" and i + 1 < len(args):
                return Path(args[i + 1])
            if arg.startswith("--cert-dir="):
                return Path(arg.split("=", 1)[1])
        return self.data_dir / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig (context ``minik8s``) with the credentials tests use for this server.

        Tests reach an apiserver only through this file, ``http()`` or ``client()``: how a
        client connects and authenticates is decided here, once. It is the admin kubeconfig
        the apiserver wrote (CA and a ``system:masters`` client certificate embedded).
        """
        return self.data_dir / "kubeconfig"

    def kubeconfig_for(self, user: str, groups: tuple[str, ...] = (), *, name: str | None = None,
                       server_url: str | None = None, other_servers: tuple[str, ...] = ()) -> Path:
        """A kubeconfig that authenticates as ``user`` in ``groups``: a client certificate
        signed by this server's CA (as an administrator issues one), written beside the logs.
        ``server_url`` replaces ``url`` (a client in another network namespace);
        ``other_servers`` are the cluster's other apiservers (failover, issue #12)."""
        from minik8s import pki
        from minik8s.client import kubeconfig

        label = name or user.replace(":", "-")
        certs = self.log_path.parent / "client-certs"
        pair = pki.ensure_client_cert(pki.ensure_ca(self.pki), certs, label, user, list(groups))
        path = certs / f"{label}.kubeconfig"
        kubeconfig.write(str(path), server_url or self.url, context="minik8s", ca_data=self.ca_file.read_bytes(),
                         client_cert_data=pair.cert_pem, client_key_data=pair.key_pem, other_servers=other_servers)
        return path

    def kubelet_serving_cert(self, node: str, ips: list[str]) -> tuple[Path, Path]:
        """A serving certificate for ``node``'s kubelet signed by this server's CA, naming
        ``ips`` (what ``minik8s up`` issues a node): the apiserver verifies kubelets with it."""
        from minik8s import pki

        pair = pki.ensure_serving_cert(pki.ensure_ca(self.pki), self.log_path.parent / "kubelet-certs", node,
                                       f"system:node:{node}", dns_names=[node], ips=ips)
        return pair.cert_path, pair.key_path

    def kubelet_ssl_context(self, *, client_cert: bool = True) -> Any:
        """An ``ssl.SSLContext`` for calling a kubelet of this cluster as the apiserver does
        (its ``apiserver-kubelet-client`` certificate), or with no certificate."""
        pair = (self.pki / "apiserver-kubelet-client.crt", self.pki / "apiserver-kubelet-client.key")
        return self.ssl_context(client_cert=pair if client_cert else False)

    def ssl_context(self, *, client_cert: tuple[Path, Path] | None | bool = True) -> Any:
        """An ``ssl.SSLContext`` trusting this server's CA; with the admin certificate unless
        ``client_cert`` is False (anonymous) or another ``(cert, key)`` pair."""
        import ssl

        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if client_cert is True:
            client_cert = (self.pki / "admin.crt", self.pki / "admin.key")
        if client_cert:
            ctx.load_cert_chain(str(client_cert[0]), str(client_cert[1]))
        return ctx

    def http(self, *, anonymous: bool = False, **kwargs: Any) -> httpx.Client:
        """A synchronous httpx client for this server (base URL and credentials set);
        ``anonymous=True`` presents no credentials."""
        return httpx.Client(base_url=self.url, verify=self.ssl_context(client_cert=not anonymous), **kwargs)

    def client(self, **kwargs: Any) -> Any:
        """minik8s' async ``ApiClient`` for this server (credentials from ``kubeconfig``)."""
        from minik8s.client.rest import ApiClient

        return ApiClient.from_kubeconfig(str(self.kubeconfig), **kwargs)

    def start(self, *, timeout: float = 30.0) -> None:
        # As Kubernetes' integration-test apiservers: no controller-manager runs beside this one to
        # make each namespace's default ServiceAccount, so that admission is off unless asked for.
        args = list(self.extra_args)
        if not any("ServiceAccount" in a for a in args):
            if "--disable-admission-plugins" in args:  # one flag: the last one given wins
                i = args.index("--disable-admission-plugins") + 1
                args[i] += ",ServiceAccount"
            else:
                args += ["--disable-admission-plugins", "ServiceAccount"]
        for attempt in range(3):
            cmd = [sys.executable, "-m", "apiserver.main", "--data-dir", str(self.data_dir),
                   "--port", str(self.port), *args]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_healthy(timeout, may_retry=self.port_chosen and attempt < 2):
                return
            self.port = pick_free_port()

    def _wait_healthy(self, timeout: float, *, may_retry: bool = False) -> bool:
        """True once healthy; False when the port was taken and ``may_retry``; else fails the test."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                if may_retry and "address already in use" in self.log_tail(5):
                    return False
                pytest.fail(f"apiserver exited with {self.proc.returncode}:\n{self.log_tail()}")
            # The CA is made by the server on its first start: until then there is nothing to ask.
            with contextlib.suppress(httpx.HTTPError, OSError):
                if self.ca_file.exists() and self.kubeconfig.exists() and httpx.get(
                        f"{self.url}/healthz", timeout=1.0, verify=self.ssl_context()).status_code == 200:
                    return True
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"apiserver did not answer /healthz within {timeout}s:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@pytest.fixture
def apiserver_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ApiServer]]:
    """Start apiservers of a test's own (restarts, flags); all are stopped after the test.

    ``factory(data_dir=None, port=None, extra_args=())``: reuse a ``data_dir`` to restart on
    the same store.
    """
    started: list[ApiServer] = []

    def factory(*, data_dir: Path | None = None, port: int | None = None,
                extra_args: tuple[str, ...] = ()) -> ApiServer:
        base = tmp_path_factory.mktemp("apiserver")
        server = ApiServer(data_dir=data_dir or base / "data", port=port or pick_free_port(),
                           log_path=base / "apiserver.log", extra_args=list(extra_args), port_chosen=port is None)
        started.append(server)
        server.start()
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def apiserver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The apiserver shared by the session (tests isolate themselves by namespace)."""
    base = tmp_path_factory.mktemp("apiserver-session")
    server = ApiServer(data_dir=base / "data", port=pick_free_port(), log_path=base / "apiserver.log",
                       port_chosen=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def apiserver(apiserver_process: ApiServer) -> str:
    """Base URL of the session's apiserver, e.g. ``https://127.0.0.1:41234`` (a URL alone
    carries no credentials: connect through ``apiserver_process``)."""
    return apiserver_process.url


@pytest.fixture(scope="session")
def api_http(apiserver_process: ApiServer) -> Iterator[httpx.Client]:
    """A synchronous httpx client on the session's apiserver, with the tests' credentials."""
    with apiserver_process.http() as client:
        yield client


@pytest.fixture
async def client(apiserver_process: ApiServer) -> AsyncIterator[Any]:
    """An async ApiClient on the session's apiserver, with the tests' credentials (closed after)."""
    async with apiserver_process.client() as c:
        yield c


@pytest.fixture
async def namespace(client: Any) -> AsyncIterator[str]:
    """A namespace of this test's own on the session's apiserver, deleted after it."""
    import uuid

    from minik8s import errors
    from minik8s.api.resources import NAMESPACES

    name = f"t-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(errors.ApiError, errors.ConnectionFailed):
        await client.delete(NAMESPACES, name)


@dataclass
class ControlPlane:
    """The scheduler and controller-manager as processes beside an apiserver (leader election
    off), each logging to ``logs[name]``; :meth:`stop` ends them, the controller-manager first so
    that nothing replaces what the test tears down next."""

    procs: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]

    def stop(self) -> None:
        for name in ("controller-manager", "scheduler"):
            p = self.procs[name]
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
            if p.poll() is None:
                p.kill()


def free_cluster_cidr() -> str:
    """A 10.X.0.0/16 that no network on the Docker engine overlaps, for a cluster's node IPAM:
    a network another run left behind (Docker can keep one it refuses to remove, "has active
    endpoints", until dockerd restarts) then never blocks this cluster's pod networks.
    Kubernetes' default 10.244.0.0/16, which benchmarks and `minik8s up` use, is never picked."""
    taken = {244}
    with contextlib.suppress(Exception):  # no engine: any choice will do
        import docker

        dc = docker.from_env(timeout=30)
        try:
            for net in dc.networks.list(greedy=True):
                for c in (net.attrs.get("IPAM") or {}).get("Config") or []:
                    octets = str(c.get("Subnet") or "").split(".")
                    if octets[0] == "10" and len(octets) > 1:
                        taken.add(int(octets[1]))
        finally:
            dc.close()
    return f"10.{random.choice([x for x in range(128, 250) if x not in taken])}.0.0/16"


def start_control_plane(api: ApiServer, log_dir: Path) -> ControlPlane:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    api.cluster_cidr = api.cluster_cidr or free_cluster_cidr()
    for name, module in (("scheduler", "scheduler.main"), ("controller-manager", "controllers.main")):
        logs[name] = log_dir / f"{name}.log"
        extra = ["--cluster-cidr", api.cluster_cidr] if name == "controller-manager" else []
        with open(logs[name], "ab") as f:
            procs[name] = subprocess.Popen([sys.executable, "-m", module, "--kubeconfig", str(api.kubeconfig),
                                            "--leader-elect=false", *extra], cwd=REPO, stdout=f,
                                           stderr=subprocess.STDOUT)
    return ControlPlane(procs, logs)


# --- kubectl --------------------------------------------------------------------------------


Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="session")
def kubectl_path() -> str:
    path = KUBECTL if os.access(KUBECTL, os.X_OK) else shutil.which("kubectl")
    if not path:
        missing("no kubectl on this machine")
    return path


def kubectl_args(server: ApiServer | str, cache_dir: Path) -> list[str]:
    """The flags pointing kubectl at ``server``: an :class:`ApiServer` through its kubeconfig,
    a plain URL (a test's own recording server) with no credentials."""
    target = ["--kubeconfig", str(server.kubeconfig)] if isinstance(server, ApiServer) else ["--server", server]
    return [*target, "--cache-dir", str(cache_dir)]


@pytest.fixture(scope="session")
def kubectl(apiserver_process: ApiServer, kubectl_path: str, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """``kubectl(*args, input=None, server=None, timeout=60)`` runs the real kubectl.

    Returns the ``CompletedProcess`` (text); it never raises on a non-zero exit, so a test
    can assert on failures too. ``server`` points it at another apiserver (an
    :class:`ApiServer`, reached through its kubeconfig) or at a URL (no credentials).
    """
    home = tmp_path_factory.mktemp("kubectl")
    # An empty kubeconfig: the developer's ~/.kube/config must not leak into tests.
    env = {**os.environ, "KUBECONFIG": str(home / "kubeconfig"), "HOME": str(home)}

    def run(*args: str, input: str | None = None, server: ApiServer | str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        target = server or apiserver_process
        # kubectl keys its discovery cache by host:port, and a port freed by one test's apiserver
        # may serve another's later: one cache per server, so none sees another's resources.
        cache = home / "cache" / (str(abs(hash(target.data_dir))) if isinstance(target, ApiServer) else "url")
        cmd = [kubectl_path, *kubectl_args(target, cache), *args]
        return subprocess.run(cmd, input=input, capture_output=True, text=True, env=env, timeout=timeout)

    return run
