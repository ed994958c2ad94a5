"""``minik8s-dns``: the per-node cluster DNS, alone (the kubelet runs the same in-process).

:func:`serve` runs :class:`~kubelet.dns.server.ClusterDNS` on an ApiClient until cancelled.
Standalone it binds ``--bind-address`` (the node's pod-network gateway, where its pods reach
it) on ``--port`` (53), UDP and TCP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from kubelet.dns.server import ClusterDNS
from minik8s import metrics, process, taskgroup
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

__all__ = ["serve", "main"]

log = logging.getLogger("dns")


async def serve(client: ApiClient, *, bind: str, port: int = 53, zone: str = "cluster.local",
                upstreams: list[str] | None = None, informers: SharedInformerFactory | None = None,
                started: asyncio.Event | None = None) -> None:
    """Serve until cancelled. ``informers``: a factory to share (the kubelet's), else one of
    its own; ``started`` is set once the server answers."""
    own = informers is None
    informers = informers or SharedInformerFactory(client)
    dns = ClusterDNS(informers, bind=bind, port=port, zone=zone, upstreams=upstreams)
    informers.start()
    tasks = [asyncio.create_task(dns.run(), name="dns")]
    if started is not None:
        async def signal_started() -> None:
            await dns.ready.wait()
            started.set()
        tasks.append(asyncio.create_task(signal_started(), name="dns started"))
    try:
        await taskgroup.run_together(tasks)
    finally:
        if own:
            await informers.shutdown()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik8s-dns", description="The minik8s cluster DNS server.")
    p.add_argument("--apiserver", "--master", dest="apiserver", help="apiserver URL, e.g. http://127.0.0.1:6443")
    p.add_argument("--kubeconfig", help="kubeconfig file (instead of --apiserver)")
    p.add_argument("--bind-address", required=True, help="address to serve on: the node's pod-network gateway")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--metrics-bind-address", default="127.0.0.1:9153",
                   help="host:port of /metrics over plain HTTP, as CoreDNS' prometheus plugin; '' or port 0 turns "
                        "it off (default %(default)s)")
    return p


def main(argv: list[str] | None = None) -> None:
    p = _parser()
    a = p.parse_args(argv)
    if not a.apiserver and not a.kubeconfig:
        p.error("one of --apiserver or --kubeconfig is required")
    try:
        address = metrics.parse_address(a.metrics_bind_address, flag="--metrics-bind-address")
    except ValueError as e:
        p.error(str(e))
    process.setup_logging(a.log_level)

    async def run() -> int:
        client = (ApiClient.from_kubeconfig(a.kubeconfig, user_agent="minik8s-dns") if a.kubeconfig
                  else ApiClient(a.apiserver, user_agent="minik8s-dns"))
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(serve(client, bind=a.bind_address, port=a.port, zone=a.cluster_domain),
                                     metrics.serve_http(address, name="dns"))
        finally:
            await client.close()
        return 0

    sys.exit(process.run(run()))


if __name__ == "__main__":
    main()
