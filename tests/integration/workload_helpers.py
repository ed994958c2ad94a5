"""Helpers for the workload-controller tests: a namespace of one's own on the real apiserver,
controllers running in-process on a shared informer factory, and a stand-in for the kubelet.

No kubelet runs in these tests, so pods never become Ready by themselves: :class:`PodReadier`
plays the kubelet's status half, writing ``phase: Running`` and a ``Ready`` condition through
``pods/{name}/status`` exactly as a kubelet would (optionally only for pods it is told to).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Callable
from typing import Any

from minik8s import errors, timestamps
from minik8s.api.resources import DEPLOYMENTS, EVENTS, NAMESPACES, PODS, REPLICASETS
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from tests.conftest import ApiServer
from tests.waiting import eventually


def now_rfc3339(offset: float = 0.0) -> str:
    """A meta/v1 Time ``offset`` seconds from now."""
    return timestamps.in_seconds(offset)


# tests/waiting.py's eventually, as the workload tests have polled
wait_for = functools.partial(eventually, timeout=20.0, interval=0.05)


def pod_template(labels: dict[str, str], *, image: str = "minik8s/busybox:latest", **spec: Any) -> dict:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}], **spec},
    }


def replicaset(name: str, replicas: int, labels: dict[str, str], **spec: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": pod_template(labels), **spec}}


def deployment(name: str, replicas: int, labels: dict[str, str], *, image: str = "minik8s/busybox:latest",
               **spec: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": pod_template(labels, image=image), **spec}}


class Namespace:
    """A fresh namespace and a client defaulting to it."""

    def __init__(self, client: ApiClient, name: str) -> None:
        self.client, self.name = client, name

    async def pods(self, *, selector: str | None = None, active: bool = True) -> list[dict]:
        items = (await self.client.list(PODS, namespace=self.name, label_selector=selector))["items"]
        if active:
            items = [p for p in items if not p["metadata"].get("deletionTimestamp")
                     and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        return items

    async def replicasets(self, *, selector: str | None = None) -> list[dict]:
        return (await self.client.list(REPLICASETS, namespace=self.name, label_selector=selector))["items"]

    async def get_rs(self, name: str) -> dict:
        return await self.client.get(REPLICASETS, name, namespace=self.name)

    async def get_deploy(self, name: str) -> dict:
        return await self.client.get(DEPLOYMENTS, name, namespace=self.name)

    async def events(self, reason: str | None = None) -> list[dict]:
        items = (await self.client.list(EVENTS, namespace=self.name))["items"]
        return [e for e in items if reason is None or e.get("reason") == reason]


@contextlib.asynccontextmanager
async def namespace(server: ApiServer):
    client = server.client()  # the kubeconfig's namespace is "default"
    name = f"t-{uuid.uuid4().hex[:10]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    client.namespace = name
    try:
        yield Namespace(client, name)
    finally:
        with contextlib.suppress(errors.MiniK8sError):
            await client.delete(NAMESPACES, name)
        await client.close()


class Controllers:
    """Controllers on one informer factory; ``start()`` runs them, ``stop()`` ends them."""

    def __init__(self, client: ApiClient, namespace: str | None = None) -> None:
        self.client = client
        self.informers = SharedInformerFactory(client)
        self.tasks: list[asyncio.Task] = []
        self.controllers: list[Any] = []

    def add(self, ctrl: Any) -> Any:
        self.controllers.append(ctrl)
        return ctrl

    async def sync_caches(self) -> None:
        self.informers.start()
        assert await self.informers.wait_for_sync(timeout=10.0), "informers did not sync"

    async def start(self, workers: int = 2) -> None:
        await self.sync_caches()
        for c in self.controllers:
            self.tasks.append(asyncio.create_task(c.run(workers)))

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.informers.shutdown()
        for c in self.controllers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.recorder.close(), 5.0)


def ready_status(*, ready: bool = True, since: str | None = None, restarts: int = 0) -> dict:
    t = since or now_rfc3339()
    return {
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": t},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": t},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
        ],
        "containerStatuses": [{"name": "main", "image": "minik8s/busybox:latest", "imageID": "", "ready": ready,
                               "restartCount": restarts, "started": True,
                               "state": {"running": {"startedAt": t}}}],
    }


async def mark_ready(client: ApiClient, pod: dict, *, ready: bool = True, since: str | None = None,
                     restarts: int = 0) -> None:
    md = pod["metadata"]
    with contextlib.suppress(errors.NotFound):
        await client.patch(PODS, md["name"], {"status": ready_status(ready=ready, since=since, restarts=restarts)},
                           namespace=md["namespace"], subresource="status", patch_type="merge")


class PodReadier:
    """Plays the kubelet's status writer: every pod of the namespace that ``accept`` approves
    becomes Running and Ready shortly after it appears (a watch, not a poll)."""

    def __init__(self, client: ApiClient, namespace: str, *, accept: Callable[[dict], bool] = lambda p: True) -> None:
        self.client, self.namespace, self.accept = client, namespace, accept
        self._task: asyncio.Task | None = None
        self.readied: set[str] = set()

    async def __aenter__(self) -> PodReadier:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        from minik8s.client.informer import Informer

        inf = Informer(self.client, PODS, namespace=self.namespace)

        def consider(pod: dict) -> None:
            md = pod["metadata"]
            if md.get("deletionTimestamp") or md["name"] in self.readied or not self.accept(pod):
                return
            self.readied.add(md["name"])
            asyncio.get_running_loop().create_task(mark_ready(self.client, pod))

        inf.add_handler(on_add=consider, on_update=lambda old, new: consider(new))
        await inf.run()
