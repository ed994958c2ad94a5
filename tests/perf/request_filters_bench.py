"""What counting (/metrics) and auditing add to each request, in CPU time: the apiserver's
request filters driven in process with a create's ASGI messages, against the bare handler
measured in the same run.

    .venv/bin/python tests/perf/request_filters_bench.py [--requests 20000] [--repeats 7]

Prints microseconds of CPU per request (the best of ``--repeats`` runs: on a shared machine the
best is the least disturbed) for: the bare handler; with the request metrics
(``apiserver_request_*``); with the Audit-ID filter (on every response, audit log or not); with
both (what every request pays); with the audit log at ``minik8s up``'s default policy (a create
is audited at ``Request`` level: the request path's share); and, separately, the writer
thread's CPU per event (building and encoding it; the file write is left out). Not a test: it
asserts nothing. The API benchmark (``api_bench.py --peer-repo``) measures the same end to end,
where a few microseconds drown in the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import orjson
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from apiserver.audit import context, event, policy  # noqa: E402 - after the sys.path set-up above
from apiserver.audit.backend import BufferedBackend  # noqa: E402 - after the sys.path set-up above
from apiserver.audit.filter import AuditFilter  # noqa: E402 - after the sys.path set-up above
from apiserver.auth import requestinfo  # noqa: E402 - after the sys.path set-up above
from apiserver.auth.user import UserInfo  # noqa: E402 - after the sys.path set-up above
from apiserver.metrics.requests import RequestMetrics  # noqa: E402 - after the sys.path set-up above
from minik8s.up import audit_policy  # noqa: E402 - after the sys.path set-up above

ADMIN = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
PATH = "/api/v1/namespaces/default/pods"
BODY = orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bench-1", "labels": {"app": "bench"}},
                     "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest",
                                              "command": ["sleep", "3600"],
                                              "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}})
ATTRS = requestinfo.attributes(ADMIN, "POST", PATH, b"")


async def handler(scope, receive, send) -> None:
    """What the authentication filter and a create do to the scope and the messages."""
    context.authenticated(ADMIN)
    scope[requestinfo.ATTRS_KEY] = ATTRS
    context.add_annotation("authorization.k8s.io/decision", "allow")
    context.add_annotation("authorization.k8s.io/reason", "")
    await receive()
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


async def _send(message) -> None:
    pass


async def _receive():
    return {"type": "http.request", "body": BODY}


def _scope() -> dict:
    return {"type": "http", "method": "POST", "path": PATH, "query_string": b"fieldManager=kubectl-create",
            "headers": [(b"content-type", b"application/json"), (b"user-agent", b"kubectl/v1.32.4")],
            "client": ("127.0.0.1", 40000)}


async def cpu_per_request(app, n: int) -> float:
    t = time.process_time()
    for _ in range(n):
        await app(_scope(), _receive, _send)
    return (time.process_time() - t) / n * 1e6


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    pol = policy.parse(yaml.safe_load(audit_policy.POLICY))
    backend = BufferedBackend(os.devnull, event.build, buffer_size=10 ** 7)
    backend.sink.write = lambda lines: None  # the writer's CPU without the disk
    variants = [("bare handler", handler), ("+ request metrics", RequestMetrics(handler)),
                ("+ Audit-ID", AuditFilter(handler)), ("+ both (every request)", AuditFilter(RequestMetrics(handler))),
                ("+ both + audit log, default policy", AuditFilter(RequestMetrics(handler), pol, backend))]
    best = {}
    for _ in range(a.repeats):
        for name, app in variants:
            await cpu_per_request(app, a.requests // 10)  # warm
            us = await cpu_per_request(app, a.requests)
            best[name] = min(best.get(name, us), us)
            backend._buffer.clear()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; best of {a.repeats} x "
          f"{a.requests} requests")
    for name, _ in variants:
        print(f"{name:38s} {best[name]:6.2f} us CPU/request   (+{best[name] - best['bare handler']:.2f})")
    await cpu_per_request(variants[-1][1], a.requests)
    n = len(backend._buffer)
    t = time.process_time()
    backend.flush()
    print(f"{'audit writer thread, per event':38s} {(time.process_time() - t) / n * 1e6:6.2f} us CPU/event ({n} events)")


if __name__ == "__main__":
    asyncio.run(main())
