"""The service proxy's Prometheus metrics, with kube-proxy's names and buckets:
``kubeproxy_sync_proxy_rules_duration_seconds`` (every sync pass, applied or not),
``kubeproxy_sync_proxy_rules_last_timestamp_seconds`` (the last pass that succeeded) and
``kubeproxy_network_programming_duration_seconds`` (a Service or EndpointSlice change until
the rules for it are in place)."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

from minik8s.metrics import exponential_buckets

__all__ = ["LAST_SYNC", "PROGRAMMING", "SYNC_DURATION"]

SYNC_DURATION = Histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds",
                          buckets=exponential_buckets(0.001, 2, 15))
LAST_SYNC = Gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                  "The last time proxy rules were successfully synced")
PROGRAMMING = Histogram("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency "
                        "in seconds", buckets=(0.25, 0.5, *range(1, 60), *range(60, 120, 5), *range(120, 331, 30)))
