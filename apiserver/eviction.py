"""The ``pods/{name}/eviction`` subresource: a pod deletion that honours PodDisruptionBudgets, as
Kubernetes' ``pkg/registry/core/pod/storage/eviction.go``.

A pod that is finished, still Pending, or already being deleted goes at once, as does a pod no
budget selects. Otherwise its one budget (several: 500, as Kubernetes refuses to choose) must
allow a disruption: the budget's ``disruptionsAllowed`` is decremented and the pod recorded in
``disruptedPods`` (a conditional write: concurrent evictions cannot both spend the last
disruption) before the pod is deleted; a budget with none left answers 429 TooManyRequests
with Kubernetes' message and a DisruptionBudget cause, which ``kubectl drain`` retries. An
unready pod is let go when the budget is healthy anyway (``IfHealthyBudget``) or always
(``AlwaysAllow``).
"""

from __future__ import annotations

import copy
from typing import Any

from apiserver import errors
from apiserver.rest import ListOptions, RestStorage
from minik8s import labels
from minik8s.api import resources as rs
from minik8s.timestamps import now_rfc3339

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
# Kubernetes' MaxDisruptedPodSize: evictions the disruption controller has not confirmed yet.
MAX_DISRUPTED_PODS = 2000
_RETRIES = 5


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _matching_budgets(pdbs: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    for pdb in pdbs:
        try:
            sel = labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
        except ValueError:
            continue
        # A budget with an empty selector matches nothing here, as in Kubernetes' eviction.
        if not sel.is_empty() and sel.matches(pod_labels):
            out.append(pdb)
    return out


def _too_many(cause: str, retry_after: int | None = None) -> errors.TooManyRequests:
    details: dict[str, Any] = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.TooManyRequests(TOO_MANY, details=details)


async def evict(rest: RestStorage, pod_entry: Any, namespace: str | None, name: str,
                options: dict[str, Any]) -> None:
    from apiserver.registry import table

    pod = await rest.get(pod_entry, namespace, name)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending") or (pod.get("metadata") or {}).get("deletionTimestamp"):
        await rest.delete(pod_entry, namespace, name, options)
        return
    pdb_entry = table.BY_TYPE[rs.PODDISRUPTIONBUDGETS]
    for _ in range(_RETRIES):
        listed = await rest.list(pdb_entry, namespace, ListOptions())
        budgets = _matching_budgets(listed.get("items") or [], pod)
        if not budgets:
            break
        if len(budgets) > 1:
            raise errors.InternalError("This pod has more than one PodDisruptionBudget, which the eviction "
                                       "subresource does not support.")
        pdb = budgets[0]
        status = pdb.get("status") or {}
        if not _ready(pod):
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
            desired = status.get("desiredHealthy") or 0
            if policy == "AlwaysAllow" or ((status.get("currentHealthy") or 0) >= desired and desired > 0):
                break
        pname = pdb["metadata"]["name"]
        if (status.get("observedGeneration") or 0) < (pdb["metadata"].get("generation") or 0):
            raise _too_many(f"The disruption budget {pname} is still being processed by the server.", 10)
        allowed = status.get("disruptionsAllowed") or 0
        if allowed < 0:
            raise errors.Forbidden(f'poddisruptionbudgets.policy "{pname}" is forbidden: pdb disruptions allowed is '
                                   "negative", details={"name": pname, "group": "policy",
                                                        "kind": "poddisruptionbudgets"})
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise errors.Forbidden(f'poddisruptionbudgets.policy "{pname}" is forbidden: DisruptedPods map too big - '
                                   "too many evictions not confirmed by PDB controller",
                                   details={"name": pname, "group": "policy", "kind": "poddisruptionbudgets"})
        if allowed == 0:
            raise _too_many(f"The disruption budget {pname} needs {status.get('desiredHealthy') or 0} healthy pods "
                            f"and has {status.get('currentHealthy') or 0} currently")
        new = copy.deepcopy(pdb)
        nst = new.setdefault("status", {})
        nst["disruptionsAllowed"] = allowed - 1
        nst["disruptedPods"] = {**(status.get("disruptedPods") or {}), name: now_rfc3339()}
        if allowed - 1 == 0:
            conds = [c for c in nst.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
            conds.append({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                          "message": "", "observedGeneration": pdb["metadata"].get("generation"),
                          "lastTransitionTime": now_rfc3339()})
            nst["conditions"] = conds
        try:
            await rest.write_update(pdb_entry, namespace, pname, pdb, new, subresource="status", dry_run=False)
        except errors.Conflict:
            continue  # another eviction spent from this budget: look again
        break
    else:
        raise _too_many("the disruption budget kept changing; try again", 1)
    await rest.delete(pod_entry, namespace, name, options)
