"""The scheme: which model serves each kind, and which fields of a request no model declares.

The apiserver looks a kind's model up in :data:`MODELS` (by API group and kind, Lists
included) and, for ``fieldValidation=Strict|Warn``, asks :func:`unknown_fields` for the keys
of a request body the model does not declare. Paths use Kubernetes' notation
(``spec.containers[0].imagePullPolcy``), so the apiserver can answer as Kubernetes does:
``unknown field "spec.containers[0].imagePullPolcy"``.

Only JSON (camelCase) names are known: a snake_case key is unknown, as it is to Kubernetes.
Fields typed ``dict[str, Any]`` (and map fields such as labels) accept any key.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import BaseModel

from minik8s.api import (
    apiextensions,
    apiregistration,
    apps,
    authentication,
    authorization,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    daemonsets,
    discovery,
    metrics,
    policy,
    quota,
    rbac,
    replicationcontrollers,
    scheduling,
    serviceaccounts,
    statefulsets,
    storage,
    tokens,
    volumes,
)
from minik8s.api.wellknown import apiextensions as crd_names

__all__ = ["MODELS", "unknown_fields", "model_for"]

_KINDS: dict[str, tuple[type[BaseModel], ...]] = {
    "": (
        core.Namespace, core.NamespaceList, core.Pod, core.PodList, core.Binding,
        core.Node, core.NodeList, core.Service, core.ServiceList,
        core.Endpoints, core.EndpointsList, core.ConfigMap, core.ConfigMapList,
        core.Secret, core.SecretList, core.Event, core.EventList,
        volumes.PersistentVolume, volumes.PersistentVolumeList,
        volumes.PersistentVolumeClaim, volumes.PersistentVolumeClaimList,
        serviceaccounts.ServiceAccount, serviceaccounts.ServiceAccountList,
        quota.ResourceQuota, quota.ResourceQuotaList, quota.LimitRange, quota.LimitRangeList,
        replicationcontrollers.ReplicationController, replicationcontrollers.ReplicationControllerList,
    ),
    "apps": (apps.Deployment, apps.DeploymentList, apps.ReplicaSet, apps.ReplicaSetList,
             daemonsets.DaemonSet, daemonsets.DaemonSetList, daemonsets.ControllerRevision,
             daemonsets.ControllerRevisionList, statefulsets.StatefulSet, statefulsets.StatefulSetList),
    "policy": (policy.PodDisruptionBudget, policy.PodDisruptionBudgetList),
    "coordination.k8s.io": (coordination.Lease, coordination.LeaseList),
    "autoscaling": (autoscaling.Scale, autoscaling.HorizontalPodAutoscaler, autoscaling.HorizontalPodAutoscalerList),
    "discovery.k8s.io": (discovery.EndpointSlice, discovery.EndpointSliceList),
    "storage.k8s.io": (storage.StorageClass, storage.StorageClassList),
    "certificates.k8s.io": (certificates.CertificateSigningRequest, certificates.CertificateSigningRequestList),
    authentication.GROUP: (tokens.TokenRequest, tokens.TokenReview, authentication.SelfSubjectReview),
    authorization.GROUP: (authorization.SubjectAccessReview, authorization.LocalSubjectAccessReview,
                          authorization.SelfSubjectAccessReview, authorization.SelfSubjectRulesReview),
    rbac.GROUP: (rbac.Role, rbac.RoleList, rbac.ClusterRole, rbac.ClusterRoleList, rbac.RoleBinding,
                 rbac.RoleBindingList, rbac.ClusterRoleBinding, rbac.ClusterRoleBindingList),
    "batch": (batch.Job, batch.JobList, batch.CronJob, batch.CronJobList),
    "scheduling.k8s.io": (scheduling.PriorityClass, scheduling.PriorityClassList),
    crd_names.GROUP: (apiextensions.CustomResourceDefinition, apiextensions.CustomResourceDefinitionList),
    apiregistration.GROUP: (apiregistration.APIService, apiregistration.APIServiceList),
    metrics.GROUP: (metrics.NodeMetrics, metrics.NodeMetricsList, metrics.PodMetrics, metrics.PodMetricsList),
}

MODELS: dict[tuple[str, str], type[BaseModel]] = {
    (group, cls.model_fields["kind"].default): cls for group, classes in _KINDS.items() for cls in classes
}


def model_for(api_version: str, kind: str) -> type[BaseModel]:
    """The model of an object's ``apiVersion`` and ``kind``; KeyError when minik8s has none."""
    return MODELS[(api_version.rpartition("/")[0], kind)]


# How a field's value is walked: not at all (a scalar, a map of scalars, ``dict[str, Any]``),
# as one model, as a list of models, or as a map of models.
_MODEL, _LIST, _MAP = 0, 1, 2
_Shape = tuple[int, type[BaseModel]] | None


def unknown_fields(model_cls: type[BaseModel], data: dict[str, Any], *,
                   known: dict[str, Any] | None = None) -> list[str]:
    """Paths of the keys in ``data`` that ``model_cls`` (or a nested model) does not declare.

    ``known``: an object of ``model_cls`` as stored (made by the model, so with no unknown
    field): top-level fields of ``data`` equal to its are not walked. A patch leaves most of
    the object as stored (a status patch: its spec and metadata), as Kubernetes' patched
    object, decoded from the stored one, has no unknown field there either."""
    out: list[str] = []
    if isinstance(data, dict):
        if known:
            data = {k: v for k, v in data.items() if not isinstance(v, (dict, list)) or v != known.get(k)}
        _walk(model_cls, data, "", out)
    return out


def _walk(cls: type[BaseModel], data: dict[str, Any], prefix: str, out: list[str]) -> None:
    fields = _fields(cls)
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            out.append(path)
            continue
        shape = fields[key]
        if shape is None or value is None:
            continue
        how, sub = shape
        # A value of the wrong type is left to validation, which names it better.
        if how == _MODEL:
            if isinstance(value, dict):
                _walk(sub, value, path, out)
        elif how == _LIST:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        _walk(sub, item, f"{path}[{i}]", out)
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, dict):
                    _walk(sub, item, f"{path}.{k}", out)


@functools.cache
def _fields(cls: type[BaseModel]) -> dict[str, _Shape]:
    """JSON name → shape of every field of ``cls``, computed once per class."""
    return {info.alias or name: _shape(info.annotation) for name, info in cls.model_fields.items()}


def _shape(annotation: Any) -> _Shape:
    annotation = _strip_optional(annotation)
    if _is_model(annotation):
        return (_MODEL, annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        item = _strip_optional(args[0])
        return (_LIST, item) if _is_model(item) else None
    if origin is dict and len(args) == 2:
        item = _strip_optional(args[1])
        return (_MAP, item) if _is_model(item) else None
    return None


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
