"""The scrape loop: every ``--metric-resolution`` (metrics-server's flag, 15 s) each kubelet
is asked for ``/stats/summary`` and its figures go into the :class:`~.store.MetricsStore`.

Kubelets are reached as ``pods/log`` reaches them (:mod:`apiserver.kubelet_client`: the Node's
InternalIP and kubelet port, TLS verified against the cluster CA, the apiserver's client
certificate, authorized by the kubelet as ``nodes/stats``). Nodes sharing one endpoint (the
hollow nodes of one kubelet process) are asked once. All kubelets are asked at once, a few
at a time; one that fails or is slow is logged once and left out until it answers again. The
first scrape runs as soon as the apiserver is ready, so metrics exist after the second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import httpx

from apiserver import errors, kubelet_client
from apiserver.registry import table as registry
from apiserver.resourcemetrics.store import MetricsStore
from apiserver.rest import ListOptions
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.scope import Server

__all__ = ["DEFAULT_RESOLUTION_S", "Scraper", "add_flags"]

log = logging.getLogger(__name__)

DEFAULT_RESOLUTION_S = 15.0
_CONCURRENCY = 16
_TIMEOUT_S = 10.0


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric-resolution", type=float, default=DEFAULT_RESOLUTION_S,
                   help="seconds between scrapes of the kubelets' /stats/summary for metrics.k8s.io "
                        "(metrics-server's flag; default 15, 0 turns the scrapes off)")


class Scraper:
    def __init__(self, server: Server, *, resolution: float = DEFAULT_RESOLUTION_S) -> None:
        self.server = server
        self.resolution = resolution
        self.store = MetricsStore()
        self._task: asyncio.Task[None] | None = None
        self._failing: set[str] = set()  # nodes whose failure was logged

    def start(self) -> None:
        if self.resolution > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="metrics scraper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.scrape_once()
            except Exception:  # a bug: keep scraping, keep the traceback
                log.exception("scraping the kubelets failed")
            await asyncio.sleep(max(0.0, self.resolution - (loop.time() - started)))

    async def scrape_once(self) -> None:
        client = self.server.kubelet_client
        if client is None:
            return
        nodes = (await self.server.rest.list(registry.BY_TYPE[rs.NODES], None, ListOptions()))["items"]
        endpoints: dict[tuple[str, int], kubelet_client.Endpoint] = {}
        for node in nodes:
            try:
                ep = kubelet_client.endpoint_of(node)
            except errors.StatusError:
                continue  # not registered with an endpoint yet
            endpoints.setdefault((ep.ip, ep.port), ep)
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def one(ep: kubelet_client.Endpoint) -> None:
            async with gate:
                summary = await self._summary(client, ep)
            if summary is not None:
                self.store.update_node((summary.get("node") or {}).get("nodeName") or ep.node, summary)

        await asyncio.gather(*(one(ep) for ep in endpoints.values()))
        self.store.forget_nodes(n["metadata"]["name"] for n in nodes)

    async def _summary(self, client: Any, ep: kubelet_client.Endpoint) -> dict[str, Any] | None:
        try:
            r = await client.http.get(ep.url("/stats/summary"), timeout=_TIMEOUT_S)
            r.raise_for_status()
            body = r.json()
        except (httpx.HTTPError, ValueError, errors.StatusError) as e:
            if ep.node not in self._failing:
                self._failing.add(ep.node)
                log.warning("unable to fully scrape metrics from node %s: %s", ep.node, e)
            return None
        if ep.node in self._failing:
            self._failing.discard(ep.node)
            log.info("scraping node %s again", ep.node)
        return body if isinstance(body, dict) else None
