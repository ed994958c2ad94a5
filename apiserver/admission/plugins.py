"""The apiserver's admission plugins, in Kubernetes' order: LimitRanger and Priority mutate,
then LimitRanger, Priority and ResourceQuota validate (quota last: it charges)."""

from __future__ import annotations

from typing import Any

from apiserver.admission.interface import Chain
from apiserver.admission.limitranger import LimitRanger
from apiserver.admission.priority import Priority
from apiserver.admission.resourcequota import ResourceQuotaAdmission


def default_chain(rest: Any, cache: Any) -> Chain:
    """``rest``: the RestStorage the chain guards; ``cache``: its WatchCache."""
    return Chain([LimitRanger(cache), Priority(cache), ResourceQuotaAdmission(rest, cache)])
