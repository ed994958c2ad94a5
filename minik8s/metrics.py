"""Prometheus metrics shared by every minik8s process, through ``prometheus_client``.

Each process exposes its default registry (with the library's ``process_*`` and
``python_gc_*`` collectors) at ``/metrics`` in the text format Prometheus negotiates
(:func:`exposition`). Metric names and labels are Kubernetes' where Kubernetes has the metric;
the bucket layouts below are Kubernetes' too.

Hot paths resolve a metric's labelled child once and keep it (``labels()`` costs a dict
lookup and a lock per call); values that are cheaper to read than to keep up to date (a
queue's depth, the age of its oldest work) are computed when scraped, by collectors.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder

__all__ = ["LoopCounter", "LoopHistogram", "REQUEST_DURATION_BUCKETS", "exponential_buckets", "exposition"]

#: apiserver_request_duration_seconds' and etcd_request_duration_seconds' buckets.
REQUEST_DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15,
                            20, 30, 45, 60)


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    """``count`` bucket bounds from ``start``, each ``factor`` times the last (Prometheus'
    ``ExponentialBuckets``)."""
    return tuple(start * factor ** i for i in range(count))


class _HistogramChild:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value


class LoopHistogram:
    """A labelled histogram for code on one event loop: ``child(*labels).observe(v)`` is a
    bisect and two additions, no lock (prometheus_client's takes a lock per bucket and sum, a
    few microseconds a request). Registered as a collector, it makes its samples when scraped.
    Only for metrics observed from a single thread."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float],
                 *, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self.buckets = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], _HistogramChild] = {}
        if registry is not None:
            registry.register(self)

    def child(self, *labels: str) -> _HistogramChild:
        c = self._children.get(labels)
        if c is None:
            c = self._children[labels] = _HistogramChild(self.buckets)
        return c

    def collect(self) -> Iterator[Any]:
        fam = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        les = [repr(b) for b in self.buckets] + ["+Inf"]
        for labels, c in list(self._children.items()):
            acc, out = 0, []
            for le, n in zip(les, c.counts):
                acc += n
                out.append((le, acc))
            fam.add_metric(list(labels), out, c.total)
        yield fam


class _CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class LoopCounter:
    """A labelled counter for code on one event loop (see :class:`LoopHistogram`); ``name``
    without ``_total``, which the exposition adds."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], *,
                 registry: CollectorRegistry | None = REGISTRY) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self._children: dict[tuple[str, ...], _CounterChild] = {}
        if registry is not None:
            registry.register(self)

    def child(self, *labels: str) -> _CounterChild:
        c = self._children.get(labels)
        if c is None:
            c = self._children[labels] = _CounterChild()
        return c

    def collect(self) -> Iterator[Any]:
        fam = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, c in list(self._children.items()):
            fam.add_metric(list(labels), c.value)
        yield fam


def exposition(accept: str | None, registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry's samples and their Content-Type, in the format ``accept`` asks for
    (Prometheus text 0.0.4 unless OpenMetrics is asked for)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def parse_address(text: str, *, flag: str) -> tuple[str, int] | None:
    """``host:port`` of a ``--metrics-bind-address`` (None: off, for ``""`` or port 0)."""
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{flag}: {text!r} is not host:port")
    return (host.strip("[]") or "0.0.0.0", int(port)) if int(port) else None


async def serve_http(address: tuple[str, int] | None, *, name: str) -> None:
    """``/metrics`` (and ``/healthz``) over plain HTTP on ``address`` until cancelled, as
    kube-proxy's ``--metrics-bind-address`` and CoreDNS' ``prometheus`` plugin serve them
    (bound to loopback by default: plain HTTP is for this host alone). A port that cannot be
    bound is logged; the component goes on."""
    import asyncio
    import logging

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    if address is None:
        await asyncio.Event().wait()
        return

    async def serve_metrics(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/metrics", serve_metrics), Route("/healthz", healthz)])
    server = uvicorn.Server(uvicorn.Config(app, host=address[0], port=address[1], log_level="warning",
                                           access_log=False, lifespan="off"))
    # uvicorn 0.29 replaced install_signal_handlers with capture_signals, so this no longer
    # keeps uvicorn off the signals: left as it was (issue #16 reports it), not papered over.
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    logging.getLogger(__name__).info("%s: /metrics on http://%s:%d", name, *address)
    try:
        await server.serve()
    except SystemExit:
        pass
    except asyncio.CancelledError:
        server.should_exit = True
        raise
    if not server.started:
        logging.getLogger(__name__).error("%s: cannot serve /metrics on %s:%d", name, *address)
        await asyncio.Event().wait()
