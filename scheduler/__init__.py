"""The minik8s scheduler: places unbound pods on nodes as kube-scheduler does.

``algorithm`` runs one scheduling cycle over ``framework`` NodeInfos kept by ``cache``, using the
filter and score ``plugins``; ``resources`` computes what a pod requests.
"""

from scheduler.algorithm import (
    Algorithm,
    FitError,
    NoNodesAvailableError,
    ScheduleResult,
    SchedulingError,
    default_algorithm,
)
from scheduler.cache import SchedulerCache
from scheduler.framework import CycleState, NodeInfo, PodInfo, Rejection

__all__ = [
    "Algorithm",
    "CycleState",
    "FitError",
    "NoNodesAvailableError",
    "NodeInfo",
    "PodInfo",
    "Rejection",
    "ScheduleResult",
    "SchedulerCache",
    "SchedulingError",
    "default_algorithm",
]
