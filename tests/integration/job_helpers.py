"""Helpers for the Job and CronJob controller tests: a namespace of one's own on the harness'
apiserver, controllers whose informers run but whose ``sync`` a test may call itself (with a
fake clock), and the kubelet's status half for pods that finish (no kubelet runs here).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator
from typing import Any

from minik8s import errors, timestamps
from minik8s.api.resources import EVENTS, NAMESPACES, PODS
from minik8s.client.informer import SharedInformerFactory
from minik8s.workqueue import FakeClock, WorkQueue
from tests.integration.controller_harness import new_namespace
from tests.waiting import eventually

T0 = datetime.datetime(2026, 12, 4, 10, 0, 30, tzinfo=datetime.UTC)


class Clock:
    """A settable ``now()`` for controllers and a FakeClock for their queue, moved together."""

    def __init__(self, start: datetime.datetime = T0) -> None:
        self.at = start
        self.queue_clock = FakeClock()

    def __call__(self) -> datetime.datetime:
        return self.at

    def step(self, seconds: float) -> None:
        self.at += datetime.timedelta(seconds=seconds)
        self.queue_clock.step(seconds)

    def queue(self, name: str) -> WorkQueue:
        return WorkQueue(name=name, clock=self.queue_clock)


@contextlib.asynccontextmanager
async def namespace(apiserver_process: Any) -> AsyncIterator[tuple[Any, str]]:
    client = apiserver_process.client()
    ns = await new_namespace(client, "batch")
    try:
        yield client, ns
    finally:
        with contextlib.suppress(errors.MiniK8sError):
            await client.delete(NAMESPACES, ns)
        await client.close()


@contextlib.asynccontextmanager
async def synced(client: Any, build: Any) -> AsyncIterator[Any]:
    """A controller with its informers listed and watching, not running: tests call ``sync``."""
    factory = SharedInformerFactory(client)
    ctrl = build(factory)
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30.0)
        yield ctrl
    finally:
        await factory.shutdown()
        recorder = getattr(ctrl, "recorder", None)
        if recorder is not None:
            with contextlib.suppress(Exception):
                await recorder.close()


def job(name: str, *, restart: str = "Never", command: list[str] | None = None, **spec: Any) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [
                {"name": "main", "image": "minik8s/busybox:latest", "command": command or ["true"]}]}}, **spec}}


async def job_pods(client: Any, ns: str, name: str) -> list[dict]:
    return (await client.list(PODS, namespace=ns, label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]


async def finish(client: Any, pod: dict, phase: str, *, at: datetime.datetime, exit_code: int | None = None) -> None:
    """Write what a kubelet writes when the pod's container exits."""
    code = exit_code if exit_code is not None else (0 if phase == "Succeeded" else 1)
    t = timestamps.format_time(at)
    status = {"phase": phase, "containerStatuses": [{
        "name": "main", "image": "minik8s/busybox:latest", "imageID": "", "ready": False, "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                 "startedAt": t, "finishedAt": t}}}],
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": t}]}
    md = pod["metadata"]
    await client.patch(PODS, md["name"], {"status": status}, namespace=md["namespace"], subresource="status",
                       patch_type="merge")


async def cached(store: Any, key: str, check: Any, what: str) -> dict:
    """Wait until the informer's copy of ``key`` satisfies ``check`` (the controller's view)."""
    async def probe() -> dict | None:
        obj = store.get(key)
        return obj if obj is not None and check(obj) else None
    return await eventually(probe, what=what)


async def events(client: Any, ns: str, reason: str) -> list[dict]:
    return [e for e in (await client.list(EVENTS, namespace=ns))["items"] if e.get("reason") == reason]


async def sync(ctrl: Any, key: str) -> None:
    """``ctrl.sync(key)`` as a worker runs it: a conflict (the cache was behind the controller's
    own last write) is retried, as the workqueue would, once the cache has caught up."""
    for _ in range(100):
        try:
            await ctrl.sync(key)
            return
        except errors.Conflict:
            await asyncio.sleep(0.05)
    raise AssertionError(f"sync of {key} kept conflicting")
