"""Puts the default RBAC roles and bindings in place when the apiserver starts, and keeps them
there, as Kubernetes' ``rbac/bootstrap-roles`` post-start hook does.

For each default object (``apiserver/auth/bootstrap_policy.py``: the ClusterRoles and
ClusterRoleBindings, and the Roles and RoleBindings of kube-system and kube-public):

* missing → created;
* present with ``rbac.authorization.kubernetes.io/autoupdate: "false"`` → left alone;
* present otherwise → reconciled additively: the default labels and annotations are added,
  missing rules (or aggregation selectors) are added, missing subjects are added; nothing the
  cluster's admin added is taken away. A binding whose ``roleRef`` differs (immutable) is
  deleted and created again.

Several apiservers sharing a store may do this at once: a conflict or an AlreadyExists just
means another one got there first, and the object is read again.
"""

from __future__ import annotations

import logging
from typing import Any

from apiserver import errors
from apiserver.auth import bootstrap_policy as policy
from apiserver.registry import table
from minik8s.api import resources as rs

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver"


def _merged_meta(current: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    md = dict(current["metadata"])
    for f in ("labels", "annotations"):
        merged = {**(md.get(f) or {}), **{k: v for k, v in (want["metadata"].get(f) or {}).items()
                                          if k not in (md.get(f) or {})}}
        if merged:
            md[f] = merged
    return md


def _union(have: list[Any] | None, want: list[Any] | None) -> list[Any]:
    out = list(have or [])
    out += [x for x in want or [] if x not in out]
    return out


def reconcile_role(current: dict[str, Any], want: dict[str, Any]) -> dict[str, Any] | None:
    """The role updated to hold at least ``want``; None when nothing is missing."""
    new = {**current, "metadata": _merged_meta(current, want)}
    if want.get("aggregationRule"):
        have_sel = (current.get("aggregationRule") or {}).get("clusterRoleSelectors")
        new["aggregationRule"] = {"clusterRoleSelectors": _union(have_sel,
                                                                  want["aggregationRule"]["clusterRoleSelectors"])}
    else:
        new["rules"] = _union(current.get("rules"), want.get("rules"))
    return None if new == current else new


def reconcile_binding(current: dict[str, Any], want: dict[str, Any]) -> dict[str, Any] | None:
    new = {**current, "metadata": _merged_meta(current, want),
           "subjects": _union(current.get("subjects"), want.get("subjects"))}
    if not new["subjects"] and "subjects" not in current:
        del new["subjects"]
    return None if new == current else new


async def ensure(rest: Any) -> None:
    """Create or reconcile every default role and binding through ``rest`` (a RestStorage)."""
    roles = table.BY_TYPE[rs.CLUSTERROLES]
    bindings = table.BY_TYPE[rs.CLUSTERROLEBINDINGS]
    for want in policy.cluster_roles():
        await _ensure_one(rest, roles, want, reconcile_role)
    for want in policy.cluster_role_bindings():
        await _ensure_one(rest, bindings, want, reconcile_binding)
    # kube-system's and kube-public's own (the apiserver made both namespaces before this)
    for want in policy.namespace_roles():
        await _ensure_one(rest, table.BY_TYPE[rs.ROLES], want, reconcile_role)
    for want in policy.namespace_role_bindings():
        await _ensure_one(rest, table.BY_TYPE[rs.ROLEBINDINGS], want, reconcile_binding)


async def _ensure_one(rest: Any, entry: Any, want: dict[str, Any], reconcile: Any) -> None:
    name, ns = want["metadata"]["name"], want["metadata"].get("namespace")
    for _ in range(5):
        try:
            current = await rest.get(entry, ns, name)
        except errors.NotFound:
            try:
                await rest.create(entry, ns, want, field_manager=MANAGER)
                return
            except errors.AlreadyExists:
                continue
        if (current["metadata"].get("annotations") or {}).get(policy.AUTOUPDATE) == "false":
            return
        if "roleRef" in want and current.get("roleRef") != want["roleRef"]:
            log.warning("%s %s names %s, not %s: recreating it", entry.type.kind, name, current.get("roleRef"),
                        want["roleRef"])
            try:
                await rest.delete(entry, ns, name, {"preconditions": {"uid": current["metadata"]["uid"]}})
            except (errors.NotFound, errors.Conflict):
                pass
            continue
        new = reconcile(current, want)
        if new is None:
            return
        try:
            await rest.update(entry, ns, name, new, field_manager=MANAGER)
            return
        except (errors.Conflict, errors.NotFound):
            continue
    log.warning("could not reconcile %s %s: it kept changing", entry.type.kind, name)
