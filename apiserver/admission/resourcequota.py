"""ResourceQuota admission (Kubernetes' ``apiserver/pkg/admission/plugin/resourcequota``).

A create in a namespace with quotas that cover it is charged before the object is stored:
the quotas' ``status.used`` is raised by what the object costs, written with a
compare-and-swap on the quota's resourceVersion (optimistic concurrency), and only then is the
create let through. An update of a service or claim is charged what it adds (a service turned
NodePort or LoadBalancer, a claim asking more storage). A create that would take a quota past ``status.hard`` is refused with 403 and
Kubernetes' message ``exceeded quota: NAME, requested: ..., used: ..., limited: ...``.

Races: two creates can never both take the last unit of a quota. The charges of one namespace
are made by one worker at a time, in batches (every create that arrived while the previous
batch's write was in flight): the batch is checked request by request against the running
total, then each changed quota is written once with the resourceVersion it was read at. A
conflict (the quota controller, or anything else, wrote the quota meanwhile) re-reads the
quotas and re-checks the batch, up to three times, as Kubernetes' quota evaluator does. A
create that is charged and then fails to store leaves the quota charged until the quota
controller recounts it, as in Kubernetes.

Namespaces without quotas, and objects no quota covers, cost a dictionary scan and no write.
Quotas are read from the watch cache; a quota this plugin wrote is used in its newer form
until the cache has caught up with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from apiserver import errors
from apiserver.admission.interface import CREATE, UPDATE, Attributes, Plugin, forbidden
from apiserver.storage.interface import KeyNotFound, RevisionMismatch
from apiserver.stored import CONFLICT_MSG, encode_stored, storage_key
from minik8s import resourcequota as rq
from minik8s.api import resources as rs

log = logging.getLogger(__name__)

_RETRIES = 3
_TIMEOUT = 10.0
# Kinds whose updates can cost more (Kubernetes' service and claim evaluators handle updates).
_CHARGED_ON_UPDATE = frozenset((rs.SERVICES, rs.PERSISTENTVOLUMECLAIMS))
# Resources never charged (Kubernetes' default ignoredResources), and quotas themselves.
_IGNORED = frozenset((rs.EVENTS, rs.RESOURCEQUOTAS))
# A quota on cpu or memory makes every container state it (Kubernetes' validationSet).
_MUST_SPECIFY = frozenset(("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"))


def _container_usage_names(c: dict[str, Any]) -> set[str]:
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    out = set()
    for r in ("cpu", "memory"):
        if r in req:
            out |= {r, f"requests.{r}"}
        if r in lim:
            out.add(f"limits.{r}")
    return out


def _constraints(attrs: Attributes, required: list[str]) -> str | None:
    """What a pod must state for a quota on cpu/memory (Kubernetes' podEvaluator.Constraints)."""
    if attrs.resource is not rs.PODS:
        return None
    needed = set(required) & _MUST_SPECIFY
    if not needed:
        return None
    spec = attrs.obj.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for r in needed - _container_usage_names(c):
            missing.setdefault(r, set()).add(c.get("name") or "")
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class QuotaState:
    """One quota as a batch charges it: ``hard`` and ``used`` parsed once, charges added in
    place, strings formatted once when the batch writes the quota."""

    __slots__ = ("quota", "name", "hard_raw", "used_raw", "hard", "used", "touched")

    def __init__(self, quota: dict[str, Any]) -> None:
        self.quota = quota
        self.name: str = quota["metadata"]["name"]
        status = quota.get("status") or {}
        self.hard_raw: dict[str, str] = status.get("hard") or {}
        self.used_raw: dict[str, str] = status.get("used") or {}
        self.hard = rq.parse_list(self.hard_raw)
        self.used = rq.parse_list(self.used_raw)
        self.touched: set[str] = set()

    def used_str(self, name: str) -> str:
        if name not in self.touched:
            return self.used_raw.get(name, "0")
        return rq.format_usage({name: self.used[name]}, self.hard_raw)[name]

    def written(self) -> dict[str, Any]:
        """The quota with its charged ``status.used``, in the form its limits were written in
        (1Gi: binary), as the controller counts."""
        status = self.quota.get("status") or {}
        used = {**self.used_raw, **rq.format_usage(rq.mask(self.used, self.touched), self.hard_raw)}
        return {**self.quota, "status": {**status, "used": used}}


def check_request(states: list[QuotaState], attrs: Attributes) -> None:
    """Charge ``attrs.obj`` to the quotas that cover it, or raise Forbidden and charge
    nothing. Kubernetes' CheckRequest for a create."""
    rt = attrs.resource
    obj = attrs.obj
    interesting: list[QuotaState] = []
    for st in states:
        if not rq.matches(st.quota, rt.plural, rt.group, obj):
            continue
        restricted = rq.handled_resources(rt.plural, rt.group, st.hard_raw)
        why = _constraints(attrs, restricted)
        if why:
            raise forbidden(attrs, f"failed quota: {st.name}: {why}")
        if any(r not in st.used for r in restricted):
            raise forbidden(attrs, f"status unknown for quota: {st.name}, resources: {','.join(sorted(restricted))}")
        interesting.append(st)
    if not interesting:
        return
    cost = rq.usage(rt.plural, rt.group, obj)
    if attrs.operation == UPDATE and attrs.old is not None:
        # An update is charged what it adds (a service turned NodePort, a claim grown), never
        # refunded what it drops: the controller recounts (Kubernetes' SubtractWithNonNegativeResult).
        before = rq.usage(rt.plural, rt.group, attrs.old)
        cost = {k: v - before.get(k, 0) for k, v in cost.items() if v > before.get(k, 0)}
    negative = sorted(k for k, v in cost.items() if v < 0)
    if negative:
        raise forbidden(attrs, f"quota usage is negative for resource(s): {','.join(negative)}")
    charges = []
    for st in interesting:
        requested = {k: v for k, v in cost.items() if v and k in st.hard}
        if not requested:
            continue
        new_used = {k: st.used.get(k, 0) + v for k, v in requested.items()}
        over = sorted(k for k, v in new_used.items() if v > st.hard[k])
        if over:
            raise forbidden(attrs, f"exceeded quota: {st.name}, "
                                   f"requested: {rq.pretty_print(rq.mask(requested, over), st.hard_raw)}, "
                                   f"used: {','.join(f'{k}={st.used_str(k)}' for k in over)}, "
                                   f"limited: {','.join(f'{k}={st.hard_raw[k]}' for k in over)}")
        charges.append((st, new_used))
    for st, new_used in charges:  # only once every quota has room: nothing half-charged
        st.used.update(new_used)
        st.touched.update(new_used)


@dataclasses.dataclass(slots=True)
class _Waiter:
    attrs: Attributes
    done: asyncio.Future[None]
    error: errors.StatusError | None = None
    decided: bool = False


def _time_out(waiter: _Waiter) -> None:
    if not waiter.done.done():
        waiter.error = errors.InternalError("resource quota evaluation timed out")
        waiter.decided = True  # whatever the worker decides later, this create is refused
        waiter.done.set_result(None)


class ResourceQuotaAdmission(Plugin):
    """``rest``: the apiserver's RestStorage (quota status writes); ``cache``: its WatchCache."""

    handles = frozenset(t for t in rs.ALL if t not in _IGNORED)

    def __init__(self, rest: Any, cache: Any) -> None:
        self.rest = rest
        self.cache = cache
        self._written: dict[str, dict[str, Any]] = {}  # storage key -> the quota as last written here
        self._pending: dict[str, list[_Waiter]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    # ---- reading quotas -----------------------------------------------------------------

    def quotas(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's quotas, each in the newest form known here."""
        objects = self.cache.resource(rs.RESOURCEQUOTAS.plural).objects
        if not objects:
            return []
        prefix = f"/registry/resourcequotas/{namespace}/"
        out = []
        for key, q in sorted(objects.items()):
            if not key.startswith(prefix):
                continue
            mine = self._written.get(key)
            if mine is not None:
                if _rv(mine) > _rv(q) and mine["metadata"].get("uid") == q["metadata"].get("uid"):
                    q = mine
                else:
                    del self._written[key]  # the cache has caught up
            out.append(q)
        return out

    # ---- the plugin ---------------------------------------------------------------------

    async def validate(self, attrs: Attributes) -> None:
        if attrs.subresource or not attrs.namespace or not (
                attrs.operation == CREATE or attrs.operation == UPDATE and attrs.resource in _CHARGED_ON_UPDATE):
            return
        quotas = self.quotas(attrs.namespace)
        if not quotas:
            return
        rt = attrs.resource
        if not any(rq.matches(q, rt.plural, rt.group, attrs.obj) for q in quotas):
            return
        if attrs.dry_run:
            check_request([QuotaState(q) for q in quotas], attrs)  # refuse as a create would, charge nothing
            return
        waiter = _Waiter(attrs, asyncio.get_running_loop().create_future())
        ns = attrs.namespace
        self._pending.setdefault(ns, []).append(waiter)
        if ns not in self._workers:
            self._workers[ns] = asyncio.create_task(self._work(ns))
        # Kubernetes gives up after 10 s; a timer is cheaper than wait_for's task per create.
        timer = asyncio.get_running_loop().call_later(_TIMEOUT, _time_out, waiter)
        try:
            await waiter.done
        finally:
            timer.cancel()
        if waiter.error is not None:
            raise waiter.error

    async def _work(self, ns: str) -> None:
        """Charge the namespace's pending creates, batch after batch, until none is left."""
        try:
            while self._pending.get(ns):
                batch = self._pending.pop(ns)
                try:
                    await self._charge(ns, batch)
                except errors.StatusError as e:
                    for w in batch:
                        if w.error is None and not w.decided:
                            w.error = e
                except Exception:
                    log.exception("resource quota evaluation in %s failed", ns)
                    for w in batch:
                        if w.error is None and not w.decided:
                            w.error = errors.InternalError("resource quota evaluation failed")
                finally:
                    for w in batch:
                        if not w.done.done():
                            w.done.set_result(None)
        finally:
            self._workers.pop(ns, None)
            if self._pending.get(ns):  # arrived after the loop looked for the last time
                self._workers[ns] = asyncio.create_task(self._work(ns))

    async def _charge(self, ns: str, batch: list[_Waiter]) -> None:
        from apiserver.registry import table
        entry = table.BY_TYPE[rs.RESOURCEQUOTAS]
        await self.cache.wait_current()
        quotas = self.quotas(ns)
        for attempt in range(_RETRIES + 1):
            states = [QuotaState(q) for q in quotas]
            undecided = [w for w in batch if w.error is None and not w.decided]
            if not undecided:
                return
            for w in undecided:
                try:
                    check_request(states, w.attrs)
                except errors.StatusError as e:
                    w.error = e
            failed: list[str] = []
            last: errors.StatusError | None = None
            for st in states:
                if not st.touched:
                    continue
                try:
                    self._written[storage_key(entry, ns, st.name)] = await self._write(entry, ns, st)
                except (errors.Conflict, errors.NotFound) as e:
                    failed.append(st.name)
                    last = e
            if not failed:
                for w in undecided:
                    w.decided = True
                return
            if attempt == _RETRIES:
                for w in undecided:
                    if w.error is None:
                        w.error = last
                return
            # Someone else wrote a quota: re-read it and check the undecided creates again.
            await self.cache.wait_current()
            fresh = {q["metadata"]["name"]: q for q in self.quotas(ns)}
            for name in failed:
                self._written.pop(f"/registry/resourcequotas/{ns}/{name}", None)
                got = await self._get(entry, ns, name)
                if got is None:
                    fresh.pop(name, None)
                else:
                    fresh[name] = got
            # Quotas written successfully this round already carry the batch's charges: only
            # the failed ones are checked again (as Kubernetes' evaluator retries).
            quotas = [fresh[n] for n in failed if n in fresh]
            if not quotas:
                for w in undecided:
                    w.decided = True
                return

    async def _write(self, entry: Any, ns: str, st: QuotaState) -> dict[str, Any]:
        """Store the charged quota if it is still the version read (compare-and-swap on its
        resourceVersion). Straight to the store: the object is the stored one with only
        ``status.used`` raised by amounts already checked, so the /status path's decoding,
        validation and managedFields bookkeeping (most of a write's cost, paid per batch)
        would change nothing; the watch sees the write as any other."""
        new = st.written()
        md = new["metadata"]
        key = storage_key(entry, ns, st.name)
        data = encode_stored({**new, "metadata": {k: v for k, v in md.items() if k != "resourceVersion"}})
        try:
            kv = await self.rest.storage.update(key, data, expected_revision=int(md["resourceVersion"]))
        except RevisionMismatch:
            raise errors.Conflict.of(rs.RESOURCEQUOTAS, st.name, CONFLICT_MSG) from None
        except KeyNotFound:
            raise errors.NotFound.of(rs.RESOURCEQUOTAS, st.name) from None
        md = new["metadata"] = {**md, "resourceVersion": str(kv.mod_revision)}
        return new

    async def _get(self, entry: Any, ns: str, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = await self.rest.get(entry, ns, name)
            return obj
        except errors.NotFound:
            return None
