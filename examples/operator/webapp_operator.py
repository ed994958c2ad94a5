"""An example operator: it reconciles each ``WebApp`` (``demo.minik8s.io/v1``, see crd.yaml)
into a ConfigMap and a Deployment and reports their state in the WebApp's status.

Written against minik8s' client library the way a Kubernetes controller is written:

* three informers (WebApps, and the Deployments and ConfigMaps the operator owns) list and
  watch the cluster into local caches;
* their handlers only put keys (``namespace/name`` of a WebApp) on a rate-limited workqueue,
  mapping an owned Deployment or ConfigMap to its WebApp through its controller reference;
* ``sync(key)`` is level-triggered: it reads the WebApp from the cache, makes the ConfigMap and
  the Deployment what the WebApp asks (creating, or updating only what differs), then writes
  ``status`` (``observedGeneration``, ``replicas``, ``readyReplicas``, ``phase``) through the
  status subresource when it changed. A failed sync is retried with backoff.

Deleting a WebApp leaves its children to the garbage collector of the cluster through their
ownerReferences. Run it with ``python examples/operator/webapp_operator.py [--kubeconfig
PATH] [--namespace NS]`` (README.md beside this file).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from minik8s import errors
from minik8s.api import resources as rs
from minik8s.api.resources import ResourceType, object_key, split_key
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from minik8s.workqueue import ShutDown, WorkQueue

log = logging.getLogger("webapp-operator")

WEBAPPS = ResourceType("demo.minik8s.io", "v1", "WebApp", "webapps", True, ("wa",), ("all",))
MANAGER = "webapp-operator"
APP_LABEL = "demo.minik8s.io/webapp"


def config_map_for(app: dict[str, Any]) -> dict[str, Any]:
    md = app["metadata"]
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{md['name']}-config", "namespace": md["namespace"],
                     "labels": {APP_LABEL: md["name"]}, "ownerReferences": [owner_ref(app)]},
        "data": {"message": app["spec"].get("message", "")},
    }


def deployment_for(app: dict[str, Any]) -> dict[str, Any]:
    md, spec = app["metadata"], app["spec"]
    labels = {APP_LABEL: md["name"]}
    container: dict[str, Any] = {
        "name": "app", "image": spec["image"], "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "MESSAGE", "valueFrom": {"configMapKeyRef": {"name": f"{md['name']}-config",
                                                                      "key": "message"}}}],
    }
    if spec.get("command"):
        container["command"] = list(spec["command"])
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": md["name"], "namespace": md["namespace"], "labels": dict(labels),
                     "ownerReferences": [owner_ref(app)]},
        "spec": {
            "replicas": spec.get("replicas", 1),
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}},
        },
    }


def owner_ref(app: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": WEBAPPS.group_version, "kind": WEBAPPS.kind, "name": app["metadata"]["name"],
            "uid": app["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def status_for(app: dict[str, Any], deployment: dict[str, Any] | None) -> dict[str, Any]:
    """The WebApp's status from what its Deployment reports (a pure function)."""
    desired = app["spec"].get("replicas", 1)
    ds = (deployment or {}).get("status") or {}
    ready = ds.get("readyReplicas", 0)
    if deployment is None:
        phase = "Pending"
    elif ready >= desired and ds.get("updatedReplicas", 0) >= desired and \
            (ds.get("observedGeneration") or 0) >= deployment["metadata"].get("generation", 0):
        phase = "Ready"
    else:
        phase = "Progressing"
    return {"observedGeneration": app["metadata"].get("generation", 0), "replicas": ds.get("replicas", 0),
            "readyReplicas": ready, "phase": phase}


class WebAppOperator:
    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, namespace: str | None = None) -> None:
        self.client = client
        self.queue = WorkQueue(name="webapp")
        self.apps = informers.informer(WEBAPPS, namespace=namespace)
        self.deployments = informers.informer(rs.DEPLOYMENTS, namespace=namespace, label_selector=APP_LABEL)
        self.config_maps = informers.informer(rs.CONFIGMAPS, namespace=namespace, label_selector=APP_LABEL)
        self.apps.add_handler(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new),
                              on_delete=self._enqueue)
        for inf in (self.deployments, self.config_maps):
            inf.add_handler(on_add=self._enqueue_owner, on_update=lambda old, new: self._enqueue_owner(new),
                            on_delete=self._enqueue_owner)

    # handlers: keys only

    def _enqueue(self, app: dict[str, Any]) -> None:
        self.queue.add(object_key(app))

    def _enqueue_owner(self, child: dict[str, Any]) -> None:
        md = child.get("metadata") or {}
        for ref in md.get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == WEBAPPS.kind and \
                    ref.get("apiVersion") == WEBAPPS.group_version:
                self.queue.add(f"{md.get('namespace')}/{ref.get('name')}")

    # workers

    async def run(self, workers: int = 2) -> None:
        await asyncio.gather(self.apps.wait_synced(), self.deployments.wait_synced(),
                             self.config_maps.wait_synced())
        log.info("caches synced; %d workers", workers)
        await asyncio.gather(*(self._worker() for _ in range(workers)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(str(key))
                self.queue.forget(key)
            except Exception as e:  # retried with backoff: a conflict, a failed write
                log.warning("sync %s failed (%s); retrying", key, e)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        app = self.apps.store.get(key)
        if app is None or app["metadata"].get("deletionTimestamp"):
            return  # its children go with it: the garbage collector follows their ownerReferences
        await self._ensure(rs.CONFIGMAPS, self.config_maps.store.get(f"{namespace}/{name}-config"),
                           config_map_for(app), ("data",))
        deployment = await self._ensure(rs.DEPLOYMENTS, self.deployments.store.get(key), deployment_for(app),
                                        ("spec",))
        status = status_for(app, deployment)
        if app.get("status") != status:
            await self.client.update_status(WEBAPPS, {**app, "status": status}, field_manager=MANAGER)
            log.info("%s: %s (%d/%d ready)", key, status["phase"], status["readyReplicas"],
                     app["spec"].get("replicas", 1))

    async def _ensure(self, rt: ResourceType, current: dict[str, Any] | None, desired: dict[str, Any],
                      fields: tuple[str, ...]) -> dict[str, Any]:
        """Create ``desired`` or merge-patch the ``fields`` of ``current`` that differ from it."""
        md = desired["metadata"]
        if current is None:
            try:
                return await self.client.create(rt, desired, field_manager=MANAGER)
            except errors.AlreadyExists:
                current = await self.client.get(rt, md["name"], namespace=md["namespace"])
        patch = {f: desired[f] for f in fields if not _contains(current.get(f), desired[f])}
        if not patch:
            return current
        return await self.client.patch(rt, md["name"], patch, namespace=md["namespace"], patch_type="merge",
                                       field_manager=MANAGER)


def _contains(have: Any, want: Any) -> bool:
    """Whether ``have`` already holds everything ``want`` says (the server adds defaults)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_contains(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(_contains(h, w) for h, w in zip(have, want))
    return have == want


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", help="the kubeconfig to use (default: $KUBECONFIG, ~/.kube/config)")
    p.add_argument("--namespace", help="watch only this namespace (default: all)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    client = ApiClient.from_kubeconfig(args.kubeconfig)
    informers = SharedInformerFactory(client)
    operator = WebAppOperator(client, informers, namespace=args.namespace)
    informers.start()
    task = asyncio.create_task(operator.run(args.workers))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    operator.queue.shutdown()
    task.cancel()
    await informers.shutdown()
    await client.close()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


if __name__ == "__main__":
    asyncio.run(main())
