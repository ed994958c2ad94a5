"""The node's cluster DNS server: UDP and TCP on port 53 of the pod-network gateway.

:class:`DNSServer` parses each query with dnslib, answers names of the cluster zone from
:class:`~kubelet.dns.records.Resolver` (authoritative), and forwards every other name, unchanged,
to the host's upstream resolvers (the ``nameserver`` lines of ``/etc/resolv.conf``), over UDP,
then TCP when the answer came back truncated. An upstream that does not answer within
``forward_timeout`` is skipped for ``down_for`` seconds, so while none is reachable a query gets
SERVFAIL at once instead of waiting out a timeout each time; with no upstream at all, SERVFAIL
is immediate.

:class:`ClusterDNS` is the component: informers on Services and EndpointSlices feeding a
Resolver, and a DNSServer, started once the caches have listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import struct
import time
from collections.abc import Set as AbstractSet

from dnslib import QTYPE, RCODE, DNSError, DNSHeader, DNSRecord

from kubelet.dns import metrics as dns_metrics
from kubelet.dns.records import SLICE_SERVICE_INDEX, Resolver, slice_service_key
from minik8s import taskgroup
from minik8s.api.resources import ENDPOINTSLICES, SERVICES
from minik8s.client.informer import SharedInformerFactory

__all__ = ["DNSServer", "ClusterDNS", "read_upstreams"]

log = logging.getLogger("dns")

_TCP_IDLE_S = 10.0


def read_upstreams(path: str = "/etc/resolv.conf", *, exclude: AbstractSet[str] = frozenset()) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf, minus ``exclude`` (ourselves: no loops)."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and parts[1] not in exclude:
                    out.append(parts[1])
    except OSError:
        pass
    return out


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    # A datagram endpoint is always given a DatagramTransport; asyncio types it as its base.
    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.server._tasks.add(task)
        task.add_done_callback(self.server._tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.handle(data, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class _Once(asyncio.DatagramProtocol):
    """One upstream exchange: the first datagram that answers our ID."""

    def __init__(self, qid: int) -> None:
        self.qid = qid
        self.result: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == self.qid and not self.result.done():
            self.result.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.result.done():
            self.result.set_exception(exc)


class DNSServer:
    def __init__(self, resolver: Resolver, *, bind: str, port: int = 53, upstreams: list[str] | None = None,
                 forward_timeout: float = 1.0, forward_budget: float = 2.0, down_for: float = 30.0) -> None:
        self.resolver = resolver
        self.bind = bind
        self.port = port
        self.upstreams = upstreams if upstreams is not None else read_upstreams(exclude={bind})
        self.forward_timeout = forward_timeout
        self.forward_budget = forward_budget
        self.down_for = down_for
        self._down_until: dict[str, float] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.queries = 0
        self.forwarded = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Port 0 picks a free UDP port; the same TCP port may be taken by someone else, so
        # pick again then (a fixed port is bound as asked, errors and all).
        for attempt in range(20 if self.port == 0 else 1):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UDP(self), local_addr=(self.bind, self.port), reuse_port=False)
            port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._tcp_client, self.bind, port)
            except OSError as e:
                self._udp.close()
                if self.port != 0 or e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
                continue
            self.port = port
            break
        log.info("serving %s on %s:%d (udp+tcp), upstreams %s", self.resolver.zone, self.bind, self.port,
                 self.upstreams or "none")

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2)
        await taskgroup.cancel_and_wait(list(self._tasks))

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), _TCP_IDLE_S)
                data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", head)[0]), _TCP_IDLE_S)
                reply = await self.handle(data, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    # -- one query ------------------------------------------------------------------------------------

    async def handle(self, data: bytes, *, tcp: bool) -> bytes | None:
        """The reply bytes for one query message (None when it cannot even be parsed)."""
        try:
            query = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            return None
        self.queries += 1
        if query.header.qr or not query.questions:
            return None
        start = time.perf_counter()
        qtype = dns_metrics.qtype_label(QTYPE.get(query.q.qtype, "other"))
        server = f"dns://{self.bind}:{self.port}"
        family = "2" if ":" in self.bind else "1"
        dns_metrics.REQUESTS.labels(server, ".", "", "tcp" if tcp else "udp", family, qtype).inc()
        forwarded = self.forwarded
        reply = await self._reply(query, data, tcp=tcp)
        dns_metrics.RESPONSES.labels(server, ".", "", RCODE.get(reply[3] & 0xF if len(reply) > 3 else 2, "SERVFAIL"),
                                     "forward" if self.forwarded != forwarded else "kubernetes").inc()
        dns_metrics.DURATION.labels(server, ".", "", qtype).observe(time.perf_counter() - start)
        return reply

    async def _reply(self, query: DNSRecord, data: bytes, *, tcp: bool) -> bytes:
        q = query.q
        answer = self.resolver.resolve(str(q.qname), q.qtype)
        if answer is None:
            return await self._forward(query, data, tcp=tcp)
        reply = query.reply(ra=1, aa=1)
        reply.header.rcode = answer.rcode
        for rr in answer.answers:
            reply.add_answer(rr)
        for rr in answer.authority:
            reply.add_auth(rr)
        for rr in answer.additional:
            reply.add_ar(rr)
        packed: bytes = reply.pack()
        limit = _udp_limit(query)
        if not tcp and len(packed) > limit:
            # Too big for this datagram: say so, so the client asks again over TCP.
            trunc = DNSRecord(DNSHeader(id=query.header.id, qr=1, aa=1, ra=1, rd=query.header.rd, tc=1,
                                        rcode=answer.rcode), q=q)
            packed = trunc.pack()
        return packed

    def _servfail(self, query: DNSRecord) -> bytes:
        reply = query.reply(ra=1, aa=0)
        reply.header.rcode = RCODE.SERVFAIL
        packed: bytes = reply.pack()
        return packed

    async def _forward(self, query: DNSRecord, data: bytes, *, tcp: bool) -> bytes:
        self.forwarded += 1
        now = time.monotonic()
        deadline = now + self.forward_budget
        for up in self.upstreams:
            if self._down_until.get(up, 0) > now:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                if tcp:
                    reply = await self._ask_tcp(up, data, min(self.forward_timeout, remaining))
                else:
                    reply = await self._ask_udp(up, data, query.header.id, min(self.forward_timeout, remaining))
                    if len(reply) > 2 and DNSRecord.parse(reply).header.tc:
                        reply = await self._ask_tcp(up, data, max(0.1, deadline - time.monotonic()))
                self._down_until.pop(up, None)
                return reply
            except (TimeoutError, OSError, asyncio.IncompleteReadError, DNSError) as e:
                log.debug("upstream %s failed: %r", up, e)
                if up not in self._down_until:
                    log.warning("upstream %s does not answer (%s); SERVFAIL for forwarded names for %.0fs",
                                up, type(e).__name__, self.down_for)
                self._down_until[up] = time.monotonic() + self.down_for
        return self._servfail(query)

    async def _ask_udp(self, up: str, data: bytes, qid: int, timeout: float) -> bytes:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(lambda: _Once(qid), remote_addr=_addr(up))
        try:
            transport.sendto(data)
            return await asyncio.wait_for(proto.result, timeout)
        finally:
            transport.close()

    async def _ask_tcp(self, up: str, data: bytes, timeout: float) -> bytes:
        async def exchange() -> bytes:
            reader, writer = await asyncio.open_connection(*_addr(up))
            try:
                writer.write(struct.pack("!H", len(data)) + data)
                await writer.drain()
                n = struct.unpack("!H", await reader.readexactly(2))[0]
                return await reader.readexactly(n)
            finally:
                writer.close()
        return await asyncio.wait_for(exchange(), timeout)


def _addr(upstream: str) -> tuple[str, int]:
    """``ip`` or ``ip:port`` (as CoreDNS' forward takes them) as a socket address."""
    host, sep, port = upstream.rpartition(":")
    if sep and "." in host and port.isdigit():
        return host, int(port)
    return upstream, 53


def _udp_limit(query: DNSRecord) -> int:
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(512, min(int(rr.rclass), 4096))
    return 512


class ClusterDNS:
    """The per-node DNS component: informers, a resolver, a server."""

    def __init__(self, informers: SharedInformerFactory, *, bind: str, port: int = 53, zone: str = "cluster.local",
                 upstreams: list[str] | None = None) -> None:
        self.services = informers.informer(SERVICES)
        self.slices = informers.informer(ENDPOINTSLICES, indexers={SLICE_SERVICE_INDEX: slice_service_key})
        self.resolver = Resolver(self.services.store, self.slices.store, zone=zone)
        self.server = DNSServer(self.resolver, bind=bind, port=port, upstreams=upstreams)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Wait for the caches (answers from an empty cache would be wrong NXDOMAINs), then serve."""
        await asyncio.gather(self.services.wait_synced(), self.slices.wait_synced())
        await self.server.start()
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await self.server.close()

