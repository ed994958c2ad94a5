"""Pure functions of the StatefulSet controller, as Kubernetes' ``pkg/controller/statefulset/
stateful_set_utils.go``: a pod's ordinal, the pod and the claims made for an ordinal (stable
name, hostname, subdomain, identity labels, one PersistentVolumeClaim per claim template named
``<template>-<set>-<ordinal>``), health, and the status.

Nothing here talks to the apiserver.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

from controllers import controller_utils as cu
from controllers import daemonset_utils as du
from minik8s.api import typed

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = du.HASH_LABEL

_ORDINAL = re.compile(r"^(.*)-(\d+)$")


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return ((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0


def ordinal_of(pod: Mapping[str, Any], set_name: str) -> int | None:
    """The ordinal in ``<set>-<ordinal>``; None for a pod not named so."""
    m = _ORDINAL.match((pod.get("metadata") or {}).get("name") or "")
    if m is None or m.group(1) != set_name:
        return None
    return int(m.group(2))


def pod_name(set_name: str, ordinal: int) -> str:
    return f"{set_name}-{ordinal}"


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


def revision_of(pod: Mapping[str, Any]) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL) or ""


def new_pod(sts: Mapping[str, Any], template: Mapping[str, Any], ordinal: int, revision: str) -> dict[str, Any]:
    """The pod for ``ordinal`` from ``template`` (the set's, or an older revision's)."""
    name = pod_name(cu.meta(sts)["name"], ordinal)
    pod = cu.pod_from_template(dict(template), sts)
    md = pod["metadata"]
    del md["generateName"]
    md["name"] = name
    md["labels"] = {**(md.get("labels") or {}), POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                    REVISION_LABEL: revision}
    spec = pod["spec"]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    if claims:
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        for c in claims:
            tname = (c.get("metadata") or {}).get("name") or ""
            volumes[tname] = {"name": tname, "persistentVolumeClaim": {
                "claimName": claim_name(tname, cu.meta(sts)["name"], ordinal)}}
        spec["volumes"] = list(volumes.values())
    return pod


def new_claims(sts: Mapping[str, Any], ordinal: int) -> list[dict[str, Any]]:
    """The claims of ``ordinal``: labelled with the set's selector labels; owned by the set when
    ``whenDeleted: Delete`` (the garbage collector then removes them with it)."""
    md = cu.meta(sts)
    spec = sts.get("spec") or {}
    sel_labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
    delete_with_set = ((spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete")
    out = []
    for c in spec.get("volumeClaimTemplates") or []:
        cmd = c.get("metadata") or {}
        claim_md: dict[str, Any] = {"name": claim_name(cmd.get("name") or "", md["name"], ordinal),
                                    "namespace": md.get("namespace"),
                                    "labels": {**(cmd.get("labels") or {}), **sel_labels}}
        if cmd.get("annotations"):
            claim_md["annotations"] = dict(cmd["annotations"])
        if delete_with_set:
            ref = cu.new_controller_ref(sts)
            claim_md["ownerReferences"] = [ref]
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_md,
                    "spec": copy.deepcopy(c.get("spec") or {})})
    return out


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return ((pod.get("status") or {}).get("phase") == "Running" and cu.is_pod_ready(typed.pod(pod))
            and not cu.meta(pod).get("deletionTimestamp"))


def is_finished(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def calculate_status(pods: Iterable[typed.Pod], current: str, update: str, min_ready: int,
                     at: datetime.datetime) -> typed.StatefulSetStatus:
    replicas = ready = available = cur = upd = 0
    for p in pods:
        replicas += 1
        if is_running_and_ready(p):
            ready += 1
            if cu.is_pod_available(p, min_ready, at):
                available += 1
        rev = revision_of(p)
        if rev == current:
            cur += 1
        if rev == update:
            upd += 1
    return {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available,
            "currentReplicas": cur, "updatedReplicas": upd}
