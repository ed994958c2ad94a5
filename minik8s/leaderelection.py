"""Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection.

Several replicas of the scheduler or controller-manager run; one leads. Each candidate tries
every ``retry_period`` to acquire the Lease ``namespace/name``: it may when the Lease is free
(no holder, or released) or its holder has not renewed within ``lease_duration``. The leader
renews every ``retry_period``; if it cannot renew for ``renew_deadline`` it steps down (its
work is cancelled) so that two leaders never act for long. Writes are compare-and-swap on
``resourceVersion``: a 409 means another candidate won the race, and we simply try again.

Expiry is judged by our own clock, from when *we* last saw the record change (client-go's
``observedTime``), never by comparing the holder's ``renewTime`` with our clock, so clock skew
between machines cannot make a live leader look dead. On the way out (cancel, or the leading
callback returning) the leader releases the Lease so a successor need not wait out the term.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import Any

from minik8s import errors, taskgroup
from minik8s.api.resources import LEASES
from minik8s.client.rest import ApiClient
from minik8s.timestamps import format_micro_time

log = logging.getLogger(__name__)

_JITTER = 1.2  # client-go's JitterFactor: retries spread over [period, period * 2.2)


class LeaderElector:
    """Campaign for, hold, and release one Lease."""

    def __init__(
        self,
        client: ApiClient,
        *,
        name: str,
        namespace: str = "kube-system",
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = True,
    ) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= _JITTER * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if not identity:
            raise ValueError("Lock identity is empty")
        self.client = client
        self.name, self.namespace, self.identity = name, namespace, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.release_on_cancel = release_on_cancel
        self._lease: dict[str, Any] | None = None       # the last Lease we read or wrote
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0             # loop time when _observed_spec last changed
        self._is_leader = False
        self._reported_error = False

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def leader(self) -> str | None:
        """The holder identity we last observed (ours or another candidate's)."""
        return (self._observed_spec or {}).get("holderIdentity") or None

    async def run(
        self,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        """Campaign until leader, run ``on_started_leading`` while leading, and return once
        leadership is lost (after ``on_stopped_leading``) or the callback returns."""
        loop = asyncio.get_running_loop()
        work: asyncio.Task[Any] | None = None
        renew: asyncio.Task[Any] | None = None
        try:
            await self._acquire()
            log.info("%s: became leader of lease %s/%s", self.identity, self.namespace, self.name)
            work = loop.create_task(on_started_leading(), name=f"leading {self.name}")
            renew = loop.create_task(self._renew_loop(), name=f"renew {self.name}")
            done, _ = await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            if renew in done:
                log.warning("%s: lost leadership of lease %s/%s", self.identity, self.namespace, self.name)
                self._is_leader = False
                await taskgroup.cancel_and_wait([work])
            else:
                await taskgroup.cancel_and_wait([renew])
                work.result()  # surface the callback's own error
        finally:
            # Cancelled from outside: stop renewing before releasing, or the renewals would
            # keep the lease ours (and race the release).
            for task in (renew, work):
                if task is not None and not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            was_leader = self._is_leader
            self._is_leader = False
            if was_leader and self.release_on_cancel:
                await self._release()
            if work is not None and on_stopped_leading is not None:
                try:
                    on_stopped_leading()
                except Exception:
                    log.exception("%s: on_stopped_leading failed", self.identity)

    # campaign

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                self._is_leader = True
                return
            await asyncio.sleep(self.retry_period * (1 + random.random() * _JITTER))

    async def _renew_loop(self) -> None:
        """Renew every retry_period; return when renewal failed for renew_deadline."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.retry_period)
            deadline = loop.time() + self.renew_deadline
            while True:
                try:
                    ok = await asyncio.wait_for(self._try_acquire_or_renew(), max(deadline - loop.time(), 0.001))
                except TimeoutError:
                    ok = False
                if ok:
                    break
                if loop.time() + self.retry_period >= deadline:
                    return
                await asyncio.sleep(self.retry_period)

    async def _try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the Lease afterwards."""
        loop = asyncio.get_running_loop()
        now = format_micro_time()
        try:
            try:
                lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
            except errors.NotFound:
                lease = None
            if lease is None:
                spec = self._spec(acquire_time=now, renew_time=now, transitions=0)
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
                try:
                    self._lease = await self.client.create(LEASES, body, namespace=self.namespace)
                except errors.AlreadyExists:
                    return False
                self._observe(spec, loop.time())
                self._reported_error = False
                return True

            spec = lease.get("spec") or {}
            self._observe(spec, loop.time())
            holder = spec.get("holderIdentity") or ""
            held_by_other = bool(holder) and holder != self.identity
            duration = spec.get("leaseDurationSeconds") or self.lease_duration
            if held_by_other and self._observed_time + duration > loop.time():
                return False  # someone else holds a live lease

            transitions = int(spec.get("leaseTransitions") or 0)
            if holder == self.identity and self._is_leader:  # a renewal: same term
                new_spec = self._spec(acquire_time=spec.get("acquireTime") or now, renew_time=now,
                                      transitions=transitions)
            else:  # a new term begins, even for our own identity coming back after a restart
                new_spec = self._spec(acquire_time=now, renew_time=now, transitions=transitions + 1)
            updated = {**lease, "spec": {**spec, **new_spec}}
            try:
                self._lease = await self.client.update(LEASES, updated)
            except errors.Conflict:
                return False  # another candidate wrote first; look again next round
            self._observe(new_spec, loop.time())
            self._reported_error = False
            return True
        except errors.MiniK8sError as e:
            if not self._reported_error:
                log.warning("%s: error taking or renewing lease %s/%s: %s", self.identity, self.namespace, self.name, e)
                self._reported_error = True
            return False

    def _spec(self, *, acquire_time: str, renew_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(round(self.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": renew_time,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any], now: float) -> None:
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_time = now

    async def _release(self) -> None:
        """Give the Lease up: empty holder, 1 s term, so a successor acquires at once."""
        lease = self._lease
        for _ in range(3):
            if lease is None:
                return
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return  # not ours (any more): nothing to give up
            now = format_micro_time()
            spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now, "renewTime": now})
            try:
                self._lease = await self.client.update(LEASES, {**lease, "spec": spec})
                log.info("%s: released lease %s/%s", self.identity, self.namespace, self.name)
                return
            except errors.Conflict:
                # A renewal cancelled mid-flight may have landed after all: re-read and retry.
                try:
                    lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
                except errors.MiniK8sError:
                    lease = None
            except errors.MiniK8sError as e:
                log.warning("%s: could not release lease %s/%s: %s", self.identity, self.namespace, self.name, e)
                return
