"""Identity of every resource minik8s serves: group, version, kind, plural, scope, short names.

This is the client-side half of the one registry table: the apiserver's registry
(``apiserver/registry/table.py``) adds model, strategy and printed columns to each entry here,
and the REST client builds paths from it. Add a resource here once; everything else follows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    singular: str = ""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def prefix(self) -> str:
        """URL prefix of the group-version: ``/api/v1`` or ``/apis/apps/v1``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def group_resource(self) -> str:
        """``pods`` or ``deployments.apps``: how Kubernetes names it in errors."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path; namespace None on a namespaced type means all namespaces."""
        parts = [self.prefix]
        if self.namespaced and namespace:
            parts.append(f"/namespaces/{namespace}")
        parts.append(f"/{self.plural}")
        if name:
            parts.append(f"/{name}")
            if subresource:
                parts.append(f"/{subresource}")
        return "".join(parts)


_ALL = ("all",)

NAMESPACES = ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",))
PODS = ResourceType("", "v1", "Pod", "pods", True, ("po",), _ALL)
NODES = ResourceType("", "v1", "Node", "nodes", False, ("no",))
SERVICES = ResourceType("", "v1", "Service", "services", True, ("svc",), _ALL)
ENDPOINTS = ResourceType("", "v1", "Endpoints", "endpoints", True, ("ep",), singular="endpoints")
CONFIGMAPS = ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",))
SECRETS = ResourceType("", "v1", "Secret", "secrets", True)
EVENTS = ResourceType("", "v1", "Event", "events", True, ("ev",))
DEPLOYMENTS = ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), _ALL)
REPLICASETS = ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), _ALL)
DAEMONSETS = ResourceType("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), _ALL)
CONTROLLERREVISIONS = ResourceType("apps", "v1", "ControllerRevision", "controllerrevisions", True)
STATEFULSETS = ResourceType("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), _ALL)
REPLICATIONCONTROLLERS = ResourceType("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), _ALL)
PODDISRUPTIONBUDGETS = ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",))
LEASES = ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True)
ENDPOINTSLICES = ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True)
PERSISTENTVOLUMES = ResourceType("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",))
PERSISTENTVOLUMECLAIMS = ResourceType("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",))
STORAGECLASSES = ResourceType("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",))
SERVICEACCOUNTS = ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",))
CERTIFICATESIGNINGREQUESTS = ResourceType("certificates.k8s.io", "v1", "CertificateSigningRequest",
                                          "certificatesigningrequests", False, ("csr",))
_RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(_RBAC, "v1", "Role", "roles", True)
CLUSTERROLES = ResourceType(_RBAC, "v1", "ClusterRole", "clusterroles", False)
ROLEBINDINGS = ResourceType(_RBAC, "v1", "RoleBinding", "rolebindings", True)
CLUSTERROLEBINDINGS = ResourceType(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", False)
# Asked, answered and never stored (create only):
_AUTHZ = "authorization.k8s.io"
SELFSUBJECTACCESSREVIEWS = ResourceType(_AUTHZ, "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False)
SELFSUBJECTRULESREVIEWS = ResourceType(_AUTHZ, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False)
SUBJECTACCESSREVIEWS = ResourceType(_AUTHZ, "v1", "SubjectAccessReview", "subjectaccessreviews", False)
LOCALSUBJECTACCESSREVIEWS = ResourceType(_AUTHZ, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True)
SELFSUBJECTREVIEWS = ResourceType("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False)
TOKENREVIEWS = ResourceType("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False)
JOBS = ResourceType("batch", "v1", "Job", "jobs", True, (), _ALL)
CRONJOBS = ResourceType("batch", "v1", "CronJob", "cronjobs", True, ("cj",), _ALL)
RESOURCEQUOTAS = ResourceType("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",))
LIMITRANGES = ResourceType("", "v1", "LimitRange", "limitranges", True, ("limits",))
PRIORITYCLASSES = ResourceType("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",))
CUSTOMRESOURCEDEFINITIONS = ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                                         "customresourcedefinitions", False, ("crd", "crds"), ("api-extensions",))
HORIZONTALPODAUTOSCALERS = ResourceType("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                                        True, ("hpa",), _ALL)
# autoscaling/v1: a view of the v2 objects (apiserver/hpa_v1.py), not a resource of its own
HORIZONTALPODAUTOSCALERS_V1 = ResourceType("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
                                           True, ("hpa",), _ALL)
APISERVICES = ResourceType("apiregistration.k8s.io", "v1", "APIService", "apiservices", False,
                           categories=("api-extensions",))
# Read only, never stored (metrics.k8s.io: resource metrics, apiserver/resourcemetrics):
NODEMETRICS = ResourceType("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False)
PODMETRICS = ResourceType("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True)

ALL: tuple[ResourceType, ...] = (
    NAMESPACES, PODS, NODES, SERVICES, ENDPOINTS, CONFIGMAPS, SECRETS, EVENTS,
    DEPLOYMENTS, REPLICASETS, DAEMONSETS, CONTROLLERREVISIONS, STATEFULSETS, REPLICATIONCONTROLLERS, PODDISRUPTIONBUDGETS,
    LEASES, ENDPOINTSLICES,
    PERSISTENTVOLUMES, PERSISTENTVOLUMECLAIMS, STORAGECLASSES, SERVICEACCOUNTS, CERTIFICATESIGNINGREQUESTS,
    ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS,
    JOBS, CRONJOBS,
    RESOURCEQUOTAS, LIMITRANGES, PRIORITYCLASSES,
    CUSTOMRESOURCEDEFINITIONS, APISERVICES, HORIZONTALPODAUTOSCALERS,
)

#: kinds that are asked and answered, never stored or listed (no List kind): not in ALL, which
#: the garbage collector and the namespace controller list and watch
REVIEWS: tuple[ResourceType, ...] = (SELFSUBJECTACCESSREVIEWS, SELFSUBJECTRULESREVIEWS, SUBJECTACCESSREVIEWS,
                                     LOCALSUBJECTACCESSREVIEWS, SELFSUBJECTREVIEWS, TOKENREVIEWS)

#: kinds that are computed when read (get and list only, no watch): not in ALL either
METRICS: tuple[ResourceType, ...] = (NODEMETRICS, PODMETRICS)

BY_PLURAL: dict[tuple[str, str], ResourceType] = {(r.group, r.plural): r for r in ALL + REVIEWS + METRICS}
BY_KIND: dict[tuple[str, str], ResourceType] = {(r.group, r.kind): r for r in ALL + REVIEWS + METRICS}


def for_kind(api_version: str, kind: str) -> ResourceType:
    """The resource of an object's apiVersion + kind; KeyError when unknown."""
    group = api_version.rpartition("/")[0]
    return BY_KIND[(group, kind)]


def object_key(obj: Mapping[str, Any]) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` when cluster-scoped."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    return f"{ns}/{md.get('name')}" if ns else md.get("name", "")


def split_key(key: str) -> tuple[str | None, str]:
    ns, sep, name = key.rpartition("/")
    return (ns if sep else None), name
