"""The kubelet's Prometheus metrics, with Kubernetes' names and buckets, served at
``/metrics`` on the node API (authorized as ``nodes/metrics``).

* ``kubelet_pod_start_duration_seconds`` — from the kubelet first seeing a pod to the pod
  running (its first status with phase Running); pods found already running (adopted after a
  restart) are not counted;
* ``kubelet_runtime_operations_total``, ``kubelet_runtime_operations_duration_seconds`` and
  ``kubelet_runtime_operations_errors_total`` by ``operation_type`` — recorded around the
  container runtime (:mod:`kubelet.runtime.instrumented`);
* ``kubelet_pleg_relist_duration_seconds`` — one relist of the runtime by the PLEG.

The node's proxy and DNS run in this process, so their ``kubeproxy_*`` and ``coredns_*``
metrics are served here too.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from minik8s.metrics import exponential_buckets

__all__ = ["PodStartTracker", "PLEG_RELIST_DURATION", "RUNTIME_DURATION", "RUNTIME_ERRORS", "RUNTIME_OPERATIONS"]

POD_START = Histogram("kubelet_pod_start_duration_seconds", "Duration in seconds from kubelet seeing a pod for the "
                      "first time to the pod starting to run",
                      buckets=(0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900,
                               1200, 1800, 2700, 3600))
RUNTIME_OPERATIONS = Counter("kubelet_runtime_operations", "Cumulative number of runtime operations by operation "
                             "type.", ["operation_type"])
RUNTIME_DURATION = Histogram("kubelet_runtime_operations_duration_seconds", "Duration in seconds of runtime "
                             "operations. Broken down by operation type.", ["operation_type"],
                             buckets=exponential_buckets(0.005, 2.5, 14))
RUNTIME_ERRORS = Counter("kubelet_runtime_operations_errors", "Cumulative number of runtime operation errors by "
                         "operation type.", ["operation_type"])
PLEG_RELIST_DURATION = Histogram("kubelet_pleg_relist_duration_seconds", "Duration in seconds for relisting pods in "
                                 "PLEG.", buckets=exponential_buckets(0.005, 2.5, 14))


class PodStartTracker:
    """When each pod was first seen, until it is seen running (then its start is observed)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}  # uid -> first seen (monotonic); absent once counted or skipped
        self._done: set[str] = set()

    def seen(self, uid: str, phase: str | None) -> None:
        if uid in self._done or uid in self._seen:
            return
        if phase in ("Running", "Succeeded", "Failed"):  # started before this kubelet saw it
            self._done.add(uid)
            return
        self._seen[uid] = time.monotonic()

    def phase(self, uid: str, phase: str) -> None:
        if phase == "Running":
            first = self._seen.pop(uid, None)
            if first is not None:
                POD_START.observe(time.monotonic() - first)
                self._done.add(uid)

    def forget(self, uid: str) -> None:
        self._seen.pop(uid, None)
        self._done.discard(uid)
