"""Who is in the ``default/kubernetes`` Endpoints: Kubernetes' endpoint reconcilers
(``--endpoint-reconciler-type``).

``lease`` (the default with ``--etcd-servers``, where several apiservers share one store): every
apiserver keeps a lease at ``/registry/masterleases/<advertise address>`` (an Endpoints object
naming it, as Kubernetes stores it) that expires 15 s after its last renewal, renews it every
10 s (Kubernetes' DefaultEndpointReconcilerTTL and EndpointInterval), and writes the Endpoints as
the sorted addresses of the unexpired leases, so it lists every live apiserver: one that stops
removes its lease and itself at once, one that dies drops out when its lease expires (the next
reconcile of any apiserver deletes the expired lease). Kubernetes gives the lease an etcd TTL; the
Storage interface has none, so the expiry time is written in the lease (annotation
``minik8s.io/lease-expires-at``, seconds since the epoch) and read against the wall clock, as
Lease objects' renewTime is. Like Kubernetes it never erases the last address.

``master-count`` (the default on the embedded SQLite store, which one apiserver owns): the
Endpoints are this apiserver's address. ``none``: the apiserver leaves them alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from apiserver import kubernetes_service
from apiserver.rest import RestStorage
from apiserver.storage.interface import KeyExists, KeyNotFound, RevisionMismatch, Storage, StorageError

__all__ = ["TYPES", "add_flags", "default_type", "build", "LeaseReconciler", "MasterCountReconciler"]

log = logging.getLogger(__name__)

TYPES = ("lease", "master-count", "none")
PREFIX = "/registry/masterleases/"
EXPIRES = "minik8s.io/lease-expires-at"
TTL = 15.0  # Kubernetes' DefaultEndpointReconcilerTTL
INTERVAL = 10.0  # Kubernetes' EndpointInterval


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint-reconciler-type", choices=TYPES, default=None,
                   help="who is in the default/kubernetes Endpoints: lease (every live apiserver; the default with "
                        "--etcd-servers), master-count (this apiserver; the default on SQLite) or none")


def default_type(given: str | None, *, etcd: bool) -> str:
    return given or ("lease" if etcd else "master-count")


class MasterCountReconciler:
    """The Endpoints are this apiserver's address (one apiserver per store)."""

    def __init__(self, rest: RestStorage, *, cluster_ip: str, address: str, port: int) -> None:
        self.rest, self.cluster_ip, self.address, self.port = rest, cluster_ip, address, port

    async def start(self) -> None:
        await kubernetes_service.ensure(self.rest, cluster_ip=self.cluster_ip, addresses=[self.address],
                                        port=self.port)

    async def stop(self) -> None:
        pass


class LeaseReconciler:
    """Leases of the live apiservers → the Endpoints. ``clock`` is for tests."""

    def __init__(self, rest: RestStorage, storage: Storage, *, cluster_ip: str, address: str, port: int,
                 ttl: float = TTL, interval: float = INTERVAL, clock: Callable[[], float] = time.time) -> None:
        self.rest, self.storage = rest, storage
        self.cluster_ip, self.address, self.port = cluster_ip, address, port
        self.ttl, self.interval, self.clock = ttl, interval, clock
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def key(self) -> str:
        return PREFIX + self.address

    def _lease(self) -> bytes:
        return orjson.dumps({"apiVersion": "v1", "kind": "Endpoints",
                             "metadata": {"name": self.address,
                                          "annotations": {EXPIRES: f"{self.clock() + self.ttl:.3f}"}},
                             "subsets": [{"addresses": [{"ip": self.address}]}]})

    async def start(self) -> None:
        await self.reconcile()
        self._task = asyncio.create_task(self._run(), name="endpoint-reconciler")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reconcile()
                if self._failing:
                    log.info("endpoint reconciler: the kubernetes Endpoints are kept again")
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the store is down or busy: say so once, try next interval
                if not self._failing:
                    log.warning("endpoint reconciler: cannot renew the lease of %s: %s", self.address, e)
                self._failing = True

    async def stop(self) -> None:
        """Remove this apiserver's lease and its address (Kubernetes' RemoveEndpoints on shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with asyncio.timeout(3.0):
                with contextlib.suppress(KeyNotFound):
                    await self.storage.delete(self.key)
                await self._write_endpoints(await self.live())
        except (StorageError, TimeoutError, Exception) as e:  # shutting down: the lease expires anyway
            log.info("endpoint reconciler: leaving the kubernetes Endpoints to expire: %s", e)

    async def renew(self) -> None:
        kv = await self.storage.get(self.key)
        try:
            if kv is None:
                await self.storage.create(self.key, self._lease())
            else:
                await self.storage.update(self.key, self._lease(), expected_revision=kv.mod_revision)
        except (KeyExists, RevisionMismatch, KeyNotFound):  # raced with an expiry clean-up: next round
            pass

    async def live(self) -> list[str]:
        """The addresses of the unexpired leases, sorted; expired ones are deleted."""
        now = self.clock()
        out = []
        for kv in (await self.storage.list(PREFIX)).items:
            try:
                lease = orjson.loads(kv.value)
                expires = float(lease["metadata"]["annotations"][EXPIRES])
                address = lease["subsets"][0]["addresses"][0]["ip"]
            except (ValueError, KeyError, IndexError, TypeError):
                expires, address = 0.0, ""
            if expires < now:
                with contextlib.suppress(KeyNotFound, RevisionMismatch):
                    await self.storage.delete(kv.key, expected_revision=kv.mod_revision)
                continue
            out.append(address)
        return sorted(set(out))

    async def reconcile(self) -> None:
        await self.renew()
        addresses = await self.live()
        if self.address not in addresses:
            addresses = sorted([*addresses, self.address])
        await self._write_endpoints(addresses)

    async def _write_endpoints(self, addresses: list[str]) -> None:
        if not addresses:  # as Kubernetes: never erase every endpoint of the kubernetes service
            return
        await kubernetes_service.ensure(self.rest, cluster_ip=self.cluster_ip, addresses=addresses, port=self.port)


def build(kind: str, rest: RestStorage, storage: Storage, *, cluster_ip: str, address: str,
          port: int) -> Any:
    """The reconciler ``--endpoint-reconciler-type`` names (None for ``none``)."""
    if kind == "lease":
        return LeaseReconciler(rest, storage, cluster_ip=cluster_ip, address=address, port=port)
    if kind == "master-count":
        return MasterCountReconciler(rest, cluster_ip=cluster_ip, address=address, port=port)
    return None
