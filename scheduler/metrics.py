"""The scheduler's Prometheus metrics, with kube-scheduler's names and labels.

* ``scheduler_schedule_attempts_total{result, profile}`` — ``scheduled`` (bound),
  ``unschedulable`` (no node fits) or ``error``;
* ``scheduler_scheduling_attempt_duration_seconds{result, profile}`` — from the start of the
  scheduling cycle to that result (binding included for ``scheduled``);
* ``scheduler_pending_pods{queue}`` — pods waiting in the ``active``, ``backoff`` and
  ``unschedulable`` queues, read from the queue when scraped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from minik8s.metrics import exponential_buckets

__all__ = ["SCHEDULED", "UNSCHEDULABLE", "ERROR", "attempt", "watch_queue"]

SCHEDULED, UNSCHEDULABLE, ERROR = "scheduled", "unschedulable", "error"

ATTEMPTS = Counter("scheduler_schedule_attempts", "Number of attempts to schedule pods, by the result. "
                   "'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler "
                   "problem.", ["result", "profile"])
DURATION = Histogram("scheduler_scheduling_attempt_duration_seconds", "Scheduling attempt latency in seconds "
                     "(scheduling algorithm + binding)", ["result", "profile"],
                     buckets=exponential_buckets(0.001, 2, 15))


def attempt(result: str, profile: str, seconds: float) -> None:
    """Count one scheduling attempt's result and latency."""
    ATTEMPTS.labels(result, profile).inc()
    DURATION.labels(result, profile).observe(seconds)


class PendingPods:
    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        g = GaugeMetricFamily("scheduler_pending_pods", "Number of pending pods, by the queue type. 'active' means "
                              "number of pods in activeQ; 'backoff' means number of pods in backoffQ; "
                              "'unschedulable' means number of pods in unschedulablePods.", labels=["queue"])
        lengths = self.queue.lengths()
        for name in ("active", "backoff", "unschedulable"):
            g.add_metric([name], lengths.get(name, 0))
        yield g


_pending: PendingPods | None = None


def watch_queue(queue: Any) -> None:
    """Report ``queue``'s lengths as scheduler_pending_pods (the latest scheduler's queue)."""
    global _pending
    if _pending is None:
        _pending = PendingPods(queue)
        REGISTRY.register(_pending)
    _pending.queue = queue
