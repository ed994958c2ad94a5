"""``minik8s-proxy``: the per-node service proxy, alone (the kubelet runs the same in-process).

Flags become one :class:`ProxyOptions`; :func:`serve` runs the proxy on an ApiClient until
cancelled: informers on Services and EndpointSlices feeding the iptables
:class:`~kubelet.proxy.proxier.Proxier`, and, unless ``--pod-routes=false``, the host-gw
:class:`~kubelet.network.RouteSyncer` on Nodes. ``--cleanup`` removes every rule, chain and
route the proxy made, then exits (as ``kube-proxy --cleanup``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable

from kubelet import network
from kubelet.proxy import proxier
from minik8s import metrics, process, taskgroup
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

__all__ = ["ProxyOptions", "serve", "main", "parse_args"]

log = logging.getLogger("proxy")


@dataclasses.dataclass(frozen=True)
class ProxyOptions:
    cluster_cidr: str = network.DEFAULT_CLUSTER_CIDR
    min_sync_period: float = 0.0
    sync_period: float = 30.0
    pod_routes: bool = True
    localhost_nodeports: bool = True


async def serve(client: ApiClient, options: ProxyOptions, *, informers: SharedInformerFactory | None = None,
                started: asyncio.Event | None = None,
                on_proxier: Callable[[proxier.Proxier], None] | None = None) -> None:
    """Run the proxy until cancelled. ``informers``: a factory to share (the kubelet's), else
    one of its own; ``started`` is set once the first rules are in place; ``on_proxier`` (for
    tests and benchmarks) is handed the Proxier when it exists."""
    own = informers is None
    informers = informers or SharedInformerFactory(client)
    prox = proxier.Proxier(client, informers, cluster_cidr=options.cluster_cidr,
                           min_sync_period=options.min_sync_period, sync_period=options.sync_period,
                           localhost_nodeports=options.localhost_nodeports)
    if on_proxier is not None:
        on_proxier(prox)
    tasks = [asyncio.create_task(prox.run(), name="proxier")]
    if options.pod_routes:
        routes = network.RouteSyncer(informers)
        tasks.append(asyncio.create_task(routes.run(), name="routes"))
    informers.start()
    if started is not None:
        async def signal_started() -> None:
            await prox.wait_first_sync()
            started.set()
        tasks.append(asyncio.create_task(signal_started(), name="proxy started"))
    try:
        await taskgroup.run_together(tasks)
    finally:
        if own:
            await informers.shutdown()


def _bool(text: str) -> bool:
    if text.lower() in ("1", "t", "true", "yes"):
        return True
    if text.lower() in ("0", "f", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik8s-proxy", description="The minik8s service proxy (iptables).")
    p.add_argument("--apiserver", "--master", dest="apiserver", help="apiserver URL, e.g. http://127.0.0.1:6443")
    p.add_argument("--kubeconfig", help="kubeconfig file (instead of --apiserver)")
    p.add_argument("--cluster-cidr", default=network.DEFAULT_CLUSTER_CIDR,
                   help="the pods' CIDR; traffic to services from outside it is masqueraded")
    p.add_argument("--min-sync-period", type=float, default=0.0, help="seconds between rule rebuilds, at least")
    p.add_argument("--sync-period", type=float, default=30.0, help="seconds between full re-applies")
    p.add_argument("--pod-routes", type=_bool, default=True, nargs="?", const=True,
                   help="keep host-gw routes to other nodes' podCIDRs (default true)")
    p.add_argument("--cleanup", action="store_true", help="remove every rule, chain and route made, then exit")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--metrics-bind-address", default="127.0.0.1:10249",
                   help="host:port of /metrics over plain HTTP, as kube-proxy's; '' or port 0 turns it off "
                        "(default %(default)s)")
    return p


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, ProxyOptions]:
    p = _parser()
    a = p.parse_args(argv)
    if not a.cleanup and not a.apiserver and not a.kubeconfig:
        p.error("one of --apiserver or --kubeconfig is required")
    import ipaddress
    try:
        ipaddress.ip_network(a.cluster_cidr)
    except ValueError as e:
        p.error(f"--cluster-cidr: {e}")
    try:
        a.metrics_address = metrics.parse_address(a.metrics_bind_address, flag="--metrics-bind-address")
    except ValueError as e:
        p.error(str(e))
    return a, ProxyOptions(cluster_cidr=a.cluster_cidr, min_sync_period=a.min_sync_period,
                           sync_period=a.sync_period, pod_routes=a.pod_routes)


async def _amain(a: argparse.Namespace, options: ProxyOptions) -> int:
    if a.cleanup:
        await proxier.cleanup()
        await network.remove_routes()
        log.info("proxy: rules, chains and routes removed")
        return 0
    client = (ApiClient.from_kubeconfig(a.kubeconfig, user_agent="minik8s-proxy") if a.kubeconfig
              else ApiClient(a.apiserver, user_agent="minik8s-proxy"))
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(serve(client, options), metrics.serve_http(a.metrics_address, name="proxy"))
    finally:
        await client.close()
    return 0


def main(argv: list[str] | None = None) -> None:
    a, options = parse_args(argv)
    process.setup_logging(a.log_level)
    log.info("starting with %s", options)
    sys.exit(process.run(_amain(a, options)))


if __name__ == "__main__":
    main()
