"""The ReplicationController manager: the ReplicaSet controller keeping ReplicationControllers, as
Kubernetes' ``pkg/controller/replication`` wraps its ReplicaSet controller. Only the kind and the
selector (a plain label map, matched by equality) differ; creation, deletion ranking,
expectations, adoption and status are the ReplicaSet controller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.replicaset import ReplicaSetController
from minik8s import labels
from minik8s.api.resources import REPLICATIONCONTROLLERS, ResourceType
from minik8s.client.events import EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient


class ReplicationManager(ReplicaSetController):
    name = "replicationcontroller"
    resource: ResourceType = REPLICATIONCONTROLLERS

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 **kwargs: Any) -> None:
        super().__init__(client, informers,
                         recorder=recorder or EventRecorder(client, component="replication-controller"), **kwargs)

    def selector_of(self, rc: Mapping[str, Any]) -> labels.Selector | None:
        sel = (rc.get("spec") or {}).get("selector")
        if not sel:
            return None  # an RC without a selector selects nothing (validation refuses it anyway)
        try:
            return labels.from_set(sel)
        except ValueError:
            return None
