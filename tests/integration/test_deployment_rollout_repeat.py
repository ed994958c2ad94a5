"""A plain image rollout never scales an old ReplicaSet back up (issue #14).

The sequence that showed it: 10 replicas, six successive image changes, each waited for as
``kubectl rollout status`` waits. The Deployment's replica count never changes, so no sync may
take it for a scaling event, and no old ReplicaSet may ever grow. The Deployment and
ReplicaSet controllers run in-process against the real apiserver; no kubelet runs, so
:class:`PodReadier` marks the pods Ready as a kubelet's status writer would. Several
Deployments roll at once, for several rounds, so that the controllers' caches lag behind their
own writes as they do under load; every ReplicaSet's size is watched throughout.
"""

from __future__ import annotations

import asyncio

import pytest

from controllers.deployment import DeploymentController
from controllers.replicaset import ReplicaSetController
from minik8s.api.resources import DEPLOYMENTS, REPLICASETS
from minik8s.client.informer import Informer
from tests.integration.test_deployment_controller import complete, image_of, set_image
from tests.integration.workload_helpers import Controllers, PodReadier, deployment, namespace, wait_for

REPLICAS = 10
ROLLOUTS = 6
DEPLOYMENTS_AT_ONCE = 4
ROUNDS = 2


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as n:
        yield n


async def test_image_rollouts_never_scale_an_old_replica_set_up(ns) -> None:
    ctrls = Controllers(ns.client)
    ctrls.add(ReplicaSetController(ns.client, ctrls.informers))
    ctrls.add(DeploymentController(ns.client, ctrls.informers))
    await ctrls.start(workers=5)
    # Every ReplicaSet size ever seen, in order, and the image each belongs to.
    sizes: dict[str, list[int]] = {}
    image: dict[str, str] = {}
    watcher = Informer(ns.client, REPLICASETS, namespace=ns.name)

    def observe(rs: dict) -> None:
        name = rs["metadata"]["name"]
        image[name] = image_of(rs)
        history = sizes.setdefault(name, [])
        if not history or history[-1] != rs["spec"]["replicas"]:
            history.append(rs["spec"]["replicas"])
    watcher.add_handler(on_add=observe, on_update=lambda old, new: observe(new))
    watch_task = asyncio.create_task(watcher.run())
    try:
        await watcher.wait_synced()
        async with PodReadier(ns.client, ns.name):
            for rnd in range(ROUNDS):
                names = [f"r{rnd}-{i}" for i in range(DEPLOYMENTS_AT_ONCE)]
                await asyncio.gather(*(roll(ns, name) for name in names))
    finally:
        watch_task.cancel()
        await asyncio.gather(watch_task, return_exceptions=True)
        await ctrls.stop()

    current = {d["metadata"]["name"]: image_of(d) for d in
               (await ns.client.list(DEPLOYMENTS, namespace=ns.name))["items"]}
    grown = {}
    for name, history in sizes.items():
        # An RS grows while it is its Deployment's new one; once an old one, it only shrinks.
        peak = history.index(max(history))
        if any(b > a for a, b in zip(history[peak:], history[peak + 1:])):
            grown[name] = history
    assert grown == {}, f"old ReplicaSets scaled back up: {grown}"
    # Each Deployment ends on its last image's ReplicaSet, every older one at 0.
    assert all(sizes[n][-1] == (REPLICAS if image[n] == current[n.rsplit("-", 1)[0]] else 0) for n in sizes), sizes
    assert len(sizes) == ROUNDS * DEPLOYMENTS_AT_ONCE * (ROLLOUTS + 1)


async def roll(ns, name: str) -> None:
    await ns.client.create(DEPLOYMENTS, deployment(name, REPLICAS, {"app": name}, image="minik8s/busybox:0"))
    await wait_for(lambda: complete(ns, name), what=f"{name}: first rollout", timeout=60)
    for i in range(1, ROLLOUTS + 1):
        img = f"minik8s/busybox:{i}"
        await set_image(ns, name, img)
        await wait_for(lambda img=img: complete(ns, name, image=img), what=f"{name}: rollout to {img}", timeout=60)
