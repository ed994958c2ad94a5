"""``minik8s-kubelet``: the node agent's entry point.

Flags become one :class:`~kubelet.config.KubeletConfig` (logged), then one process runs: a
REST client, a container runtime (Docker, or the hollow one shared by ``--count`` nodes), a
:class:`~kubelet.kubelet.Kubelet` per node name and one node HTTP server. SIGTERM/SIGINT stop
the agent and leave the containers running, as Kubernetes' kubelet does: the next kubelet
adopts them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys

from kubelet import auth, hostinfo, serving
from kubelet.config import KubeletConfig, parse_args
from kubelet.kubelet import Kubelet
from kubelet.objects import ObjectManager
from kubelet.runtime import interface as ri
from kubelet.runtime.docker import DockerRuntime
from kubelet.runtime.fake import FakeRuntime
from kubelet.runtime.instrumented import instrument
from kubelet.server import NodeServer
from minik8s import delegated_auth, process, taskgroup
from minik8s.client.rest import ApiClient

__all__ = ["main", "run"]

log = logging.getLogger("kubelet")

# The docker SDK's calls (pulls, networks, exec set-up) and file work block a thread each (a
# pull for as long as it takes): the default pool of cpu+4 threads would let a few slow ones
# starve every other call. A pod's own engine calls (runtime/engine.py) take no thread.
_THREADS = 64


async def _runtime(cfg: KubeletConfig) -> tuple[ri.ContainerRuntime, str]:
    if cfg.runtime == "fake":
        return FakeRuntime(), "fake"
    delay = 0.5
    warned = False
    while True:
        runtime = await DockerRuntime.connect(base_url=cfg.docker_host, sandbox_image=cfg.pod_infra_image)
        try:
            await runtime.version()
            return runtime, "docker"
        except ri.RuntimeError_ as e:
            await runtime.close()
            if not warned:
                log.warning("cannot reach the Docker engine (%s); retrying", e)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def run(cfg: KubeletConfig) -> int:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(_THREADS, thread_name_prefix="kubelet"))
    if cfg.kubeconfig:
        client = ApiClient.from_kubeconfig(cfg.kubeconfig, user_agent="minik8s-kubelet")
    else:
        assert cfg.apiserver
        client = ApiClient(cfg.apiserver, user_agent="minik8s-kubelet")
    runtime, runtime_name = await _runtime(cfg)
    runtime = instrument(runtime)  # kubelet_runtime_operations_* (Prometheus)
    host = await asyncio.to_thread(hostinfo.read_host_info)
    host_ip = cfg.address or await asyncio.to_thread(hostinfo.primary_ip)
    objects = ObjectManager(client)  # one watch per ConfigMap/Secret for all the nodes of this client
    kubelets = [Kubelet(cfg, node_name=name, client=client, runtime=runtime, runtime_name=runtime_name,
                        host_ip=host_ip, host=host, objects=objects) for name in cfg.node_names()]
    process.tune_gc(process.INFORMER_GC_GEN0_THRESHOLD)  # informer caches of every node: a large heap of acyclic JSON
    bind = cfg.bind_address or host_ip
    server: NodeServer | None = None

    async def serve_node_api() -> None:
        nonlocal server
        # The TLS files may have to be made (a self-signed certificate): the kubelets start
        # meanwhile, the node API when they are ready.
        certificate = None
        if cfg.rotate_server_certificates:
            # Asked of the cluster; its approver wants the Node registered, which the kubelet
            # task does meanwhile.
            from kubelet.server_certificate import ServingCertificate
            node = cfg.node_names()[0]
            certificate = ServingCertificate(client, node=node, cert_dir=cfg.cert_dir, hostname=node, ips=[host_ip],
                                             ca_file=cfg.client_ca_file)
            current = await certificate.ensure()
        try:
            if certificate is not None:
                tls = serving.tls_options(*certificate.paths, cfg.client_ca_file)
            else:
                tls = await asyncio.to_thread(serving.uvicorn_options, cfg, host_ip)
        except (OSError, ValueError) as e:
            raise RuntimeError(f"the node API's TLS files cannot be used: {e}") from None
        tokens = delegated_auth.TokenReviewer(client) if cfg.authentication_token_webhook else None
        server = NodeServer(lambda: kubelets, host=bind, port=cfg.port, tls=tls,
                            authorize=auth.MODES[cfg.authorization_mode](cfg, client),
                            stats_interval=cfg.housekeeping_interval, tokens=tokens)
        log.info("node API on https://%s:%d (client CA %s, authorization %s)", bind, cfg.port,
                 cfg.client_ca_file or "none: every request is refused", cfg.authorization_mode)
        if certificate is None:
            await server.serve()
            return
        rotation = asyncio.create_task(certificate.rotate(current, server.reload_certificate), name="cert rotation")
        try:
            await server.serve()
        finally:
            rotation.cancel()

    log.info("node(s) %s: runtime %s, InternalIP %s",
             ", ".join(cfg.node_names()[:3]) + (" ..." if cfg.count > 3 else ""), runtime_name, host_ip)

    stop = asyncio.Event()
    process.add_stop_handler(stop.set, loop)  # SIGTERM/SIGINT, or minik8s up's host
    tasks = [asyncio.create_task(serve_node_api(), name="node server")]
    tasks += [asyncio.create_task(k.run(), name=f"kubelet {k.node_name}") for k in kubelets]
    stopper = asyncio.create_task(stop.wait(), name="signals")
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for t in done:
        if t is stopper:
            log.info("stopping (containers keep running; the next kubelet adopts them)")
            continue
        exc = t.exception() if not t.cancelled() else None
        if isinstance(exc, SystemExit) or (exc is None and t.get_name() == "node server"):
            log.error("the node API could not serve on %s:%d", bind, cfg.port)
        elif exc is not None:
            log.error("%s failed: %r", t.get_name(), exc, exc_info=exc)
        code = 1
    if server is not None:
        await server.shutdown()
    await asyncio.gather(*(k.close() for k in kubelets), return_exceptions=True)
    await objects.close()
    await taskgroup.cancel_and_wait(tasks)
    stopper.cancel()
    with contextlib.suppress(Exception):
        await runtime.close()
    await client.close()
    return code


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    process.setup_logging(cfg.log_level)
    log.info("starting with %s", cfg)
    sys.exit(process.run(run(cfg)))


if __name__ == "__main__":
    main()
