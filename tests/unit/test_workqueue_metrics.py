"""A named work queue's Prometheus metrics, as client-go's workqueue reports them, read from
the process registry the way /metrics serves it."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY

from minik8s.workqueue import FakeClock, WorkQueue


def sample(metric: str, name: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"name": name})


async def test_adds_depth_latencies_retries_and_unfinished_work() -> None:
    clock = FakeClock()
    name = f"q-{uuid.uuid4().hex[:6]}"
    q = WorkQueue(name=name, clock=clock)
    q.add("a")
    q.add("a")  # stingy: one add
    q.add("b")
    assert sample("workqueue_adds_total", name) == 2
    assert sample("workqueue_depth", name) == 2
    clock.step(0.5)
    item = await q.get()
    assert item == "a"
    assert sample("workqueue_depth", name) == 1
    assert sample("workqueue_queue_duration_seconds_count", name) == 1
    assert sample("workqueue_queue_duration_seconds_sum", name) == 0.5
    assert sample("workqueue_queue_duration_seconds_bucket", name) is None  # needs the le label
    assert REGISTRY.get_sample_value("workqueue_queue_duration_seconds_bucket", {"name": name, "le": "0.1"}) == 0
    assert REGISTRY.get_sample_value("workqueue_queue_duration_seconds_bucket", {"name": name, "le": "1.0"}) == 1
    clock.step(2.0)
    assert sample("workqueue_unfinished_work_seconds", name) == 2.0
    assert sample("workqueue_longest_running_processor_seconds", name) == 2.0
    q.add_rate_limited("a")  # a retry while being processed
    q.done("a")
    assert sample("workqueue_retries_total", name) == 1
    assert sample("workqueue_work_duration_seconds_count", name) == 1
    assert sample("workqueue_work_duration_seconds_sum", name) == 2.0
    assert sample("workqueue_unfinished_work_seconds", name) == 0


def test_unnamed_queues_are_not_measured() -> None:
    before = list(REGISTRY.collect())
    WorkQueue().add("x")
    names = {s.labels.get("name") for fam in REGISTRY.collect() if fam.name.startswith("workqueue")
             for s in fam.samples}
    assert "" not in names
    del before
