"""The proxy's sync loop: watch Services and EndpointSlices, keep the node's iptables in step.

As kube-proxy's iptables Proxier: informer handlers only mark the state dirty; one loop
rebuilds the whole rule set (:mod:`kubelet.proxy.iptables`) from the caches, at most once per
``min_sync_period``, and applies it with one ``iptables-restore --noflush`` (atomic), but only
when the generated text differs from what was last applied; per-service chains whose rules did
not change are left out of the document (``--noflush`` keeps them), so one endpoint change
rewrites that service's chains and the shared ones only. Every ``sync_period`` it also
re-checks its hooks in the built-in chains and re-applies unconditionally, so rules someone
else flushed come back.

Sync time is measured two ways and logged with every applied change: how long the sync itself
took (build + restore), and the network-programming latency, from the earliest change not yet
in the rules (the ``endpoints.kubernetes.io/last-change-trigger-time`` of a changed slice, or
when the watch delivered the change if that is later) to the rules being in place.
:attr:`Proxier.stats` keeps the figures for tests and benchmarks.

UDP has no connection to end: when a UDP service loses an endpoint, or gains its first one, the
conntrack entries that would keep sending its packets to the old place are deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any, cast

from kubelet import nettools
from kubelet.proxy import iptables as ipt
from kubelet.proxy import metrics as proxy_metrics
from minik8s.api import typed
from minik8s.api.resources import ENDPOINTSLICES, SERVICES
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from minik8s.timestamps import to_unix

__all__ = ["Proxier", "SyncStats", "cleanup", "slice_service_key"]

log = logging.getLogger("proxy")

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
SLICE_SERVICE_INDEX = "proxy-service"
# Give up waiting on a broken apply and retry after this long.
_RETRY_S = 1.0


def slice_service_key(s: dict[str, Any]) -> list[str]:
    md = s.get("metadata") or {}
    svc = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return [f"{md.get('namespace') or ''}/{svc}"] if svc else []


@dataclasses.dataclass
class SyncStats:
    syncs: int = 0  # sync passes run
    applied: int = 0  # passes that changed the kernel's rules
    last_sync_seconds: float = 0.0  # build + restore of the last applied pass
    last_build_seconds: float = 0.0
    last_programming_seconds: float | None = None  # earliest pending change -> rules in place
    last_rules: int = 0
    last_chains_written: int = 0  # per-service chains the last apply wrote (others untouched)
    last_services: int = 0
    errors: int = 0


class Proxier:
    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, cluster_cidr: str | None,
                 min_sync_period: float = 0.0, sync_period: float = 30.0, localhost_nodeports: bool = True) -> None:
        self.client = client
        self.cluster_cidr = cluster_cidr
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.localhost_nodeports = localhost_nodeports
        self.services = informers.informer(SERVICES)
        self.slices = informers.informer(ENDPOINTSLICES, indexers={SLICE_SERVICE_INDEX: slice_service_key})
        self.services.add_handler(on_add=self._changed, on_update=self._updated, on_delete=self._changed)
        self.slices.add_handler(on_add=self._slice_changed, on_update=self._slice_updated,
                                on_delete=self._slice_changed)
        self.stats = SyncStats()
        self._dirty = asyncio.Event()
        self._pending_since: float | None = None  # wall time of the earliest change not yet applied
        self._last_text: str | None = None  # the full document of the last apply
        self._chains: dict[str, str] = {}  # nat chain -> its rules, as last applied
        self._owned_nat: set[str] = set()
        self._udp: dict[tuple[str, str], tuple[str, frozenset[str], int | None]] = {}
        self._synced_once = asyncio.Event()

    # -- handlers: mark dirty, note when -----------------------------------------------------------

    def _note(self, when: float | None = None) -> None:
        t = when if when is not None else time.time()
        if self._pending_since is None or t < self._pending_since:
            self._pending_since = t
        self._dirty.set()

    def _changed(self, obj: dict[str, Any]) -> None:
        self._note()

    def _updated(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") != (cur.get("metadata") or {}).get("resourceVersion"):
            self._note()

    def _slice_changed(self, s: dict[str, Any]) -> None:
        self._note(self._trigger_time(typed.endpoint_slice(s)))

    def _slice_updated(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") != (cur.get("metadata") or {}).get("resourceVersion"):
            self._note(self._trigger_time(typed.endpoint_slice(cur)))

    @staticmethod
    def _trigger_time(s: typed.EndpointSlice) -> float:
        """When the change behind a slice happened: its trigger time, if earlier than now."""
        seen = time.time()
        t = to_unix(((s.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_TRIGGER_TIME))
        # The annotation has whole seconds and may come from a change long reflected elsewhere:
        # trust it only when recent, else count from when we heard of it.
        return t if t is not None and seen - 5.0 < t <= seen else seen

    # -- running ---------------------------------------------------------------------------------------

    async def wait_first_sync(self) -> None:
        await self._synced_once.wait()

    async def setup(self) -> None:
        """Host settings and hooks the rules need; what chains of ours already exist."""
        await _sysctl("net/ipv4/ip_forward", "1")
        if self.localhost_nodeports:
            await _sysctl("net/ipv4/conf/all/route_localnet", "1")
        await _sysctl("net/bridge/bridge-nf-call-iptables", "1", required=False)
        # Chains must exist before a rule can jump to them; made empty if new, never flushed
        # here (a restarted proxy keeps the old rules serving until its first sync).
        for chain in ipt.NAT_BASE_CHAINS:
            await nettools.ensure_chain("nat", chain)
        for chain in ipt.FILTER_BASE_CHAINS:
            await nettools.ensure_chain("filter", chain)
        self._last_text = None
        self._chains = {}
        await self._ensure_jumps()
        self._owned_nat = {c for c in nettools.chains_in(await nettools.save("nat")) if c.startswith(ipt.OWNED_PREFIXES)}

    async def _ensure_jumps(self) -> None:
        # Inserted in reverse so that, per chain, they end up in JUMPS order at the top.
        for table, chain, rule in reversed(ipt.JUMPS):
            await nettools.ensure_rule(table, chain, rule, position=1)

    async def run(self) -> None:
        await asyncio.gather(self.services.wait_synced(), self.slices.wait_synced())
        await self.setup()
        last = 0.0
        force = True
        while True:
            wait = max(0.0, last + self.min_sync_period - time.monotonic())
            if wait:
                await asyncio.sleep(wait)
            if not force:
                try:
                    await asyncio.wait_for(self._dirty.wait(), timeout=self.sync_period)
                except TimeoutError:
                    force = True
            last = time.monotonic()
            try:
                if force:
                    await self._ensure_jumps()
                    self._owned_nat |= {c for c in nettools.chains_in(await nettools.save("nat"))
                                        if c.startswith(ipt.OWNED_PREFIXES)}
                await self.sync(force=force)
                force = False
            except nettools.CommandError as e:
                self.stats.errors += 1
                log.error("applying rules failed (retrying): %s", e)
                self._dirty.set()
                force = True
                await asyncio.sleep(_RETRY_S)

    def desired_ports(self) -> list[ipt.ServicePort]:
        out = []
        for svc in map(typed.service, self.services.store.list()):
            ports = ipt.service_ports(svc)
            if not ports:
                continue
            md = svc.get("metadata") or {}
            # The slice informer's store holds EndpointSlices, as the apiserver sent them.
            slices = cast("list[typed.EndpointSlice]", self.slices.store.by_index(
                SLICE_SERVICE_INDEX, f"{md.get('namespace')}/{md.get('name')}"))
            for sp in ports:
                out.append(dataclasses.replace(sp, endpoints=ipt.slice_endpoints(slices, sp.port_name, sp.protocol)))
        return out

    async def sync(self, *, force: bool = False) -> bool:
        """One pass; True when rules were applied."""
        started = time.monotonic()
        try:
            applied = await self._sync(force=force)
        finally:
            proxy_metrics.SYNC_DURATION.observe(time.monotonic() - started)
        proxy_metrics.LAST_SYNC.set(time.time())
        if applied and self.stats.last_programming_seconds is not None:
            proxy_metrics.PROGRAMMING.observe(self.stats.last_programming_seconds)
        return applied

    async def _sync(self, *, force: bool) -> bool:
        started = time.monotonic()
        self._dirty.clear()
        pending = self._pending_since
        self._pending_since = None
        self.stats.syncs += 1
        ports = self.desired_ports()
        rules = ipt.build(ports, cluster_cidr=self.cluster_cidr, localhost_nodeports=self.localhost_nodeports)
        wanted = rules.owned_nat_chains()
        stale = self._owned_nat - wanted
        text = ipt.render(rules, stale_nat=stale)
        if text == self._last_text and not force:
            self._synced_once.set()
            return False
        chains = ipt.chain_texts(rules)
        # Per-service chains already in the kernel as wanted stay out of the document: one
        # endpoint change then rewrites one service's chains, not thousands.
        unchanged = set() if force else {c for c in wanted if c in self._chains and self._chains[c] == chains[c]}
        document = ipt.render(rules, stale_nat=stale, unchanged_nat=unchanged) if unchanged else text
        built = time.monotonic()
        try:
            await nettools.restore(document)
        except nettools.CommandError:
            self._last_text = None
            self._chains = {}  # the kernel's state is unknown now: the next sync writes everything
            if pending is not None:
                self._note(pending)
            raise
        done = time.monotonic()
        self._owned_nat = wanted
        self._chains = chains
        changed = text != self._last_text
        self._last_text = text
        self.stats.last_chains_written = len(wanted) - len(unchanged)
        self.stats.applied += 1
        self.stats.last_sync_seconds = done - started
        self.stats.last_build_seconds = built - started
        self.stats.last_rules = len(rules.nat) + len(rules.filter)
        self.stats.last_services = len({(p.namespace, p.name) for p in ports})
        self.stats.last_programming_seconds = (time.time() - pending) if pending is not None else None
        if changed:
            latency = (f", {self.stats.last_programming_seconds * 1000:.0f} ms after the change"
                       if self.stats.last_programming_seconds is not None else "")
            log.info("rules for %d service ports (%d rules) in place in %.0f ms%s",
                     len(ports), self.stats.last_rules, self.stats.last_sync_seconds * 1000, latency)
        await self._clear_udp(ports)
        self._synced_once.set()
        return True

    async def _clear_udp(self, ports: list[ipt.ServicePort]) -> None:
        now: dict[tuple[str, str], tuple[str, frozenset[str], int | None]] = {}
        for sp in ports:
            if sp.protocol != "UDP" or not sp.cluster_ip:
                continue
            now[(sp.port_name_string, sp.protocol)] = (
                sp.cluster_ip, frozenset(e.ip for e in sp.usable_endpoints()), sp.node_port)
        for key, (vip, ips, node_port) in now.items():
            before = self._udp.get(key)
            if before is None:
                continue
            _, old_ips, _ = before
            if not old_ips and ips:
                await nettools.conntrack_delete("-p", "udp", "--orig-dst", vip)
                if node_port:
                    await nettools.conntrack_delete("-p", "udp", "--orig-port-dst", str(node_port))
            for gone in old_ips - ips:
                await nettools.conntrack_delete("-p", "udp", "--orig-dst", vip, "--dst-nat", gone)
        self._udp = now


async def _sysctl(path: str, value: str, *, required: bool = True) -> None:
    def write() -> None:
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
    try:
        current = await asyncio.to_thread(lambda: open(f"/proc/sys/{path}").read().strip())
        if current != value:
            await asyncio.to_thread(write)
    except OSError as e:
        (log.warning if required else log.debug)("cannot set %s=%s: %s", path, value, e)


async def cleanup() -> None:
    """Remove every hook and chain the proxy made (``minik8s-proxy --cleanup``)."""
    for table, chain, rule in ipt.JUMPS:
        await nettools.delete_rule(table, chain, rule)
    nat = nettools.chains_in(await nettools.save("nat"))
    filt = nettools.chains_in(await nettools.save("filter"))
    ours_nat = {c for c in nat if c in ipt.NAT_BASE_CHAINS or c.startswith(ipt.OWNED_PREFIXES)}
    ours_filter = {c for c in filt if c in ipt.FILTER_BASE_CHAINS}
    if ours_nat or ours_filter:
        await nettools.restore(ipt.render_cleanup(ours_nat, ours_filter))
