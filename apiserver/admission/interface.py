"""What an admission plugin sees (Kubernetes' ``admission.Attributes``) and the chain that runs
the plugins in order. A plugin refuses a request by raising an ``apiserver.errors`` error;
:func:`forbidden` builds the 403 Kubernetes' ``admission.NewForbidden`` answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from apiserver import errors
from minik8s.api.resources import ResourceType

CREATE, UPDATE = "CREATE", "UPDATE"


@dataclasses.dataclass(slots=True)
class Attributes:
    operation: str  # CREATE | UPDATE
    resource: ResourceType
    namespace: str | None
    obj: dict[str, Any]  # the object being written; mutating plugins change it in place
    old: dict[str, Any] | None = None
    subresource: str | None = None
    dry_run: bool = False
    #: Warning headers for the response (PodSecurity's warn mode); the REST handler sends them
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name") or ""


class Plugin:
    """A plugin overrides either hook or both; both default to accepting."""

    #: the resources the plugin looks at; others skip it at no cost
    handles: frozenset[ResourceType] = frozenset()

    async def admit(self, attrs: Attributes) -> None:
        """Mutate ``attrs.obj`` before validation."""

    async def validate(self, attrs: Attributes) -> None:
        """Accept or refuse the validated ``attrs.obj``."""


def forbidden(attrs: Attributes, why: str) -> errors.Forbidden:
    """``pods "web" is forbidden: <why>`` (``pods is forbidden: ...`` when unnamed)."""
    rt = attrs.resource
    name = attrs.name
    what = f'{rt.group_resource} "{name}"' if name else rt.group_resource
    details: dict[str, Any] = {"kind": rt.plural}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    return errors.Forbidden(f"{what} is forbidden: {why}", details=details)


class Chain:
    """Plugins in order; a resource no plugin handles costs one dict lookup."""

    def __init__(self, plugins: Sequence[Plugin]) -> None:
        self.plugins = tuple(plugins)
        self._by_resource: dict[ResourceType, tuple[Plugin, ...]] = {}
        for p in self.plugins:
            for rt in p.handles:
                self._by_resource[rt] = self._by_resource.get(rt, ()) + (p,)

    def handles(self, rt: ResourceType) -> bool:
        return rt in self._by_resource

    async def admit(self, attrs: Attributes) -> None:
        for p in self._by_resource.get(attrs.resource, ()):
            await p.admit(attrs)

    async def validate(self, attrs: Attributes) -> None:
        for p in self._by_resource.get(attrs.resource, ()):
            await p.validate(attrs)
