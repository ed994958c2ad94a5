"""The kubelet's ``--authorization-mode=Webhook``: ask the apiserver, through a
SubjectAccessReview, whether the caller may do what it asks of this node's API, as Kubernetes'
kubelet does (kubeadm runs kubelets so).

The attributes are Kubernetes' kubelet's: resource ``nodes``, the node's name, the verb from the
HTTP method (GET get, POST create, PUT update, PATCH patch, DELETE delete) and the subresource
from the path (``/stats`` stats, ``/metrics`` metrics, ``/logs`` log, ``/spec`` spec, every other
path -- ``/containerLogs``, ``/exec``, ``/pods``, ``/healthz`` -- proxy). Answers are cached as
the kubelet's defaults say (allowed 5 minutes, denied 30 seconds); a review that fails denies.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from minik8s import errors
from minik8s.tlspeer import Subject

from kubelet import auth

__all__ = ["Webhook", "attributes"]

log = logging.getLogger(__name__)

ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def attributes(node: str, method: str, path: str) -> dict[str, str]:
    """The ``resourceAttributes`` of a request to ``node``'s API."""
    sub = next((s for prefix, s in _SUBRESOURCES if path == prefix or path.startswith(prefix + "/")), "proxy")
    return {"verb": _VERBS.get(method.upper(), method.lower()), "resource": "nodes", "subresource": sub,
            "name": node}


class Webhook:
    """``authorize(subject, method, path)`` through SubjectAccessReviews, cached."""

    def __init__(self, client: Any, node: str, *, clock: Any = time.monotonic) -> None:
        self.client = client
        self.node = node
        self.clock = clock
        self._cache: dict[tuple[Any, ...], tuple[float, bool, str]] = {}

    async def __call__(self, subject: Subject, method: str, path: str) -> tuple[bool, str]:
        attrs = attributes(self.node, method, path)
        key = (subject, attrs["verb"], attrs["subresource"])
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": subject[0], "groups": [*subject[1], "system:authenticated"],
                           "resourceAttributes": attrs}}
        try:
            status = (await self.client.request("POST", SAR_PATH, json=review)).json().get("status") or {}
        except errors.MiniK8sError as e:
            log.warning("SubjectAccessReview for %s failed: %s", subject[0], e)
            return False, f"the apiserver could not be asked: {e}"
        allowed = bool(status.get("allowed")) and not status.get("denied")
        reason = status.get("reason") or ""
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + (ALLOWED_TTL if allowed else DENIED_TTL), allowed, reason)
        return allowed, reason


auth.register_mode("Webhook", lambda cfg, client: Webhook(client, cfg.node_name))
