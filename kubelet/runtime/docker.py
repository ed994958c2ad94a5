"""The Docker implementation of the kubelet's ``ContainerRuntime`` (what dockershim was).

The only module in minik8s that speaks Docker, with ``engine.py``: the short calls of every
pod's life (list, create, start, inspect, stop, remove) go through ``engine.Engine``, on the
event loop over the local socket; every other docker SDK call runs in a thread
(``asyncio.to_thread``), and long-lived log streams and exec readers get a pool of their own so
a hundred ``kubectl logs -f`` cannot starve the short calls. Docker's exceptions are converted
into ``interface``'s error tree at the boundary.

A pod is a pause container (``minik8s/pause`` by default; it exits at once on SIGTERM) that
owns the network namespace, made IPC-shareable, plus containers started with
``network_mode=ipc_mode=container:<sandbox>`` -- Docker then also shares the sandbox's
hostname, /etc/hosts and /etc/resolv.conf with them.

The node's pod network is a Docker bridge network on the podCIDR (``ensure_pod_network``),
but a sandbox does not join it through Docker: it starts with ``network_mode=none`` and is
wired to the network's bridge as Kubernetes' CNI bridge plugin does (``bridge.py``: a veth,
an address from host-local-style IPAM, recorded in the sandbox's labels, a default route via
the gateway), which spares Docker an endpoint and an embedded DNS resolver per pod. The
pod's IP goes into its /etc/hosts with its hostname, as Docker writes it on a network. A pod
that publishes a hostPort joins the Docker network itself, with the address the IPAM gave it,
so that Docker's proxy and DNAT serve the port (and refuse one already taken).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import ipaddress
import logging
import math
import os
import signal
import socket
import time
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import docker
import docker.errors
import docker.models.networks
import docker.transport
import docker.types
import docker.utils.socket
import requests.exceptions

from kubelet import nettools
from kubelet.runtime import bridge, netns
from kubelet.runtime import interface as ri
from kubelet.runtime.engine import call, engine_for, mapped
from kubelet.runtime.interface import ContainerId, SandboxId

__all__ = ["DockerRuntime", "DEFAULT_SANDBOX_IMAGE"]

DEFAULT_SANDBOX_IMAGE = "minik8s/pause:latest"
# Kubernetes' CFS period, and the smallest quota it sets (milliCPUToQuota).
_CPU_PERIOD_US = 100_000
_MIN_CPU_QUOTA_US = 1_000
_MIN_CPU_SHARES = 2
# Grace for containers still running when their sandbox is stopped (dockershim's value); the
# kubelet normally stopped them already with the pod's own grace period.
_SANDBOX_STOP_GRACE_S = 10
_ZERO_TIME = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)
# How long an image found present is taken as present without asking the engine again.
_IMAGE_ID_TTL_S = 5.0

# How many one-shot stats calls a sweep keeps in flight (threads of their own, half the
# connection pool). Docker answers a one-shot stats call at its stats collector's next tick
# (once a second) after the first: the calls wait, they do not work, so they go in parallel.
_STATS_CONCURRENCY = 16

# A sandbox on the node's pod network: which network, and its address there (the IPAM's record).
_LABEL_NETWORK = "io.minik8s.sandbox.network"
_LABEL_IP = "io.minik8s.sandbox.ip"
# Sandbox states that hold their address (a stopped sandbox is never started again).
_HOLDS_ADDRESS = ("created", "running", "restarting", "paused")

T = TypeVar("T")

log = logging.getLogger(__name__)


class DockerRuntime(ri.ContainerRuntime):
    """``ContainerRuntime`` on a Docker engine.

    Build one with :meth:`connect` (it talks to the engine to agree on an API version, so it
    is async); the constructor takes a ready ``docker.DockerClient``, for tests.
    """

    def __init__(self, client: docker.DockerClient, *, sandbox_image: str = DEFAULT_SANDBOX_IMAGE,
                 max_streams: int = 64) -> None:
        self._client = client
        self._api = client.api
        self._engine = engine_for(client.api)  # the hot calls; the SDK for the rest
        self._sandbox_image = sandbox_image
        self._image_ids: dict[str, tuple[float, str]] = {}  # image -> (monotonic time seen, ID)
        self._streams = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_streams, thread_name_prefix="docker-logs")
        self._stats_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=_STATS_CONCURRENCY, thread_name_prefix="docker-stats")
        self._pod_networks: dict[str, ri.PodNetworkConfig] = {}
        self._ipams: dict[str, bridge.HostLocalIPAM] = {}
        self._ipam_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, *, base_url: str | None = None, sandbox_image: str = DEFAULT_SANDBOX_IMAGE,
                      max_pool_size: int = 128) -> DockerRuntime:
        """Connect to ``base_url`` (default: ``DOCKER_HOST`` or the local socket).

        ``max_pool_size``: idle engine connections kept for reuse; at least as many as the
        kubelet's threads that call the engine at once (64, plus the stats sweep's 16), or the
        connection pool discards, with a warning, what comes back beyond it."""

        def make() -> docker.DockerClient:
            if base_url is None:
                client = docker.from_env(max_pool_size=max_pool_size)
            else:
                client = docker.DockerClient(base_url=base_url, max_pool_size=max_pool_size)
            _one_engine_pool(client.api)
            return client

        return cls(await call(make), sandbox_image=sandbox_image)

    # --- the node's pod network ---------------------------------------------------------------

    async def ensure_pod_network(self, config: ri.PodNetworkConfig) -> bool:
        created = await call(self._ensure_pod_network, config, error=ri.PodNetworkError)
        if created or self._pod_networks.get(config.name) != config:
            self._ipams.pop(config.name, None)  # a new subnet, or first use here: recovered anew
        self._pod_networks[config.name] = config
        return created

    async def _pod_network(self, name: str) -> ri.PodNetworkConfig:
        """The pod network ``name`` as made by ``ensure_pod_network`` (here, or by an earlier
        kubelet of this node: then read back from the engine)."""
        if (known := self._pod_networks.get(name)) is not None:
            return known

        def lookup() -> ri.PodNetworkConfig:
            try:
                attrs = self._client.networks.get(name).attrs
            except docker.errors.NotFound:
                raise ri.NetworkNotReadyError(f"pod network {name} does not exist") from None
            cfg: dict[str, Any] = next(iter((attrs.get("IPAM") or {}).get("Config") or []), {})
            bridge_name = (attrs.get("Options") or {}).get("com.docker.network.bridge.name")
            if not cfg.get("Subnet") or not cfg.get("Gateway") or not bridge_name:
                raise ri.NetworkNotReadyError(f"pod network {name} is not a bridge with a subnet and gateway")
            return ri.PodNetworkConfig(name=name, subnet=cfg["Subnet"], gateway=cfg["Gateway"], bridge=bridge_name,
                                       labels=attrs.get("Labels") or {})
        config = await call(lookup, error=ri.NetworkNotReadyError)
        self._pod_networks.setdefault(name, config)
        return config

    async def _ipam(self, net: ri.PodNetworkConfig) -> bridge.HostLocalIPAM:
        """The network's IPAM; the first time, recovered from the sandboxes that hold an address
        on it (ours, by label) and from whatever Docker itself attached to it."""
        async with self._ipam_lock:
            if (ipam := self._ipams.get(net.name)) is not None:
                return ipam

            def in_use() -> dict[str, str]:
                owners: dict[str, str] = {}
                for c in self._api.containers(all=True, filters={"label": f"{_LABEL_NETWORK}={net.name}"}):
                    ip = (c.get("Labels") or {}).get(_LABEL_IP)
                    if ip and c.get("State") in _HOLDS_ADDRESS:
                        owners[ip] = c["Id"]
                with contextlib.suppress(docker.errors.NotFound):
                    for cid, ep in (self._api.inspect_network(net.name).get("Containers") or {}).items():
                        ip = str((ep or {}).get("IPv4Address") or "").partition("/")[0]
                        if ip:
                            owners.setdefault(ip, cid)
                return owners
            ipam = bridge.HostLocalIPAM(net.subnet, net.gateway)
            ipam.recover(await call(in_use, error=ri.ContainerCreateError))
            self._ipams[net.name] = ipam
            return ipam

    def _release_address(self, sandbox_id: str) -> None:
        for ipam in self._ipams.values():
            ipam.release(sandbox_id)

    def _ensure_pod_network(self, config: ri.PodNetworkConfig) -> bool:
        try:
            net = self._client.networks.get(config.name)
            cfg = (net.attrs.get("IPAM") or {}).get("Config") or []
            if any(c.get("Subnet") == config.subnet for c in cfg):
                return False
            if not self._release_dead_endpoints(net):
                raise ri.PodNetworkError(f"network {config.name} is on {[c.get('Subnet') for c in cfg]} with "
                                         f"pods attached; it is wanted on {config.subnet} now")
            net.remove()
        except docker.errors.NotFound:
            pass
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=config.subnet,
                                                                             gateway=config.gateway)])
        for attempt in range(2):
            try:
                self._client.networks.create(
                    config.name, driver="bridge", ipam=ipam, labels=dict(config.labels),
                    options={"com.docker.network.bridge.name": config.bridge,
                             "com.docker.network.bridge.enable_ip_masquerade": "true" if config.masquerade else "false"})
            except docker.errors.APIError as e:
                if "already exists" in str(e):
                    return False
                if "overlaps" in str(e) and attempt == 0 and self._remove_stale_pod_networks(config):
                    continue
                raise ri.PodNetworkError(f"cannot create network {config.name} on {config.subnet}: {e}") from e
            return True
        return False

    def _remove_stale_pod_networks(self, config: ri.PodNetworkConfig) -> bool:
        """Remove pod networks an earlier node left on this engine (same owner labels, no live
        container attached) whose subnet overlaps ``config``'s: the node's podCIDR is the
        cluster's word on who owns these addresses now. Endpoints of containers that are gone
        or stopped (a kubelet killed while they were removed) are force-disconnected first, as
        ``docker network rm`` refuses a network with endpoints. True when one was removed."""
        want = ipaddress.ip_network(config.subnet)
        removed = False
        for net in self._client.networks.list(filters={"label": list(config.labels)} if config.labels else None):
            if net.name == config.name:
                continue
            net.reload()
            subnets = [c.get("Subnet") for c in (net.attrs.get("IPAM") or {}).get("Config") or []]
            if not any(s and ipaddress.ip_network(s).overlaps(want) for s in subnets):
                continue
            if not self._release_dead_endpoints(net):
                log.warning("pod network %s on %s overlaps %s but live containers use it", net.name, subnets,
                            config.name)
                continue
            log.warning("removing stale pod network %s on %s (no live pods attached) for %s", net.name, subnets,
                        config.name)
            try:
                net.remove()
                removed = True
            except docker.errors.APIError as e:
                log.warning("cannot remove stale pod network %s: %s", net.name, e)
                continue
        return removed

    def _release_dead_endpoints(self, net: docker.models.networks.Network) -> bool:
        """Force-disconnect the network's endpoints whose container is gone or not running;
        True when no live container is left on it (it may then be removed)."""
        assert net.id is not None  # listed from the engine: the network exists and has its id
        # Sandboxes wired to its bridge by the runtime (no Docker endpoint) are live pods too.
        live = bool(self._api.containers(filters={"label": f"{_LABEL_NETWORK}={net.name}", "status": "running"}))
        for key, ep in (net.attrs.get("Containers") or {}).items():
            try:
                state = self._api.inspect_container(key).get("State") or {}
                if state.get("Running") or state.get("Paused") or state.get("Restarting"):
                    live = True
                    continue
            except docker.errors.NotFound:
                pass  # an endpoint left behind by a container that no longer exists
            name = (ep or {}).get("Name") or key
            log.warning("network %s: force-disconnecting dead endpoint %s", net.name, name)
            try:
                self._api.disconnect_container_from_network(name, net.id, force=True)
            except docker.errors.APIError as e:
                log.warning("network %s: cannot disconnect endpoint %s: %s", net.name, name, e)
                live = True  # still attached: the network cannot go
        return not live

    async def remove_pod_network(self, name: str) -> None:
        def rm() -> None:
            try:
                self._client.networks.get(name).remove()
            except docker.errors.NotFound:
                pass
        await call(rm, error=ri.PodNetworkError)

    async def close(self) -> None:
        self._streams.shutdown(wait=False, cancel_futures=True)
        self._stats_pool.shutdown(wait=False, cancel_futures=True)
        await self._engine.close()
        await asyncio.to_thread(self._client.close)

    async def version(self) -> ri.RuntimeVersion:
        info = await call(self._api.version)
        return ri.RuntimeVersion(runtime_name="docker", runtime_version=info["Version"],
                                 api_version=info["ApiVersion"])

    # --- sandboxes --------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: ri.PodSandboxConfig) -> SandboxId:
        return (await self.start_pod_sandbox(await self.create_pod_sandbox(config), config)).id

    async def create_pod_sandbox(self, config: ri.PodSandboxConfig) -> ri.PodSandbox:
        # Docker accepts `container:<id>` of a created, not yet started container in a new
        # container's network, IPC and PID modes (they are joined at the start): the pod's
        # containers can be created while this one starts.
        if await self._image_id(self._sandbox_image) is None:
            raise ri.ImagePullError(self._sandbox_image,
                                    f'sandbox image "{self._sandbox_image}" is not present on the node '
                                    "(build it with tests/images/build.sh)")
        labels = {
            **config.labels,
            ri.LABEL_POD_UID: config.pod_uid,
            ri.LABEL_POD_NAME: config.pod_name,
            ri.LABEL_POD_NAMESPACE: config.namespace,
            ri.LABEL_NODE: config.node_name,
            ri.LABEL_CONTAINER_NAME: ri.SANDBOX_CONTAINER_NAME,
            ri.LABEL_CONTAINER_TYPE: ri.TYPE_SANDBOX,
            ri.LABEL_RESTART_COUNT: str(config.attempt),
        }
        published = [] if config.host_network else [p for p in config.port_mappings if p.host_port]
        net = await self._pod_network(config.network) if config.network and not config.host_network else None
        ipam, ip, network_mode, networking = None, None, "host" if config.host_network else "bridge", None
        if net is not None:
            ipam = await self._ipam(net)
            try:
                ip = ipam.allocate(ri.sandbox_name(config))
            except bridge.AddressesExhausted as e:
                raise ri.ContainerCreateError(f"pod network {net.name}: {e}") from None
            labels.update({_LABEL_NETWORK: net.name, _LABEL_IP: ip})
            network_mode = "none"
            if published:  # Docker publishes the ports of a container on its network only
                network_mode = net.name
                # (What create_networking_config makes; its type stub wants one endpoint, not a map.)
                networking = {"EndpointsConfig": {net.name: self._api.create_endpoint_config(ipv4_address=ip)}}
        dns = config.dns or ri.DNSConfig()
        host_config = self._api.create_host_config(
            network_mode=network_mode,
            port_bindings=_port_bindings(published) or None,
            dns=list(dns.servers) or None,
            dns_search=list(dns.searches) or None,
            dns_opt=list(dns.options) or None,
            extra_hosts=dict(config.extra_hosts) or None,
            # Containers join this IPC namespace; Docker's default "private" forbids that.
            ipc_mode="shareable",
        )
        # Docker refuses a hostname in the host's UTS namespace; the node's name is used then.
        hostname = None if config.host_network else (config.hostname or config.pod_name)[:63]
        try:
            # docker-py takes None (the image's CMD) and the map create_networking_config
            # makes; its stubs want a command and a NetworkingConfig.
            container_config = self._api.create_container_config(
                self._sandbox_image, None,  # type: ignore[arg-type]
                hostname=hostname, labels=labels, host_config=host_config, detach=True,
                ports=[(p.container_port, p.protocol.lower()) for p in published] or None,
                networking_config=networking)  # type: ignore[arg-type]
            created = await self._engine.create(container_config, ri.sandbox_name(config),
                                                error=ri.ContainerCreateError, not_found=ri.NotFoundError)
        except BaseException:
            if ipam is not None and ip is not None:
                ipam.release_address(ip)
            raise
        if ipam is not None and ip is not None:
            ipam.assign(ip, created["Id"])
        return ri.PodSandbox(
            id=SandboxId(created["Id"]), pod_uid=config.pod_uid, pod_name=config.pod_name,
            namespace=config.namespace, node_name=config.node_name, attempt=config.attempt,
            state=ri.SandboxState.NOT_READY, created_at=datetime.datetime.now(datetime.UTC), ip=None,
            labels=labels)

    async def start_pod_sandbox(self, sandbox: ri.PodSandbox, config: ri.PodSandboxConfig) -> ri.PodSandbox:
        try:
            await self._engine.start(sandbox.id, error=ri.ContainerStartError)
            # One inspect tells the IP and ports the pod's status needs, and where its
            # resolv.conf is: no listing after the start.
            info = await self._engine.inspect(sandbox.id, error=ri.ContainerStartError)
            labels = info["Config"].get("Labels") or {}
            if (info.get("HostConfig") or {}).get("NetworkMode") == "none" and labels.get(_LABEL_IP):
                await self._wire(info, await self._pod_network(labels[_LABEL_NETWORK]), labels[_LABEL_IP])
            elif config.dns is not None and config.dns.servers and not config.host_network and config.network:
                await self._write_resolv_conf(info.get("ResolvConfPath"), config.dns)
        except ri.RuntimeError_:
            # A sandbox that cannot start (port already allocated) must not linger, nor
            # anything created in it meanwhile.
            await self.remove_pod_sandbox(sandbox.id)
            raise
        return _sandbox_from_inspect(info)

    async def _wire(self, info: dict[str, Any], net: ri.PodNetworkConfig, ip: str) -> None:
        """Plug the started sandbox into the network's bridge with ``ip``, and name the pod's
        hostname with it in its /etc/hosts (Docker writes no such line without a network)."""
        pid = int((info.get("State") or {}).get("Pid") or 0)
        if not pid:
            raise ri.ContainerStartError(f"sandbox {info['Id'][:12]} is not running: its network cannot be wired")
        try:
            await bridge.wire(pid, ip=ip, prefixlen=ipaddress.ip_network(net.subnet).prefixlen,
                              gateway=net.gateway, bridge=net.bridge, host_end=bridge.host_interface(info["Id"]))
        except nettools.CommandError as e:
            raise ri.ContainerStartError(f"cannot wire the pod's network: {e}") from e
        hosts, hostname = info.get("HostsPath"), (info.get("Config") or {}).get("Hostname")
        if hosts and hostname:
            def append() -> None:
                with open(hosts, "a") as f:
                    f.write(f"{ip}\t{hostname}\n")
            try:
                await asyncio.to_thread(append)
            except OSError as e:
                raise ri.ContainerStartError(f"cannot write the pod's /etc/hosts: {e}") from e

    async def _write_resolv_conf(self, path: str | None, dns: ri.DNSConfig) -> None:
        """On a user-defined network Docker points resolv.conf at its embedded resolver
        (127.0.0.11); a pod must see its own nameservers, so write the file (``path``, the
        sandbox's) as dockershim did (the pod's containers share the sandbox's file)."""
        if not path:
            raise ri.ContainerCreateError("cannot write the pod's resolv.conf: Docker names no file for it")
        lines = [f"nameserver {s}" for s in dns.servers]
        if dns.searches:
            lines.append("search " + " ".join(dns.searches))
        if dns.options:
            lines.append("options " + " ".join(dns.options))

        def write() -> None:
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
        try:
            await asyncio.to_thread(write)
        except OSError as e:
            raise ri.ContainerCreateError(f"cannot write the pod's resolv.conf: {e}") from e

    async def stop_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        running = [c for c in await self.list_containers(sandbox_id=sandbox_id)
                   if c.state is ri.ContainerState.RUNNING]
        await asyncio.gather(*(self._stop(c.id, _SANDBOX_STOP_GRACE_S) for c in running))
        await self._stop(sandbox_id, _SANDBOX_STOP_GRACE_S)
        self._release_address(sandbox_id)  # CNI's DEL at StopPodSandbox: the netns is gone with it

    async def remove_pod_sandbox(self, sandbox_id: SandboxId) -> None:
        containers = await self.list_containers(sandbox_id=sandbox_id)
        await asyncio.gather(*(self._remove(c.id) for c in containers))
        await self._remove(sandbox_id)
        self._release_address(sandbox_id)

    async def list_pod_sandboxes(self, *, node: str | None = None,
                                 pod_uid: str | None = None) -> list[ri.PodSandbox]:
        found = await self._list(ri.TYPE_SANDBOX, node=node, pod_uid=pod_uid)
        return [_sandbox_from_list(entry) for entry in found]

    async def sandbox_status(self, sandbox_id: SandboxId) -> ri.PodSandbox:
        found = await self._list(ri.TYPE_SANDBOX, extra={"id": sandbox_id})
        for entry in found:
            if entry["Id"].startswith(sandbox_id):
                return _sandbox_from_list(entry)
        raise ri.NotFoundError(f"pod sandbox {sandbox_id} not found")

    # --- images -----------------------------------------------------------------------------

    async def pull_image(self, image: str, *, policy: ri.PullPolicy = ri.PullPolicy.IF_NOT_PRESENT) -> str:
        present = await self._image_id(image)
        if policy is ri.PullPolicy.NEVER or (policy is ri.PullPolicy.IF_NOT_PRESENT and present):
            if present is None:
                raise ri.ImageNeverPullError(
                    image, f'Container image "{image}" is not present with pull policy of Never')
            return present

        def pull() -> None:
            # The engine reports most failures inside the progress stream, not as a status.
            for event in self._api.pull(image, stream=True, decode=True):
                if "error" in event:
                    raise ri.ImagePullError(image, f'failed to pull image "{image}": {event["error"]}')

        try:
            await call(pull)
        except ri.ImagePullError:
            raise
        except ri.RuntimeError_ as exc:
            raise ri.ImagePullError(image, f'failed to pull image "{image}": {exc}') from exc
        self._image_ids.pop(image, None)  # a pull may have moved the tag
        pulled = await self._image_id(image)
        if pulled is None:
            raise ri.ImagePullError(image, f'failed to pull image "{image}": not present after pull')
        return pulled

    async def _image_id(self, image: str) -> str | None:
        # Present images are remembered briefly: a burst of pod starts asks about the same
        # image (and the sandbox image) once per container otherwise. Absence is never cached,
        # so a pull or a `docker load` shows at once; a removal shows within the TTL (and a
        # create that finds the image gone drops the entry).
        now = time.monotonic()
        cached = self._image_ids.get(image)
        if cached is not None and now - cached[0] < _IMAGE_ID_TTL_S:
            return cached[1]
        try:
            image_id: str = (await self._engine.inspect_image(image))["Id"]
        except ri.NotFoundError:
            self._image_ids.pop(image, None)
            return None
        self._image_ids[image] = (now, image_id)
        return image_id

    # --- events -----------------------------------------------------------------------------

    streams_events = True

    async def container_events(self, *, node: str) -> AsyncGenerator[ri.ContainerEvent, None]:
        # Docker answers the request's headers at once and then one JSON document per change;
        # the filters keep exec, attach and other actions (a probe's exec every period) and
        # other nodes' containers out at the engine.
        filters = {"type": ["container"], "event": list(_EVENT_TYPES),
                   "label": [f"{ri.LABEL_NODE}={node}", ri.LABEL_CONTAINER_TYPE]}
        stream = await call(self._api.events, filters=filters, decode=True)
        return self._events(stream)

    async def _events(self, stream: Any) -> AsyncGenerator[ri.ContainerEvent, None]:
        """The open stream's documents (``decode=True``: dicts, whatever the stubs say)."""
        loop = asyncio.get_running_loop()
        try:
            while (raw := await loop.run_in_executor(self._streams, _next_chunk, stream)) is not None:
                event = _container_event(raw)
                if event is not None:
                    yield event
        finally:
            # Closing the response also wakes the reader thread blocked on a quiet engine.
            await _close_stream(stream)

    # --- containers -------------------------------------------------------------------------

    async def create_container(self, sandbox_id: SandboxId, config: ri.ContainerConfig, *,
                               sandbox: ri.PodSandbox | None = None) -> ContainerId:
        if sandbox is not None and sandbox.id == sandbox_id \
                and sandbox.labels.get(ri.LABEL_CONTAINER_TYPE) == ri.TYPE_SANDBOX:
            # Seen running by the caller a moment ago, or just created and starting: one engine
            # round trip fewer per container. Should it not run when this one starts, the start
            # fails (Docker cannot join a stopped container's namespaces) and the next sync
            # makes a new sandbox.
            pod, sid = dict(sandbox.labels), sandbox.id
        else:
            info = await self._engine.inspect(sandbox_id)
            pod = info["Config"]["Labels"] or {}
            if pod.get(ri.LABEL_CONTAINER_TYPE) != ri.TYPE_SANDBOX:
                raise ri.NotFoundError(f"{sandbox_id} is not a pod sandbox")
            if not info["State"]["Running"]:
                raise ri.ContainerCreateError(f"pod sandbox {sandbox_id[:12]} is not running")
            sid = info["Id"]
        labels = {
            **config.labels,
            ri.LABEL_POD_UID: pod[ri.LABEL_POD_UID],
            ri.LABEL_POD_NAME: pod[ri.LABEL_POD_NAME],
            ri.LABEL_POD_NAMESPACE: pod[ri.LABEL_POD_NAMESPACE],
            ri.LABEL_NODE: pod[ri.LABEL_NODE],
            ri.LABEL_SANDBOX_ID: sid,
            ri.LABEL_CONTAINER_NAME: config.name,
            ri.LABEL_CONTAINER_TYPE: ri.TYPE_CONTAINER,
            ri.LABEL_RESTART_COUNT: str(config.restart_count),
        }
        namespace = f"container:{sid}"
        host_config = self._api.create_host_config(
            network_mode=namespace,
            ipc_mode=namespace,
            pid_mode=f"container:{config.pid_target}" if config.pid_target else
            namespace if config.share_process_namespace else None,
            binds=[f"{m.host_path}:{m.container_path}:{'ro' if m.read_only else 'rw'}"
                   for m in config.mounts] or None,
            privileged=config.security.privileged,
            read_only=config.security.read_only_root_filesystem or None,
            cap_add=list(config.security.capabilities_add) or None,
            cap_drop=list(config.security.capabilities_drop) or None,
            group_add=[str(g) for g in config.security.supplemental_groups] or None,
            **_resource_options(config.resources),
        )
        name = ri.container_name(config, pod_name=pod[ri.LABEL_POD_NAME],
                                 namespace=pod[ri.LABEL_POD_NAMESPACE], pod_uid=pod[ri.LABEL_POD_UID])
        try:
            created = await self._create_app_container(config, name, labels, host_config)
        except ri.ContainerCreateError:
            self._image_ids.pop(config.image, None)  # perhaps the image is gone: ask again next time
            raise
        return ContainerId(created["Id"])

    async def _create_app_container(self, config: ri.ContainerConfig, name: str, labels: dict[str, str],
                                    host_config: docker.types.HostConfig) -> dict[str, Any]:
        # Kubernetes: `command` replaces ENTRYPOINT and, when set, Docker then ignores the
        # image's CMD as well; `args` replaces CMD.
        container_config = self._api.create_container_config(
            config.image, entrypoint=list(config.command) if config.command else None,
            # docker-py takes None (the image's CMD); its stubs say a command is required
            command=list(config.args) if config.args else None,  # type: ignore[arg-type]
            environment=[f"{k}={v}" for k, v in config.env.items()] or None,
            working_dir=config.working_dir or None, user=_user(config.security),
            labels=labels, host_config=host_config, tty=config.tty, stdin_open=config.stdin, detach=True)
        # stdinOnce as the pod says (the SDK's create_container has no such argument): with it,
        # the end of an attached client's input is the end of the container's stdin; without
        # it, the stdin stays open for the next attach.
        container_config["StdinOnce"] = config.stdin and config.stdin_once
        return await self._engine.create(container_config, name, error=ri.ContainerCreateError,
                                         not_found=ri.ContainerCreateError)

    async def start_container(self, container_id: ContainerId) -> None:
        await self._engine.start(container_id, error=ri.ContainerStartError)

    async def stop_container(self, container_id: ContainerId, *, timeout: float) -> None:
        # Docker counts whole seconds; rounding up never cuts a grace period short.
        await self._engine.stop(container_id, max(0, math.ceil(timeout)))

    async def remove_container(self, container_id: ContainerId) -> None:
        await self._remove(container_id)

    async def list_containers(self, *, node: str | None = None, pod_uid: str | None = None,
                              sandbox_id: SandboxId | None = None) -> list[ri.Container]:
        extra = {ri.LABEL_SANDBOX_ID: sandbox_id} if sandbox_id else {}
        found = await self._list(ri.TYPE_CONTAINER, node=node, pod_uid=pod_uid, labels=extra)
        return [_container_from_list(entry) for entry in found]

    async def list_pod_resources(self, *, node: str | None = None, pod_uid: str | None = None
                                 ) -> tuple[list[ri.PodSandbox], list[ri.Container]]:
        # One containers/json for both kinds (the type label splits them): a pod sync and the
        # PLEG's relist each cost the engine one listing instead of two.
        # Every object of ours carries the type label; the key alone keeps others' out.
        labels = [ri.LABEL_CONTAINER_TYPE] + [f"{k}={v}" for k, v in ((ri.LABEL_NODE, node),
                                                                      (ri.LABEL_POD_UID, pod_uid)) if v is not None]
        filters = {"label": labels}
        sandboxes: list[ri.PodSandbox] = []
        containers: list[ri.Container] = []
        for entry in await self._engine.containers(filters):
            kind = (entry.get("Labels") or {}).get(ri.LABEL_CONTAINER_TYPE)
            if kind == ri.TYPE_SANDBOX:
                sandboxes.append(_sandbox_from_list(entry))
            elif kind == ri.TYPE_CONTAINER:
                containers.append(_container_from_list(entry))
        return sandboxes, containers

    async def container_status(self, container_id: ContainerId) -> ri.ContainerStatus:
        return _container_status(await self._engine.inspect(container_id))

    async def exec_sync(self, container_id: ContainerId, cmd: Sequence[str], *,
                        timeout: float | None = None) -> ri.ExecResult:
        exec_id = (await call(self._api.exec_create, container_id, list(cmd)))["Id"]

        def run() -> ri.ExecResult:
            output = self._api.exec_start(exec_id)
            return ri.ExecResult(self._api.exec_inspect(exec_id)["ExitCode"], output)

        try:
            return await asyncio.wait_for(call(run), timeout)
        except TimeoutError:
            # Docker has no exec timeout: end the process ourselves so probes do not pile up.
            await asyncio.to_thread(self._kill_exec, exec_id, container_id)
            raise ri.ExecTimeoutError(f"command {list(cmd)!r} timed out after {timeout}s") from None

    def _kill_exec(self, exec_id: str, container_id: str) -> None:
        with contextlib.suppress(Exception):
            pid = self._api.exec_inspect(exec_id)["Pid"]
            full_id = self._api.inspect_container(container_id)["Id"]
            # The pid is the engine's view; kill it only if it is ours to see, i.e. the
            # process in our PID namespace really sits in that container's cgroup.
            with open(f"/proc/{pid}/cgroup") as cgroup:
                if pid > 0 and full_id in cgroup.read():
                    os.kill(pid, signal.SIGKILL)

    async def exec(self, container_id: ContainerId, cmd: Sequence[str], *, stdin: bool = False,
                   tty: bool = False) -> ri.ExecSession:
        created = await call(self._api.exec_create, container_id, list(cmd), stdout=True, stderr=True,
                              stdin=stdin, tty=tty)
        exec_id = created["Id"]
        sock = await call(self._api.exec_start, exec_id, socket=True, tty=tty)
        return _DockerExec(self._api, exec_id, sock, tty=tty, stdin=stdin, pool=self._streams)

    async def attach(self, container_id: ContainerId, *, stdin: bool = False, tty: bool = False) -> ri.ExecSession:
        info = await self._engine.inspect(container_id)
        params = {"stdin": 1 if stdin else 0, "stdout": 1, "stderr": 1, "stream": 1}
        sock = await call(self._api.attach_socket, container_id, params=params)
        return _DockerAttach(self._api, container_id, sock, tty=tty, stdin=stdin, pool=self._streams,
                             stdin_once=bool((info.get("Config") or {}).get("StdinOnce")))

    async def port_forward(self, sandbox_id: SandboxId, port: int) -> socket.socket:
        info = await self._engine.inspect(sandbox_id)
        pid = (info.get("State") or {}).get("Pid") or 0
        if not pid:
            raise ri.RuntimeError_(f"sandbox {sandbox_id[:12]} is not running")
        try:
            return await netns.dial_localhost(pid, port)
        except OSError as e:
            raise ri.RuntimeError_(f"failed to connect to localhost:{port} inside namespace {sandbox_id[:12]!r}, "
                                   f"IPv4: dial tcp4 127.0.0.1:{port}: connect: {(e.strerror or str(e)).lower()}") \
                from e

    async def logs(self, container_id: ContainerId, *, follow: bool = False, tail: int | None = None,
                   timestamps: bool = False,
                   since: datetime.datetime | None = None) -> AsyncGenerator[bytes, None]:
        stream = await call(self._api.logs, container_id, stream=True, follow=follow,
                             tail="all" if tail is None else tail, timestamps=timestamps,
                             since=since)
        loop = asyncio.get_running_loop()
        try:
            while (chunk := await loop.run_in_executor(self._streams, _next_chunk, stream)) is not None:
                yield chunk
        finally:
            # Closing the socket also wakes a reader thread blocked on a quiet container.
            await _close_stream(stream)

    async def container_stats(self, container_ids: Sequence[ContainerId]) -> dict[ContainerId, ri.ContainerStats]:
        # One sweep: Docker's one-shot stats (no second sample) of each container, in parallel
        # in threads of their own. The caller sweeps once per interval, never per request.
        loop = asyncio.get_running_loop()

        async def one(cid: ContainerId) -> ri.ContainerStats | None:
            try:
                raw = await loop.run_in_executor(self._stats_pool, mapped, self._api.stats, (cid,),
                                                 {"stream": False, "one_shot": True}, ri.RuntimeError_,
                                                 ri.NotFoundError)
            except ri.RuntimeError_:  # gone meanwhile: no reading
                return None
            return _stats(cid, raw)

        readings = await asyncio.gather(*(one(cid) for cid in container_ids))
        return {r.id: r for r in readings if r is not None}

    # --- helpers ----------------------------------------------------------------------------

    async def _list(self, kind: str, *, node: str | None = None, pod_uid: str | None = None,
                    labels: Mapping[str, str] | None = None,
                    extra: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        wanted = {ri.LABEL_CONTAINER_TYPE: kind, **(labels or {})}
        if node is not None:
            wanted[ri.LABEL_NODE] = node
        if pod_uid is not None:
            wanted[ri.LABEL_POD_UID] = pod_uid
        filters: dict[str, Any] = {"label": [f"{k}={v}" for k, v in wanted.items()], **(extra or {})}
        return await self._engine.containers(filters)

    async def _stop(self, container_id: str, timeout: int) -> None:
        with contextlib.suppress(ri.NotFoundError):
            await self._engine.stop(container_id, timeout)

    async def _remove(self, container_id: str) -> None:
        try:
            await self._engine.remove(container_id)
        except ri.NotFoundError:
            pass
        except ri.RuntimeError_ as exc:
            # Two removers racing (kubelet GC and pod teardown): the other one wins, fine.
            if "already in progress" not in str(exc):
                raise


class _DockerExec(ri.ExecSession):
    """An exec's hijacked engine connection: Docker's 8-byte stream frames (or the raw TTY
    bytes) read by a thread of the streams pool; stdin written to the same socket and ended
    by half-closing it, which Docker turns into EOF on the process's stdin."""

    def __init__(self, api: docker.APIClient, exec_id: str, sock: Any, *, tty: bool, stdin: bool,
                 pool: concurrent.futures.ThreadPoolExecutor) -> None:
        self._api = api
        self._exec_id = exec_id
        self._sock = sock
        # SocketIO wraps the connection's socket; shutdown and sendall need the socket itself.
        self._raw = getattr(sock, "_sock", sock)
        self._stdin = stdin
        self._stdin_open = stdin
        # The stubs leave frames_iter unannotated: it yields (stream, data) pairs.
        self._frames = docker.utils.socket.frames_iter(sock, tty)  # type: ignore[no-untyped-call]
        self._pool = pool
        self._closed = False

    async def read(self) -> tuple[int, bytes] | None:
        if self._closed:
            return None
        loop = asyncio.get_running_loop()
        frame = await loop.run_in_executor(self._pool, _next_frame, self._frames)
        if frame is None:
            return None
        stream, data = frame
        return (2 if stream == docker.utils.socket.STDERR else 1), bytes(data)

    async def write(self, data: bytes) -> None:
        if not self._stdin_open or not data:
            return
        try:
            await asyncio.to_thread(self._raw.sendall, data)
        except OSError as exc:
            # The command exited (or closed its stdin): what is left to send has no reader.
            self._stdin_open = False
            raise ri.RuntimeError_(f"cannot write to the exec's stdin: {exc}") from exc

    async def close_stdin(self) -> None:
        if not self._stdin_open:
            return
        self._stdin_open = False
        with contextlib.suppress(OSError):
            self._raw.shutdown(socket.SHUT_WR)

    async def resize(self, *, width: int, height: int) -> None:
        await call(self._api.exec_resize, self._exec_id, height=height, width=width)

    async def wait(self) -> int:
        # The output ends a moment before the engine records the exit; poll briefly for it.
        for _ in range(100):
            info = await call(self._api.exec_inspect, self._exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.02)
        raise ri.RuntimeError_(f"exec {self._exec_id[:12]} still running after its output ended")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            # Shutting down first wakes a reader thread blocked in poll() on this socket.
            with contextlib.suppress(OSError):
                self._raw.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._sock.close()
        await asyncio.to_thread(shut)


class _DockerAttach(_DockerExec):
    """An attach's hijacked connection: the same framing as an exec's, but the process is the
    container's own, so a resize sizes the container's TTY and there is no exec to inspect."""

    def __init__(self, api: docker.APIClient, container_id: str, sock: Any, *, tty: bool, stdin: bool,
                 pool: concurrent.futures.ThreadPoolExecutor, stdin_once: bool) -> None:
        super().__init__(api, container_id, sock, tty=tty, stdin=stdin, pool=pool)
        self._stdin_once = stdin_once

    async def close_stdin(self) -> None:
        if self._stdin_once:  # the container's stdin ends with this client's input
            await super().close_stdin()
        else:
            # stdinOnce false: the container's stdin stays open for the next attach (Docker
            # would end this whole attach on a half-close); only this client stops writing.
            self._stdin_open = False

    async def resize(self, *, width: int, height: int) -> None:
        await call(self._api.resize, self._exec_id, height=height, width=width)

    async def wait(self) -> int:
        return 0


# --- the boundary: docker SDK calls and their errors ----------------------------------------


_ENGINE_URL = "http+docker://localhost"


class _EngineSocketAdapter(docker.transport.UnixHTTPAdapter):
    """The SDK's adapter for the engine's unix socket, with one connection pool for the socket.

    The SDK's own keeps a pool per request URL (25 of them, the least recently used closed):
    every call about another container (its create, start, inspect) opened a connection and
    closed an evicted pool's, under the adapter's lock. One pool, as requests keeps per host
    over TCP, reuses the connections: 0.59x the client's CPU and 0.62x dockerd's per call at
    30 calls in flight (tests/perf/RESULTS.md)."""

    def get_connection(self, url: str | bytes, proxies: Mapping[str, str] | None = None) -> Any:
        return super().get_connection(_ENGINE_URL, proxies)


def _one_engine_pool(api: docker.APIClient) -> None:
    """Give ``api`` (on the local socket) one connection pool, and requests' per-call lookups
    of ~/.netrc and proxy variables off (neither applies to a unix socket)."""
    old = api.get_adapter(_ENGINE_URL)
    if type(old) is not docker.transport.UnixHTTPAdapter:
        return  # TCP (requests' own adapter pools per host already) or another transport
    api.mount("http+docker://", _EngineSocketAdapter(old.socket_path, old.timeout, max_pool_size=old.max_pool_size))
    old.close()
    api.trust_env = False


def _next_frame(frames: Iterator[tuple[int, bytes]]) -> tuple[int, bytes] | None:
    try:
        return next(frames, None)
    except (OSError, ValueError):
        return None  # the socket was shut down under us: the session was closed


async def _close_stream(stream: Any) -> None:
    """Close a streamed response (events, logs) in a thread, and make sure the close happens.

    The close is handed to the default executor at once and shielded: the consumer being
    cancelled again while it waits (the kubelet stopping cancels its tasks, and asyncio.run
    cancels what is left) must not drop it, or the reader thread stays blocked on the quiet
    socket and, being a pool thread, keeps the process from exiting at all.
    """
    await asyncio.shield(asyncio.get_running_loop().run_in_executor(None, stream.close))


def _next_chunk(stream: Iterator[T]) -> T | None:
    try:
        return next(stream, None)
    except (requests.exceptions.RequestException, OSError, ValueError):
        return None  # the stream was closed under us: the consumer went away


# --- translation between our types and Docker's ---------------------------------------------


def _port_bindings(mappings: Sequence[ri.PortMapping]) -> dict[int | str, list[Any]]:
    bindings: dict[int | str, list[Any]] = {}
    for p in mappings:
        target = (p.host_ip, p.host_port) if p.host_ip else p.host_port
        bindings.setdefault(f"{p.container_port}/{p.protocol.lower()}", []).append(target)
    return bindings


def _resource_options(resources: ri.Resources) -> dict[str, Any]:
    """create_host_config's CPU and memory keywords (all ints) for ``resources``."""
    options: dict[str, Any] = {}
    if resources.cpu_limit_millicpu:
        options["cpu_period"] = _CPU_PERIOD_US
        options["cpu_quota"] = max(_MIN_CPU_QUOTA_US, resources.cpu_limit_millicpu * _CPU_PERIOD_US // 1000)
    if resources.cpu_request_millicpu:
        options["cpu_shares"] = max(_MIN_CPU_SHARES, resources.cpu_request_millicpu * 1024 // 1000)
    if resources.memory_limit_bytes:
        options["mem_limit"] = resources.memory_limit_bytes
        # No swap beyond the limit: exceeding it is an OOM kill, as on a Kubernetes node.
        options["memswap_limit"] = resources.memory_limit_bytes
    return options


def _user(security: ri.SecurityContext) -> str | None:
    if security.run_as_group is not None and security.run_as_user is None:
        # dockershim's rule: Docker's user string cannot carry a group without a user.
        raise ri.ContainerCreateError("runAsGroup is specified without a runAsUser")
    if security.run_as_user is None:
        return None
    if security.run_as_group is None:
        return str(security.run_as_user)
    return f"{security.run_as_user}:{security.run_as_group}"


def _docker_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    parsed = datetime.datetime.fromisoformat(value)
    return None if parsed <= _ZERO_TIME else parsed


def _stats(container_id: ContainerId, raw: dict[str, Any]) -> ri.ContainerStats | None:
    """Docker's stats document as the kubelet's reading (cgroup v1 and v2 names); None for a
    container that is not running (Docker answers zeros and no read time)."""
    cpu = ((raw.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    memory = raw.get("memory_stats") or {}
    when = _docker_time(raw.get("read"))
    if cpu is None or "usage" not in memory or when is None or when <= _ZERO_TIME:
        return None
    stats = memory.get("stats") or {}
    usage = int(memory["usage"])
    # cAdvisor's working set: usage less the inactive file pages the kernel can drop at once.
    inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    rss = stats.get("total_rss", stats.get("anon"))
    return ri.ContainerStats(id=container_id, timestamp=when, cpu_usage_core_nano_seconds=int(cpu),
                             memory_usage_bytes=usage, memory_working_set_bytes=max(0, usage - int(inactive)),
                             memory_rss_bytes=None if rss is None else int(rss),
                             page_faults=stats.get("total_pgfault", stats.get("pgfault")),
                             major_page_faults=stats.get("total_pgmajfault", stats.get("pgmajfault")))


def _epoch(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def _container_state(docker_state: str) -> ri.ContainerState:
    if docker_state in ("running", "paused", "restarting"):
        return ri.ContainerState.RUNNING
    if docker_state == "created":
        return ri.ContainerState.CREATED
    if docker_state in ("exited", "dead", "removing"):
        return ri.ContainerState.EXITED
    return ri.ContainerState.UNKNOWN


# Docker's container actions that change what the PLEG reports ("die" is every exit, an OOM
# kill's included; "kill" and "stop" are only requests, the "die" follows).
_EVENT_TYPES = {"create": ri.ContainerEventType.CREATED, "start": ri.ContainerEventType.STARTED,
                "unpause": ri.ContainerEventType.STARTED, "die": ri.ContainerEventType.STOPPED,
                "pause": ri.ContainerEventType.STOPPED, "destroy": ri.ContainerEventType.DELETED}


def _container_event(raw: dict[str, Any]) -> ri.ContainerEvent | None:
    """One of Docker's event documents as a ContainerEvent (None for what the PLEG ignores)."""
    kind = _EVENT_TYPES.get(raw.get("Action") or raw.get("status") or "")
    actor = raw.get("Actor") or {}
    labels = actor.get("Attributes") or {}  # a container's labels come as its actor's attributes
    if kind is None or raw.get("Type", "container") != "container" or not labels.get(ri.LABEL_POD_UID):
        return None
    return ri.ContainerEvent(id=actor.get("ID") or raw.get("id") or "", pod_uid=labels[ri.LABEL_POD_UID], type=kind,
                             sandbox=labels.get(ri.LABEL_CONTAINER_TYPE) == ri.TYPE_SANDBOX)


def _sandbox_from_inspect(info: dict[str, Any]) -> ri.PodSandbox:
    """A sandbox as ``inspect`` shows it (the same fields as :func:`_sandbox_from_list`)."""
    labels = info["Config"].get("Labels") or {}
    settings = info.get("NetworkSettings") or {}
    ip = next((n["IPAddress"] for n in (settings.get("Networks") or {}).values() if n.get("IPAddress")), None)
    if ip is None and (info.get("State") or {}).get("Running"):
        ip = labels.get(_LABEL_IP)  # wired by the runtime, not by Docker
    ports = dict.fromkeys(
        ri.PortMapping(container_port=int(private.partition("/")[0]), host_port=int(b["HostPort"]),
                       protocol=private.partition("/")[2].upper() or "TCP",
                       host_ip="" if b.get("HostIp", "") in ("", "0.0.0.0", "::") else b["HostIp"])
        for private, bound in (settings.get("Ports") or {}).items() for b in bound or () if b.get("HostPort"))
    return ri.PodSandbox(
        id=SandboxId(info["Id"]),
        pod_uid=labels.get(ri.LABEL_POD_UID, ""),
        pod_name=labels.get(ri.LABEL_POD_NAME, ""),
        namespace=labels.get(ri.LABEL_POD_NAMESPACE, ""),
        node_name=labels.get(ri.LABEL_NODE, ""),
        attempt=int(labels.get(ri.LABEL_RESTART_COUNT, "0")),
        state=ri.SandboxState.READY if (info.get("State") or {}).get("Running") else ri.SandboxState.NOT_READY,
        created_at=_docker_time(info["Created"]) or _ZERO_TIME,
        ip=ip,
        port_mappings=tuple(ports),
        labels=labels,
    )


def _sandbox_from_list(entry: dict[str, Any]) -> ri.PodSandbox:
    labels = entry.get("Labels") or {}
    networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
    ip = next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), None)
    if ip is None and entry.get("State") == "running":
        ip = labels.get(_LABEL_IP)  # wired by the runtime, not by Docker
    # Docker lists a binding once per address family; one mapping is one mapping.
    ports = dict.fromkeys(
        ri.PortMapping(container_port=p["PrivatePort"], host_port=p["PublicPort"],
                       protocol=p["Type"].upper(),
                       host_ip="" if p.get("IP", "") in ("", "0.0.0.0", "::") else p["IP"])
        for p in entry.get("Ports") or () if p.get("PublicPort"))
    return ri.PodSandbox(
        id=SandboxId(entry["Id"]),
        pod_uid=labels.get(ri.LABEL_POD_UID, ""),
        pod_name=labels.get(ri.LABEL_POD_NAME, ""),
        namespace=labels.get(ri.LABEL_POD_NAMESPACE, ""),
        node_name=labels.get(ri.LABEL_NODE, ""),
        attempt=int(labels.get(ri.LABEL_RESTART_COUNT, "0")),
        state=ri.SandboxState.READY if entry.get("State") == "running" else ri.SandboxState.NOT_READY,
        created_at=_epoch(entry["Created"]),
        ip=ip,
        port_mappings=tuple(ports),
        labels=labels,
    )


def _container_fields(*, container_id: str, labels: Mapping[str, str], state: ri.ContainerState,
                      image: str, image_id: str, created_at: datetime.datetime) -> dict[str, Any]:
    return dict(
        id=ContainerId(container_id),
        sandbox_id=SandboxId(labels.get(ri.LABEL_SANDBOX_ID, "")),
        pod_uid=labels.get(ri.LABEL_POD_UID, ""),
        pod_name=labels.get(ri.LABEL_POD_NAME, ""),
        namespace=labels.get(ri.LABEL_POD_NAMESPACE, ""),
        node_name=labels.get(ri.LABEL_NODE, ""),
        name=labels.get(ri.LABEL_CONTAINER_NAME, ""),
        restart_count=int(labels.get(ri.LABEL_RESTART_COUNT, "0")),
        state=state, image=image, image_id=image_id, created_at=created_at, labels=labels,
    )


def _container_from_list(entry: dict[str, Any]) -> ri.Container:
    return ri.Container(**_container_fields(
        container_id=entry["Id"], labels=entry.get("Labels") or {},
        state=_container_state(entry.get("State", "")), image=entry.get("Image", ""),
        image_id=entry.get("ImageID", ""), created_at=_epoch(entry["Created"])))


def _container_status(info: dict[str, Any]) -> ri.ContainerStatus:
    state = info["State"]
    created = _docker_time(info["Created"]) or _ZERO_TIME
    started = _docker_time(state.get("StartedAt"))
    finished = _docker_time(state.get("FinishedAt"))
    exit_code: int | None = None
    reason = message = None
    if state.get("Running") or state.get("Status") in ("paused", "restarting"):
        phase = ri.ContainerState.RUNNING
    elif finished is not None:
        phase = ri.ContainerState.EXITED
        exit_code = state.get("ExitCode", 0)
        reason = ri.terminated_reason(exit_code=exit_code, oom_killed=bool(state.get("OOMKilled")))
        message = state.get("Error") or None
    elif state.get("ExitCode"):
        # Created but never ran (e.g. its command does not exist): dockershim reports it
        # exited, with both times at creation.
        phase = ri.ContainerState.EXITED
        exit_code = state["ExitCode"]
        reason, message = "ContainerCannotRun", state.get("Error") or None
        started = finished = created
    else:
        phase = ri.ContainerState.CREATED
    fields = _container_fields(
        container_id=info["Id"], labels=info["Config"].get("Labels") or {}, state=phase,
        image=info["Config"].get("Image", ""), image_id=info.get("Image", ""), created_at=created)
    return ri.ContainerStatus(**fields, exit_code=exit_code, started_at=started,
                              finished_at=finished, reason=reason, message=message)
