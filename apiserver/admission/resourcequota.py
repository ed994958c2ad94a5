"""ResourceQuota admission (Kubernetes' ``apiserver/pkg/admission/plugin/resourcequota``).

A create in a namespace with quotas that cover it is charged before the object is stored:
the quotas' ``status.used`` is raised by what the object costs, written through the quota's
``/status`` with its resourceVersion (optimistic concurrency), and only then is the create
let through. A create that would take a quota past ``status.hard`` is refused with 403 and
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

from minik8s import resourcequota as rq
from minik8s.api import resources as rs

from apiserver import errors
from apiserver.admission.interface import CREATE, Attributes, Plugin, forbidden

log = logging.getLogger(__name__)

_RETRIES = 3
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


def check_request(quotas: list[dict[str, Any]], attrs: Attributes) -> list[dict[str, Any]]:
    """The quotas as they would be with ``attrs.obj`` charged (changed ones are new dicts), or
    raise Forbidden. Kubernetes' CheckRequest for a create."""
    rt = attrs.resource
    obj = attrs.obj
    interesting: list[int] = []
    for i, quota in enumerate(quotas):
        if not rq.matches(quota, rt.plural, rt.group, obj):
            continue
        status = quota.get("status") or {}
        hard = status.get("hard") or {}
        restricted = rq.handled_resources(rt.plural, rt.group, hard)
        why = _constraints(attrs, restricted)
        if why:
            raise forbidden(attrs, f"failed quota: {quota['metadata']['name']}: {why}")
        used = status.get("used") or {}
        if any(r not in used for r in restricted):
            raise forbidden(attrs, f"status unknown for quota: {quota['metadata']['name']}, "
                                   f"resources: {','.join(sorted(restricted))}")
        interesting.append(i)
    if not interesting:
        return quotas
    cost = {k: v for k, v in rq.usage(rt.plural, rt.group, obj).items() if v != 0}
    negative = sorted(k for k, v in cost.items() if v < 0)
    if negative:
        raise forbidden(attrs, f"quota usage is negative for resource(s): {','.join(negative)}")
    out = list(quotas)
    for i in interesting:
        quota = quotas[i]
        status = quota.get("status") or {}
        hard_raw = status.get("hard") or {}
        used_raw = status.get("used") or {}
        requested = rq.mask(cost, hard_raw)
        if not requested:
            continue
        hard, used = rq.parse_list(hard_raw), rq.parse_list(used_raw)
        new_used = rq.add(used, requested)
        over = rq.exceeded(rq.mask(new_used, requested), hard)
        if over:
            raise forbidden(attrs, f"exceeded quota: {quota['metadata']['name']}, "
                                   f"requested: {rq.pretty_print(rq.mask(requested, over), hard_raw)}, "
                                   f"used: {','.join(f'{k}={used_raw[k]}' for k in over)}, "
                                   f"limited: {','.join(f'{k}={hard_raw[k]}' for k in over)}")
        # In the form the limit was written in (1Gi: binary), as the controller counts.
        out[i] = {**quota, "status": {**status, "used": {**used_raw, **rq.format_usage(
            rq.mask(new_used, requested), hard_raw)}}}
    return out


@dataclasses.dataclass(slots=True)
class _Waiter:
    attrs: Attributes
    done: asyncio.Future[None]
    error: errors.StatusError | None = None
    decided: bool = False


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
        if attrs.operation != CREATE or attrs.subresource or not attrs.namespace:
            return
        quotas = self.quotas(attrs.namespace)
        if not quotas:
            return
        rt = attrs.resource
        if not any(rq.matches(q, rt.plural, rt.group, attrs.obj) for q in quotas):
            return
        if attrs.dry_run:
            check_request(quotas, attrs)  # refuse as the real create would, charge nothing
            return
        waiter = _Waiter(attrs, asyncio.get_running_loop().create_future())
        ns = attrs.namespace
        self._pending.setdefault(ns, []).append(waiter)
        if ns not in self._workers:
            self._workers[ns] = asyncio.create_task(self._work(ns))
        try:
            await asyncio.wait_for(asyncio.shield(waiter.done), 10)
        except TimeoutError:
            raise errors.InternalError("resource quota evaluation timed out") from None
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
            original = quotas
            undecided = [w for w in batch if w.error is None and not w.decided]
            if not undecided:
                return
            for w in undecided:
                try:
                    quotas = check_request(quotas, w.attrs)
                except errors.StatusError as e:
                    w.error = e
            failed: list[str] = []
            last: errors.StatusError | None = None
            for before, after in zip(original, quotas):
                if after is before:
                    continue
                name = after["metadata"]["name"]
                try:
                    res = await self.rest.update(entry, ns, name, after, subresource="status",
                                                 field_manager="resourcequota-admission")
                except (errors.Conflict, errors.NotFound) as e:
                    failed.append(name)
                    last = e
                    continue
                self._written[f"/registry/resourcequotas/{ns}/{name}"] = res.body
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

    async def _get(self, entry: Any, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.rest.get(entry, ns, name)
        except errors.NotFound:
            return None
