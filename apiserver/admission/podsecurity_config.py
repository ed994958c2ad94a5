"""The PodSecurity admission's policy: namespace labels parsed as Kubernetes'
``pod-security-admission/api`` does (``PolicyToEvaluate``), and the plugin's configuration
(``PodSecurityConfiguration``, ``pod-security.admission.config.k8s.io/v1``) read from the
``--admission-control-config-file`` (an ``apiserver.config.k8s.io/v1`` AdmissionConfiguration
whose ``PodSecurity`` entry carries it inline or names its file in ``path``).

A policy is three (level, version) pairs: enforce, audit, warn. An unset label falls back to the
configuration's default (``privileged:latest`` when none is configured). A bad label is an
error naming ``metadata.labels[<label>]``; enforce then evaluates as ``restricted`` and a bad
warn or audit level as ``privileged`` (fail closed for enforce, open for the others).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import yaml

from apiserver.admission.podsecurity_checks import (
    BASELINE,
    LEVELS,
    PRIVILEGED,
    RESTRICTED,
)

__all__ = [
    "LABEL_PREFIX",
    "MODES",
    "Config",
    "ConfigError",
    "LevelVersion",
    "Policy",
    "load_admission_config",
    "parse_pod_security_config",
    "policy_of",
]

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE, AUDIT, WARN = "enforce", "audit", "warn"
MODES = (ENFORCE, AUDIT, WARN)
PLUGIN_NAME = "PodSecurity"
_VERSION = re.compile(r"^v1\.([0-9]|[1-9][0-9]*)$")
_STRICTNESS = {PRIVILEGED: 0, BASELINE: 1, RESTRICTED: 2}


class ConfigError(ValueError):
    """Raised when the admission configuration file is unreadable or invalid."""


@dataclasses.dataclass(frozen=True, slots=True)
class LevelVersion:
    level: str = PRIVILEGED
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def stricter_than(self, other: LevelVersion) -> bool:
        return _STRICTNESS[self.level] > _STRICTNESS[other.level]


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    enforce: LevelVersion = LevelVersion()
    audit: LevelVersion = LevelVersion()
    warn: LevelVersion = LevelVersion()

    def all_privileged(self) -> bool:
        return self.enforce.level == self.audit.level == self.warn.level == PRIVILEGED


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    defaults: Policy = Policy()
    exempt_usernames: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()


def _level_error(value: str) -> str | None:
    return None if value in LEVELS else f"must be one of {', '.join(LEVELS)}"


def _version_error(value: str) -> str | None:
    return None if value == "latest" or _VERSION.match(value) else 'must be "latest" or "v1.x"'


def policy_of(labels: dict[str, Any] | None, defaults: Policy) -> tuple[Policy, list[tuple[str, str, str]]]:
    """The namespace's policy and its label errors as ``(field, value, message)``; the policy is
    always usable, even with errors (see the module docstring)."""
    labels = labels or {}
    errs: list[tuple[str, str, str]] = []
    parts: dict[str, LevelVersion] = {}
    for mode in MODES:
        lv = getattr(defaults, mode)
        level, version = lv.level, lv.version
        key = LABEL_PREFIX + mode
        if key in labels:
            level = str(labels[key])
            why = _level_error(level)
            if why:
                errs.append((f"metadata.labels[{key}]", level, why))
                level = RESTRICTED if mode == ENFORCE else PRIVILEGED
        vkey = key + "-version"
        if vkey in labels:
            version = str(labels[vkey])
            why = _version_error(version)
            if why:
                errs.append((f"metadata.labels[{vkey}]", version, why))
                version = "latest"
        parts[mode] = LevelVersion(level, version)
    return Policy(**parts), errs


def parse_pod_security_config(doc: Any, where: str) -> Config:
    """A PodSecurityConfiguration document (v1) as a :class:`Config`; ConfigError naming the field."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: PodSecurityConfiguration must be an object")
    if doc.get("kind") != "PodSecurityConfiguration" or \
            doc.get("apiVersion") != "pod-security.admission.config.k8s.io/v1":
        raise ConfigError(f"{where}: expected kind PodSecurityConfiguration, apiVersion "
                          f"pod-security.admission.config.k8s.io/v1, got {doc.get('kind')!r} {doc.get('apiVersion')!r}")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{where}: defaults must be an object")
    parts = {}
    for mode in MODES:
        level = str(defaults.get(mode, PRIVILEGED))
        version = str(defaults.get(f"{mode}-version", "latest"))
        for field, value, why in ((mode, level, _level_error(level)),
                                  (f"{mode}-version", version, _version_error(version))):
            if why:
                raise ConfigError(f'{where}: defaults.{field}: Invalid value: "{value}": {why}')
        parts[mode] = LevelVersion(level, version)
    ex = doc.get("exemptions") or {}
    if not isinstance(ex, dict):
        raise ConfigError(f"{where}: exemptions must be an object")
    lists: dict[str, frozenset[str]] = {}
    for field in ("usernames", "runtimeClasses", "namespaces"):
        names = ex.get(field) or []
        if not isinstance(names, list) or not all(isinstance(v, str) and v for v in names):
            raise ConfigError(f"{where}: exemptions.{field} must be a list of non-empty strings")
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: exemptions.{field}: duplicate values")
        lists[field] = frozenset(names)
    return Config(Policy(**parts), lists["usernames"], lists["runtimeClasses"], lists["namespaces"])


def _read_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not YAML: {e}") from None


def load_admission_config(path: str) -> Config:
    """The PodSecurity configuration of an AdmissionConfiguration file (defaults when the file
    has no PodSecurity entry, as kube-apiserver)."""
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or doc.get("kind") != "AdmissionConfiguration" or \
            doc.get("apiVersion") not in ("apiserver.config.k8s.io/v1", "apiserver.k8s.io/v1alpha1"):
        raise ConfigError(f"{path}: expected kind AdmissionConfiguration, apiVersion apiserver.config.k8s.io/v1")
    for i, plugin in enumerate(doc.get("plugins") or []):
        if not isinstance(plugin, dict) or plugin.get("name") != PLUGIN_NAME:
            continue
        if plugin.get("configuration") is not None:
            return parse_pod_security_config(plugin["configuration"], f"{path}: plugins[{i}].configuration")
        if plugin.get("path"):
            inner = os.path.join(os.path.dirname(path), str(plugin["path"]))
            return parse_pod_security_config(_read_yaml(inner), inner)
        raise ConfigError(f"{path}: plugins[{i}]: PodSecurity needs configuration or path")
    return Config()
