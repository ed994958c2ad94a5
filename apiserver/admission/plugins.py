"""The apiserver's policy admission plugins, in Kubernetes' order: LimitRanger, Priority and
DefaultTolerationSeconds mutate, then LimitRanger, Priority, PodSecurity and ResourceQuota
validate (quota last: it charges). All are on by default, as in kube-apiserver; ``--disable-admission-plugins``
names them (``apiserver/admission_options.py``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from apiserver.admission.defaulttolerationseconds import DefaultTolerationSeconds
from apiserver.admission.interface import Chain, Plugin
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.podsecurity import PodSecurity
from apiserver.admission.podsecurity_config import Config as PodSecurityConfig
from apiserver.admission.priority import Priority
from apiserver.admission.resourcequota import ResourceQuotaAdmission

LIMIT_RANGER, PRIORITY, RESOURCE_QUOTA = "LimitRanger", "Priority", "ResourceQuota"
DEFAULT_TOLERATION_SECONDS, POD_SECURITY = "DefaultTolerationSeconds", "PodSecurity"
NAMES: tuple[str, ...] = (LIMIT_RANGER, PRIORITY, DEFAULT_TOLERATION_SECONDS, POD_SECURITY, RESOURCE_QUOTA)


def default_chain(rest: Any, cache: Any, *, enabled: Collection[str] = NAMES,
                  pod_security: PodSecurityConfig | None = None) -> Chain:
    """``rest``: the RestStorage the chain guards; ``cache``: its WatchCache; ``enabled``:
    the plugins (of :data:`NAMES`) to run; ``pod_security``: PodSecurity's configuration
    (``--admission-control-config-file``; privileged by default, as kube-apiserver)."""
    made: dict[str, Callable[[], Plugin]] = {LIMIT_RANGER: lambda: LimitRanger(cache), PRIORITY: lambda: Priority(cache),
            DEFAULT_TOLERATION_SECONDS: DefaultTolerationSeconds,
            POD_SECURITY: lambda: PodSecurity(cache, pod_security),
            RESOURCE_QUOTA: lambda: ResourceQuotaAdmission(rest, cache)}
    return Chain([made[n]() for n in NAMES if n in enabled])
