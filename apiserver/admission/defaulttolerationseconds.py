"""DefaultTolerationSeconds admission (Kubernetes' ``plugin/pkg/admission/defaulttolerationseconds``).

A new pod that does not already tolerate the ``node.kubernetes.io/not-ready`` or
``node.kubernetes.io/unreachable`` NoExecute taints gets a toleration of each for 300 seconds
(``operator: Exists``): when its node stops answering, the node lifecycle controller's
NoExecute taint evicts it after five minutes instead of at once. A toleration already counts
when its key is that taint's or empty (every key) and its effect NoExecute or empty (every
effect). Only pods proper are touched, never their subresources.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.interface import CREATE, Attributes, Plugin
from minik8s.api import resources as rs

__all__ = ["DefaultTolerationSeconds", "NOT_READY", "UNREACHABLE", "DEFAULT_SECONDS"]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300  # kube-apiserver's --default-not-ready/unreachable-toleration-seconds


def _tolerates(tolerations: list[dict[str, Any]], key: str) -> bool:
    return any(t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "")
               for t in tolerations if isinstance(t, dict))


class DefaultTolerationSeconds(Plugin):
    handles = frozenset((rs.PODS,))

    def __init__(self, *, not_ready_seconds: int = DEFAULT_SECONDS,
                 unreachable_seconds: int = DEFAULT_SECONDS) -> None:
        self.seconds = {NOT_READY: not_ready_seconds, UNREACHABLE: unreachable_seconds}

    async def admit(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or attrs.subresource:
            return
        spec = attrs.obj.get("spec")
        if not isinstance(spec, dict):
            return  # validation names what is wrong
        tolerations = spec.get("tolerations") or []
        if not isinstance(tolerations, list):
            return
        added = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
                 for key, seconds in self.seconds.items() if not _tolerates(tolerations, key)]
        if added:
            spec["tolerations"] = [*tolerations, *added]
