"""Metrics read from the watch cache when ``/metrics`` is scraped: ``apiserver_storage_objects``
(objects stored per resource), ``apiserver_registered_watchers`` (watches open per kind) and
``apiserver_watch_events_total`` (events sent to watchers per kind; the watch stream adds a
batch's count to :data:`SENT` once per batch, a dict update on its path).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["SENT", "install"]

#: ResourceType -> watch events sent (incremented by the watch stream).
SENT: collections.Counter[Any] = collections.Counter()


class CacheCollector:
    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Any]:
        from apiserver.registry.table import TABLE

        by_plural = {e.type.plural: e.type for e in TABLE}
        objects = GaugeMetricFamily("apiserver_storage_objects",
                                    "Number of stored objects at the time of last check split by kind.",
                                    labels=["resource"])
        watchers = GaugeMetricFamily("apiserver_registered_watchers",
                                     "Number of currently registered watchers for a given resources",
                                     labels=["group", "version", "kind"])
        for plural, rc in sorted(self.cache._resources.items()):
            t = by_plural.get(plural)
            group = t.group if t is not None else ""
            # raw holds every object (objects only those decoded: watchcache.DECODED_ON_DEMAND)
            objects.add_metric([f"{plural}.{group}" if group else plural], len(rc.raw))
            if t is not None:
                watchers.add_metric([t.group, t.version, t.kind], len(rc.all_watchers()))
        events = CounterMetricFamily("apiserver_watch_events", "Number of events sent in watch clients",
                                     labels=["group", "version", "kind"])
        for t, n in sorted(SENT.items(), key=lambda kv: (kv[0].group, kv[0].kind)):
            events.add_metric([t.group, t.version, t.kind], n)
        yield from (objects, watchers, events)


_collector: CacheCollector | None = None


def install(cache: Any) -> None:
    """Collect from ``cache`` (one collector per process: a second app replaces the cache)."""
    global _collector
    if _collector is None:
        _collector = CacheCollector(cache)
        REGISTRY.register(_collector)
    _collector.cache = cache
