"""The kubelet's ServiceAccount token manager (Kubernetes' ``pkg/kubelet/token``): asks the
apiserver for pod-bound tokens (``POST serviceaccounts/{sa}/token`` with the pod as
``boundObjectRef``), keeps them per pod, and hands a cached one out until it is due for
renewal: past 80% of its life (less a jitter of up to 10 s), or older than 24 hours, as
Kubernetes' ``requiresRefresh``. :meth:`TokenManager.next_refresh` tells the pod's sync when
to write the volume again; the new token replaces the file in place (the container keeps
reading one path, as clients such as client-go re-read it).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence

from minik8s.api import typed
from minik8s.api.resources import SERVICEACCOUNTS
from minik8s.client.rest import ApiClient
from minik8s.timestamps import to_unix

__all__ = ["TokenManager", "Token"]

MAX_TTL = 24 * 3600.0
MAX_JITTER = 10.0
DEFAULT_EXPIRATION_SECONDS = 3600


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    token: str
    issued_at: float  # expirationTimestamp - expirationSeconds: when the apiserver made it
    expires_at: float  # what the status reports
    refresh_at: float  # when this kubelet asks for the next one


class TokenManager:
    def __init__(self, client: ApiClient, *, clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = lambda: random.uniform(0, MAX_JITTER)) -> None:
        """``clock`` and ``jitter`` are for tests."""
        self.client = client
        self.clock = clock
        self.jitter = jitter
        self._cache: dict[tuple[str, str, str, tuple[str, ...], int], Token] = {}

    async def get(self, pod: typed.Pod, *, audiences: Sequence[str] = (), expiration_seconds: int | None = None) -> Token:
        """A token of the pod's ServiceAccount bound to the pod (cached until due)."""
        md, spec = pod["metadata"], pod.get("spec") or {}
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        exp = expiration_seconds or DEFAULT_EXPIRATION_SECONDS
        key = (md["uid"], md["namespace"], sa, tuple(audiences), exp)
        cached = self._cache.get(key)
        if cached is not None and self.clock() < cached.refresh_at:
            return cached
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": list(audiences), "expirationSeconds": exp,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": md["name"], "uid": md["uid"]}}}
        tr = await self.client.create_subresource(SERVICEACCOUNTS, sa, "token", body, namespace=md["namespace"])
        status, granted = tr["status"], int(tr["spec"].get("expirationSeconds") or exp)
        expires = to_unix(status["expirationTimestamp"])
        if expires is None:
            raise ValueError(f"TokenRequest answered a malformed expirationTimestamp: {status['expirationTimestamp']!r}")
        issued = expires - granted
        refresh = min(issued + MAX_TTL, expires - granted * 0.2) - self.jitter()
        token = Token(status["token"], issued, expires, refresh)
        self._cache[key] = token
        return token

    def next_refresh(self, pod_uid: str) -> float | None:
        """When the soonest of a pod's tokens is due (unix seconds), None when it has none."""
        due = [t.refresh_at for k, t in self._cache.items() if k[0] == pod_uid]
        return min(due) if due else None

    def forget(self, pod_uid: str) -> None:
        """Drop a pod's tokens (the pod is gone from this node)."""
        for k in [k for k in self._cache if k[0] == pod_uid]:
            del self._cache[k]
