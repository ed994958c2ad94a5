"""The TypedDict views of minik8s/api/typed.py name only fields the API has.

A view costs nothing at run time and the type checker trusts it: a misspelt key in a view
(``readinesProbe``) would make every read of it type-check and find nothing. The apiserver's
pydantic models (minik8s/api/core.py, discovery.py, meta.py) say which JSON names an object can
carry (they drop unknown fields), so each view's keys must be JSON names of its model.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from minik8s.api import (
    apps,
    batch,
    certificates,
    coordination,
    core,
    daemonsets,
    discovery,
    meta,
    policy,
    quota,
    rbac,
    serviceaccounts,
    statefulsets,
    storage,
    typed,
    volumes,
)

# Views whose model has another name, or that stand for two models with the same fields.
_MODELS: dict[str, tuple[type[BaseModel], ...]] = {
    "KeySelector": (core.ConfigMapKeySelector, core.SecretKeySelector),
    "EnvSourceRef": (core.ConfigMapEnvSource, core.SecretEnvSource),
    # A claim's resources: core's ResourceRequirements minus claims (volumes.VolumeResourceRequirements).
    "ResourceRequirements": (core.ResourceRequirements, volumes.VolumeResourceRequirements),
    # An Endpoints subset's ports: core/v1's EndpointPort, with the fields of discovery/v1's.
    "EndpointPort": (discovery.EndpointPort, core.EndpointPort),
}
# Views of parts the apiserver keeps verbatim (no model to check against): a projected
# volume's sources are ``list[dict]`` in core.ProjectedVolumeSource, ephemeral containers
# ``list[dict]`` in core.PodSpec (EphemeralContainer's keys but one are Container's, checked).
_VERBATIM = {"VolumeProjection", "SecretProjection", "ServiceAccountTokenProjection", "EphemeralContainer"}


def _views() -> list[str]:
    return sorted(name for name in typed.__all__ if typing.is_typeddict(getattr(typed, name)))


def _models(name: str) -> tuple[type[BaseModel], ...]:
    if name in _MODELS:
        return _MODELS[name]
    # EndpointSlice's parts are discovery/v1's (core/v1 has an older EndpointPort of its own).
    for module in (meta, discovery, core, volumes, apps, batch, storage, quota, serviceaccounts, certificates,
                   daemonsets, statefulsets, policy, coordination, rbac):
        model = getattr(module, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return (model,)
    raise AssertionError(f"typed.{name} has no model of that name in minik8s.api.core, discovery, meta, volumes, apps, batch, "
                         "storage, quota, serviceaccounts, certificates, daemonsets, statefulsets, policy, coordination or rbac: "
                         "name the model it views in _MODELS, or list it in _VERBATIM")


def _json_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def test_every_view_is_checked() -> None:
    views = _views()
    assert {"Pod", "Container", "Probe", "Volume", "ContainerStatus", "Node", "Service", "EndpointSlice",
            "PersistentVolume", "PersistentVolumeClaim", "Deployment", "ReplicaSet"} <= set(views)
    assert _VERBATIM <= set(views)


@pytest.mark.parametrize("name", [n for n in _views() if n not in _VERBATIM])
def test_view_keys_are_fields_of_its_model(name: str) -> None:
    keys = set(getattr(typed, name).__annotations__)
    for model in _models(name):
        unknown = keys - _json_names(model)
        assert not unknown, f"typed.{name} names {sorted(unknown)}, which {model.__module__}.{model.__name__} lacks"


def test_an_ephemeral_container_is_a_container_and_its_target() -> None:
    own = set(typed.EphemeralContainer.__annotations__) - set(typed.Container.__annotations__)
    assert own == {"targetContainerName"}


def test_nested_views_are_the_models_nested_parts() -> None:
    # A key typed with a view of its own is that view's model in the parent model too, so the
    # check above covers the whole tree (Pod -> PodSpec -> Container -> Probe -> HTTPGetAction).
    hints = typing.get_type_hints(typed.Container)
    assert hints["readinessProbe"] is typed.Probe
    assert core.Container.model_fields["readiness_probe"].annotation == core.Probe | None
    assert typing.get_type_hints(typed.Probe)["httpGet"] is typed.HTTPGetAction
    assert typing.get_type_hints(typed.PodSpec)["volumes"] == list[typed.Volume]
    assert typing.get_type_hints(typed.PodStatus)["containerStatuses"] == list[typed.ContainerStatus]


def test_boundary_functions_return_the_same_object() -> None:
    obj = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    assert typed.service(obj) is obj
    assert typed.endpoint_slice(obj) is obj
    assert typed.pod(obj) is obj
    assert typed.node(obj) is obj
    assert typed.persistent_volume(obj) is obj
    assert typed.persistent_volume_claim(obj) is obj
    assert typed.job(obj) is obj
    assert typed.cron_job(obj) is obj
    assert typed.daemon_set(obj) is obj
    assert typed.controller_revision(obj) is obj
    assert typed.stateful_set(obj) is obj
    assert typed.pod_disruption_budget(obj) is obj
