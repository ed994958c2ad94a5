"""The one registry table: every resource the apiserver serves, declared once.

Each entry joins the resource's identity (``minik8s.api.resources``), its pydantic model
(``minik8s.api.schema.MODELS``), its strategy (``apiserver/registry/<resource>.py``), its printed
columns (``apiserver/printers.py``) and its subresources. Routes, discovery, OpenAPI, Table
printing and validation all read this table; adding a resource is one entry plus its model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from apiserver import policy_printers, printers, printers_auth, printers_metrics, printers_storage, printers_workloads
from apiserver.registry import (
    apiservices,
    batch,
    certificates,
    customresourcedefinitions,
    daemonsets,
    ephemeralcontainers,
    horizontalpodautoscalers,
    namespaces,
    nodes,
    podbinding,
    poddisruptionbudgets,
    pods,
    policy,
    rbac,
    replicationcontrollers,
    serviceaccounts,
    services,
    simple,
    statefulsets,
    volumes,
    workloads,
)
from apiserver.registry.strategy import StatusStrategy, Strategy
from minik8s.api import resources as rs
from minik8s.api.resources import ResourceType
from minik8s.api.schema import MODELS

# Every verb a plain resource supports (discovery lists them).
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# What a resource that is only asked (a review: the answer comes back, nothing is stored) supports.
CREATE_ONLY = ("create",)


@dataclasses.dataclass(frozen=True, slots=True)
class Subresource:
    name: str  # "status", "scale", "binding", "log"
    kind: str  # the kind it speaks
    verbs: tuple[str, ...]
    group: str = ""  # of the kind it speaks, when not the parent's (Scale: autoscaling)
    version: str = "v1"
    #: the update hooks of a writable subresource with its own rules (namespaces/finalize)
    strategy: Strategy | None = None


STATUS = Subresource("status", "", ("get", "patch", "update"))


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    type: ResourceType
    strategy: Strategy
    printer: printers.Printer
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = VERBS
    #: a custom resource's version (``apiserver/registry/customresources.CustomVersion``): how
    #: its bodies are decoded and its answers converted; None for built-in resources
    custom: Any = None
    #: the storage and watch-cache segment (``/registry/<resource>/...``): the plural, or for a
    #: custom resource ``<plural>.<group>``, as its plural may repeat a built-in one
    resource: str = ""
    #: a custom resource's ``/status`` strategy (built-in ones are made below)
    custom_status_strategy: StatusStrategy | None = None

    def __post_init__(self) -> None:
        if not self.resource:
            object.__setattr__(self, "resource", self.type.plural)

    @property
    def model(self) -> Any:
        if self.custom is not None:
            return self.custom.model
        return MODELS[(self.type.group, self.type.kind)]

    @property
    def status_strategy(self) -> StatusStrategy:
        if self.custom_status_strategy is not None:
            return self.custom_status_strategy
        return _STATUS_STRATEGIES[self.type]

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None


TABLE: tuple[Entry, ...] = (
    Entry(rs.NAMESPACES, namespaces.NamespaceStrategy(), printers.NAMESPACE,
          (STATUS, Subresource("finalize", "Namespace", ("update",),
                                                    strategy=namespaces.NamespaceFinalizeStrategy()))),
    Entry(rs.PODS, pods.PodStrategy(), printers.POD,
          (STATUS, Subresource("binding", "Binding", ("create",), strategy=podbinding.BindingStrategy()),
           Subresource("log", "Pod", ("get",)), Subresource("eviction", "Eviction", ("create",), "policy"),
           Subresource("exec", "PodExecOptions", ("create", "get")),
           Subresource("attach", "PodAttachOptions", ("create", "get")),
           Subresource("proxy", "PodProxyOptions", ("create", "delete", "get", "patch", "update")),
           Subresource("ephemeralcontainers", "Pod", ("get", "patch", "update"),
                       strategy=ephemeralcontainers.EphemeralContainersStrategy()),
           Subresource("portforward", "PodPortForwardOptions", ("create", "get")))),
    Entry(rs.NODES, nodes.NodeStrategy(), printers.NODE,
          (STATUS, Subresource("proxy", "NodeProxyOptions", ("create", "delete", "get", "patch", "update")))),
    Entry(rs.SERVICES, services.ServiceStrategy(), printers.SERVICE,
          (STATUS, Subresource("proxy", "ServiceProxyOptions", ("create", "delete", "get", "patch", "update")))),
    Entry(rs.ENDPOINTS, simple.EndpointsStrategy(), printers.ENDPOINTS),
    Entry(rs.CONFIGMAPS, simple.ConfigMapStrategy(), printers.CONFIGMAP),
    Entry(rs.SECRETS, simple.SecretStrategy(), printers.SECRET),
    Entry(rs.EVENTS, simple.EventStrategy(), printers.EVENT),
    Entry(rs.DEPLOYMENTS, workloads.DeploymentStrategy(), printers.DEPLOYMENT,
          (STATUS, Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))),
    Entry(rs.REPLICASETS, workloads.ReplicaSetStrategy(), printers.REPLICASET,
          (STATUS, Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))),
    Entry(rs.DAEMONSETS, daemonsets.DaemonSetStrategy(), printers_workloads.DAEMONSET, (STATUS,)),
    Entry(rs.CONTROLLERREVISIONS, daemonsets.ControllerRevisionStrategy(), printers_workloads.CONTROLLERREVISION),
    Entry(rs.STATEFULSETS, statefulsets.StatefulSetStrategy(), printers_workloads.STATEFULSET,
          (STATUS, Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))),
    Entry(rs.REPLICATIONCONTROLLERS, replicationcontrollers.ReplicationControllerStrategy(),
          printers_workloads.REPLICATIONCONTROLLER,
          (STATUS, Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling"))),
    Entry(rs.PODDISRUPTIONBUDGETS, poddisruptionbudgets.PodDisruptionBudgetStrategy(),
          printers_workloads.PODDISRUPTIONBUDGET, (STATUS,)),
    Entry(rs.LEASES, simple.LeaseStrategy(), printers.LEASE),
    Entry(rs.ENDPOINTSLICES, simple.EndpointSliceStrategy(), printers.ENDPOINTSLICE),
    Entry(rs.PERSISTENTVOLUMES, volumes.PersistentVolumeStrategy(), printers_storage.PERSISTENT_VOLUME, (STATUS,)),
    Entry(rs.PERSISTENTVOLUMECLAIMS, volumes.PersistentVolumeClaimStrategy(),
          printers_storage.PERSISTENT_VOLUME_CLAIM, (STATUS,)),
    Entry(rs.STORAGECLASSES, volumes.StorageClassStrategy(), printers_storage.STORAGE_CLASS),
    Entry(rs.SERVICEACCOUNTS, serviceaccounts.ServiceAccountStrategy(), printers_auth.SERVICE_ACCOUNT,
          (Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io"),)),
    Entry(rs.CERTIFICATESIGNINGREQUESTS, certificates.CertificateSigningRequestStrategy(),
          printers_auth.CERTIFICATE_SIGNING_REQUEST,
          (STATUS, Subresource("approval", "CertificateSigningRequest", ("get", "patch", "update"),
                               strategy=certificates.ApprovalStrategy()))),
    Entry(rs.ROLES, rbac.RoleStrategy(), printers.ROLE),
    Entry(rs.CLUSTERROLES, rbac.ClusterRoleStrategy(), printers.ROLE),
    Entry(rs.ROLEBINDINGS, rbac.RoleBindingStrategy(), printers.BINDING),
    Entry(rs.CLUSTERROLEBINDINGS, rbac.ClusterRoleBindingStrategy(), printers.BINDING),
    # create-only: the apiserver answers them (apiserver/auth/reviews.py) and stores nothing
    Entry(rs.SELFSUBJECTACCESSREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.SELFSUBJECTRULESREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.SUBJECTACCESSREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.LOCALSUBJECTACCESSREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.SELFSUBJECTREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.TOKENREVIEWS, Strategy(), printers.ROLE, verbs=CREATE_ONLY),
    Entry(rs.JOBS, batch.JobStrategy(), printers_workloads.JOB, (STATUS,)),
    Entry(rs.CRONJOBS, batch.CronJobStrategy(), printers_workloads.CRONJOB, (STATUS,)),
    Entry(rs.RESOURCEQUOTAS, policy.ResourceQuotaStrategy(), policy_printers.RESOURCEQUOTA, (STATUS,)),
    Entry(rs.LIMITRANGES, policy.LimitRangeStrategy(), policy_printers.LIMITRANGE),
    Entry(rs.PRIORITYCLASSES, policy.PriorityClassStrategy(), policy_printers.PRIORITYCLASS),
    Entry(rs.CUSTOMRESOURCEDEFINITIONS, customresourcedefinitions.CustomResourceDefinitionStrategy(),
          customresourcedefinitions.CUSTOM_RESOURCE_DEFINITION, (STATUS,)),
    Entry(rs.APISERVICES, apiservices.APIServiceStrategy(), apiservices.APISERVICE, (STATUS,)),
    Entry(rs.HORIZONTALPODAUTOSCALERS, horizontalpodautoscalers.HorizontalPodAutoscalerStrategy(),
          horizontalpodautoscalers.HORIZONTAL_POD_AUTOSCALER, (STATUS,)),
    # served by converting the v2 objects (apiserver/hpa_v1.py)
    Entry(rs.HORIZONTALPODAUTOSCALERS_V1, horizontalpodautoscalers.HorizontalPodAutoscalerStrategy(),
          horizontalpodautoscalers.HORIZONTAL_POD_AUTOSCALER, (STATUS,)),
    # computed when read (apiserver/resourcemetrics): get and list only
    Entry(rs.NODEMETRICS, Strategy(), printers_metrics.NODE_METRICS, verbs=("get", "list")),
    Entry(rs.PODMETRICS, Strategy(), printers_metrics.POD_METRICS, verbs=("get", "list")),
)

_STATUS_STRATEGIES = {e.type: StatusStrategy(e.strategy) for e in TABLE}

BY_PATH: dict[tuple[str, str, str], Entry] = {
    (e.type.group, e.type.version, e.type.plural): e for e in TABLE
}
BY_TYPE: dict[ResourceType, Entry] = {e.type: e for e in TABLE}


#: the served custom resources: (group, version, plural) → entry, changed only by
#: :func:`set_custom` (the CRD controller), replaced whole so readers never see it half-made
DYNAMIC: dict[tuple[str, str, str], Entry] = {}
_DYNAMIC_BY_CRD: dict[str, tuple[Entry, ...]] = {}
_DYNAMIC_GVS: frozenset[tuple[str, str]] = frozenset()


def lookup(group: str, version: str, plural: str) -> Entry | None:
    entry = BY_PATH.get((group, version, plural))
    if entry is None and DYNAMIC:
        return DYNAMIC.get((group, version, plural))
    return entry


def all_entries() -> tuple[Entry, ...]:
    """The static table, then every served custom resource version."""
    if not _DYNAMIC_BY_CRD:
        return TABLE
    return TABLE + tuple(e for es in _DYNAMIC_BY_CRD.values() for e in es)


def serves_custom(group: str, version: str) -> bool:
    """Whether a custom resource is served in this group-version."""
    return (group, version) in _DYNAMIC_GVS


def set_custom(crd_name: str, entries: tuple[Entry, ...]) -> None:
    """Serve ``entries`` for the CRD ``crd_name`` (none: stop serving it)."""
    global DYNAMIC, _DYNAMIC_GVS
    if entries:
        _DYNAMIC_BY_CRD[crd_name] = entries
    else:
        _DYNAMIC_BY_CRD.pop(crd_name, None)
    DYNAMIC = {(e.type.group, e.type.version, e.type.plural): e for es in _DYNAMIC_BY_CRD.values() for e in es}
    _DYNAMIC_GVS = frozenset((g, v) for g, v, _ in DYNAMIC)


def custom_entries(crd_name: str) -> tuple[Entry, ...]:
    return _DYNAMIC_BY_CRD.get(crd_name, ())
