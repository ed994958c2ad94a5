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

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

__all__ = ["REQUEST_DURATION_BUCKETS", "exponential_buckets", "exposition"]

#: apiserver_request_duration_seconds' and etcd_request_duration_seconds' buckets.
REQUEST_DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15,
                            20, 30, 45, 60)


def exponential_buckets(start: float, factor: float, count: int) -> tuple[float, ...]:
    """``count`` bucket bounds from ``start``, each ``factor`` times the last (Prometheus'
    ``ExponentialBuckets``)."""
    return tuple(start * factor ** i for i in range(count))


def exposition(accept: str | None, registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry's samples and their Content-Type, in the format ``accept`` asks for
    (Prometheus text 0.0.4 unless OpenMetrics is asked for)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
