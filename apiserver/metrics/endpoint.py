"""``GET /metrics``: the process registry in Prometheus' text format (or OpenMetrics when the
scraper asks for it). Reaching it takes ``get`` on the non-resource URL ``/metrics``, which
the bootstrap ClusterRole ``system:monitoring`` grants (bound to the group of that name), as
on Kubernetes; ``kubectl get --raw /metrics`` reads it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from minik8s import metrics

__all__ = ["install"]


async def serve(request: Request) -> Response:
    body, content_type = metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)


def install(app: Any) -> None:
    """Route ``/metrics`` and start counting what the watch cache holds."""
    from apiserver.metrics import cache

    app.router.add_route("/metrics", serve, methods=["GET"])
    cache.install(app.state.server.cache)
