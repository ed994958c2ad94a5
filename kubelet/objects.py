"""The kubelet's ConfigMap and Secret manager, watch-based (Kubernetes'
``pkg/kubelet/util/manager/watch_based_manager.go``): one watch per referenced object, shared by
every pod that references it, instead of one GET per pod and volume.

A pod's read of a ConfigMap or Secret registers the pod as a user of that object and starts,
for the first user, an informer on that one object (``fieldSelector=metadata.name=<name>`` in
its namespace: what the Node authorizer lets a kubelet list and watch). Until that informer has
listed once, the read is a plain GET (a pod never waits on a watch being set up); afterwards it
is answered from the informer's store, a missing object as 404 NotFound as the GET would. When
the last pod using an object is forgotten, its watch stops.

One manager serves every node of a kubelet process that share one API client (the hollow
nodes of ``--count``), so 500 hollow nodes watch ``kube-root-ca.crt`` once, not 500 times.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Protocol

from minik8s import errors, taskgroup
from minik8s.api.resources import CONFIGMAPS, SECRETS, ResourceType
from minik8s.client.informer import Informer
from minik8s.client.rest import ApiClient

_Key = tuple[str, str, str]  # (resource plural, namespace, name)


class ObjectReader(Protocol):
    """What reads the objects a pod's volumes and environment use: the API client, or a
    :class:`PodReader` (ConfigMaps and Secrets from the manager's watches)."""

    async def get(self, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict[str, Any]: ...


@dataclasses.dataclass(slots=True)
class _Watched:
    informer: Informer
    task: asyncio.Task[None]
    pods: set[str]


class ObjectManager:
    """ConfigMaps and Secrets a node's pods use, each watched once while some pod uses it."""

    RESOURCES = (CONFIGMAPS, SECRETS)

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._watched: dict[_Key, _Watched] = {}
        self._keys_by_pod: dict[str, set[_Key]] = {}

    def reader(self, pod_uid: str) -> PodReader:
        """The API client as one pod's volumes and environment read it."""
        return PodReader(self, pod_uid)

    async def get(self, rt: ResourceType, name: str, *, namespace: str, pod_uid: str) -> dict[str, Any]:
        """The object (not to be mutated: it is the cache's), or NotFound; registers the pod."""
        key = (rt.plural, namespace, name)
        w = self._watched.get(key)
        if w is None:
            informer = Informer(self.client, rt, namespace=namespace, field_selector=f"metadata.name={name}")
            task = asyncio.create_task(informer.run(), name=f"watch {rt.plural} {namespace}/{name}")
            w = self._watched[key] = _Watched(informer, task, set())
        w.pods.add(pod_uid)
        self._keys_by_pod.setdefault(pod_uid, set()).add(key)
        if not w.informer.has_synced:
            return await self.client.get(rt, name, namespace=namespace)
        obj = w.informer.store.get(f"{namespace}/{name}")
        if obj is None:
            message = f'{rt.plural} "{name}" not found'
            raise errors.NotFound({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                                   "reason": "NotFound", "code": 404,
                                   "details": {"name": name, "kind": rt.plural}}, 404, "NotFound", message)
        return obj

    def forget(self, pod_uid: str) -> None:
        """The pod is gone from the node: stop the watches nothing else uses."""
        for key in self._keys_by_pod.pop(pod_uid, ()):
            w = self._watched.get(key)
            if w is None:
                continue
            w.pods.discard(pod_uid)
            if not w.pods:
                del self._watched[key]
                w.informer.stop()
                w.task.cancel()

    def watched(self) -> list[_Key]:
        """The objects watched now (for tests and debugging)."""
        return sorted(self._watched)

    async def close(self) -> None:
        tasks = [w.task for w in self._watched.values()]
        self._watched.clear()
        self._keys_by_pod.clear()
        await taskgroup.cancel_and_wait(tasks)


class PodReader:
    """``client.get`` for one pod: ConfigMaps and Secrets through the manager, the rest as is."""

    def __init__(self, manager: ObjectManager, pod_uid: str) -> None:
        self.manager = manager
        self.pod_uid = pod_uid

    async def get(self, rt: ResourceType, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        if rt in ObjectManager.RESOURCES and namespace:
            return await self.manager.get(rt, name, namespace=namespace, pod_uid=self.pod_uid)
        return await self.manager.client.get(rt, name, namespace=namespace)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.manager.client, attr)
