"""Running controllers in-process against the real apiserver, for the controller tests.

``async with running(client, lambda factory: SomeController(client, factory, ...)) as ctrl``
builds the controller on a fresh SharedInformerFactory, starts the informers and
``ctrl.run(workers)``, and stops all of it on exit. ``eventually(probe)`` polls an async
probe until it returns a truthy value (the value is returned) or a generous deadline passes:
it waits for a state, it does not measure how fast the state came.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from minik8s import errors
from minik8s.api.resources import NAMESPACES, ResourceType
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

C = TypeVar("C")


@contextlib.asynccontextmanager
async def running(client: ApiClient, build: Callable[[SharedInformerFactory], C], *,
                  workers: int = 2) -> AsyncIterator[C]:
    factory = SharedInformerFactory(client)
    ctrl = build(factory)
    factory.start()
    task = asyncio.create_task(ctrl.run(workers))  # type: ignore[attr-defined]
    try:
        await asyncio.wait_for(factory.wait_for_sync(), 30)
        yield ctrl
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await factory.shutdown()
        recorder = getattr(ctrl, "recorder", None)
        if recorder is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(recorder.close(), 5)


async def get_or_none(client: ApiClient, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict | None:
    try:
        return await client.get(rt, name, namespace=namespace)
    except errors.NotFound:
        return None


async def new_namespace(client: ApiClient, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
