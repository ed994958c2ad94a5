"""``pods/{name}/ephemeralcontainers``: adding debugging containers to a running pod
(``kubectl debug``), as ``pkg/registry/core/pod/strategy.go``'s EphemeralContainersStrategy.

A write through this subresource changes ``spec.ephemeralContainers`` and nothing else;
ephemeral containers may be added but never changed or removed. Each needs a name unique
among all the pod's containers and an image; the fields that make no sense for a container
that is never restarted or served (ports, probes, lifecycle, resources) are forbidden, and a
``targetContainerName`` must name one of the pod's containers.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.pods import PodStrategy
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

__all__ = ["EphemeralContainersStrategy"]

_FORBIDDEN = ("ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resources", "resizePolicy",
              "restartPolicy")
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]


def _default_pull_policy(image: str) -> str:
    """Kubernetes' default: Always for ``:latest`` or no tag, IfNotPresent otherwise."""
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


class EphemeralContainersStrategy(PodStrategy):
    """PUT/PATCH ``pods/{name}/ephemeralcontainers``."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        ephemeral = (new.get("spec") or {}).get("ephemeralContainers")
        md = dict(old["metadata"])
        md["resourceVersion"] = new["metadata"].get("resourceVersion")
        new.clear()
        new.update(old)
        new["metadata"] = md
        spec = dict(old.get("spec") or {})
        if ephemeral:
            for c in ephemeral:
                if isinstance(c, dict):
                    c.setdefault("terminationMessagePath", "/dev/termination-log")
                    c.setdefault("terminationMessagePolicy", "File")
                    c.setdefault("imagePullPolicy", _default_pull_policy(str(c.get("image") or "")))
            spec["ephemeralContainers"] = ephemeral
        else:
            spec.pop("ephemeralContainers", None)
        new["spec"] = spec

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = Strategy.validate_update(self, new, old)
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        ephemeral = spec.get("ephemeralContainers") or []
        before = {c.get("name"): c for c in old_spec.get("ephemeralContainers") or []}
        now = {c.get("name"): c for c in ephemeral if isinstance(c, dict)}
        for name, c in before.items():
            if name not in now:
                errs.append(v.forbidden("spec.ephemeralContainers", f"existing ephemeral containers {name!r} "
                                                                    "may not be removed"))
            elif now[name] != c:
                errs.append(v.forbidden(f"spec.ephemeralContainers[{list(now).index(name)}]",
                                        "may not be changed once added"))
        regular = {c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])}
        seen: set[str] = set()
        for i, c in enumerate(ephemeral):
            path = f"spec.ephemeralContainers[{i}]"
            if not isinstance(c, dict):
                errs.append(v.invalid(path, c, "must be an object"))
                continue
            name = c.get("name")
            if not name:
                errs.append(v.required(f"{path}.name"))
            elif name in regular or name in seen:
                errs.append(v.duplicate(f"{path}.name", name))
            else:
                seen.add(name)
                errs += [v.invalid(f"{path}.name", name, m) for m in v.dns1123_label(name)]
            if not c.get("image"):
                errs.append(v.required(f"{path}.image"))
            policy = c.get("imagePullPolicy")
            if policy is not None and policy not in _PULL_POLICIES:
                errs.append(v.not_supported(f"{path}.imagePullPolicy", policy, _PULL_POLICIES))
            for field in _FORBIDDEN:
                if c.get(field):
                    errs.append(v.forbidden(f"{path}.{field}", "cannot be set for an Ephemeral Container"))
            target = c.get("targetContainerName")
            if target and target not in {x.get("name") for x in spec.get("containers") or []}:
                errs.append(FieldError(f"{path}.targetContainerName", v.NOT_FOUND, f'Not found: "{target}"'))
        return errs
