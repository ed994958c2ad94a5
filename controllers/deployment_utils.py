"""Pure functions of the Deployment controller, as Kubernetes'
``pkg/controller/deployment/util/deployment_util.go``.

Revisions and their annotations, the pod-template hash, finding the new and old ReplicaSets,
maxSurge/maxUnavailable arithmetic, proportional scaling, conditions, and the status computed
from a Deployment's ReplicaSets. Everything takes and returns plain Kubernetes JSON dicts and
never talks to the apiserver. They are typed with the views of :mod:`minik8s.api.typed`
(``Deployment``, ``ReplicaSet``): the dicts the informers hold, read as they are.
"""

from __future__ import annotations

import copy
import datetime
import functools
import json
import math
from collections.abc import Iterable, Sequence
from typing import overload

from minik8s import timestamps
from minik8s.api.typed import (
    Deployment,
    DeploymentCondition,
    DeploymentSpec,
    DeploymentStatus,
    ObjectMeta,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetCondition,
    ReplicaSetSpec,
    ReplicaSetStatus,
    RollingUpdateDeployment,
)

# Annotations (k8s.io/kubernetes/pkg/controller/deployment/util).
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH = "pod-template-hash"

# Annotations of a Deployment never copied onto its ReplicaSets.
_SKIP_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})

# The rough cap on the revision-history annotation (Kubernetes' maxRevHistoryLengthInChars).
MAX_REV_HISTORY_CHARS = 2000

# Condition types and reasons.
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"
NEW_RS_CREATED_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"

RECREATE = "Recreate"
ROLLING_UPDATE = "RollingUpdate"

MAX_INT32 = 2**31 - 1


# -- small accessors ------------------------------------------------------------------------

@overload
def spec(obj: Deployment) -> DeploymentSpec: ...
@overload
def spec(obj: ReplicaSet) -> ReplicaSetSpec: ...
def spec(obj: Deployment | ReplicaSet) -> DeploymentSpec | ReplicaSetSpec:
    return obj.get("spec") or {}


# Overlap: a status with none of either kind's keys (``{}``) would match both views; an object
# read from the cluster is one kind, so the overloads say which status its kind has.
@overload
def status(obj: Deployment) -> DeploymentStatus: ...  # type: ignore[overload-overlap]
@overload
def status(obj: ReplicaSet) -> ReplicaSetStatus: ...
def status(obj: Deployment | ReplicaSet) -> DeploymentStatus | ReplicaSetStatus:
    return obj.get("status") or {}


def meta(obj: Deployment | ReplicaSet) -> ObjectMeta:
    return obj.get("metadata") or {}


def replicas(obj: Deployment | ReplicaSet | None) -> int:
    """``spec.replicas`` (1 when unset, as defaulting would have it)."""
    if obj is None:
        return 0
    r = spec(obj).get("replicas")
    return 1 if r is None else int(r)


def annotations_of(obj: Deployment | ReplicaSet) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def uid(obj: Deployment | ReplicaSet | None) -> str | None:
    return None if obj is None else meta(obj).get("uid")


# -- revisions ------------------------------------------------------------------------------

def revision(obj: Deployment | ReplicaSet) -> int:
    """The revision annotation as an int; 0 when absent or malformed."""
    try:
        return int(annotations_of(obj).get(REVISION) or 0)
    except ValueError:
        return 0


def max_revision(rss: Iterable[ReplicaSet]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def last_revision(rss: Iterable[ReplicaSet]) -> int:
    """The second-highest revision (what ``rollout undo`` goes back to)."""
    top = second = 0
    for r in (revision(rs) for rs in rss):
        if r >= top:
            top, second = r, top
        elif r > second:
            second = r
    return second


def set_deployment_revision(d: Deployment, rev: str) -> bool:
    """Set the Deployment's revision annotation; True when it changed."""
    md = d.setdefault("metadata", {})
    ann = md.get("annotations") or {}
    if ann.get(REVISION) == rev:
        return False
    md["annotations"] = {**ann, REVISION: rev}
    return True


def _copy_deployment_annotations(d: Deployment, rs: ReplicaSet) -> bool:
    changed = False
    rs_md = rs.setdefault("metadata", {})
    rs_ann = dict(rs_md.get("annotations") or {})
    for k, v in annotations_of(d).items():
        if k in _SKIP_ANNOTATIONS or rs_ann.get(k) == v:
            continue
        rs_ann[k] = v
        changed = True
    if changed:
        rs_md["annotations"] = rs_ann
    return changed


def set_new_replica_set_annotations(d: Deployment, rs: ReplicaSet, new_revision: str, *, exists: bool,
                                    max_history_chars: int = MAX_REV_HISTORY_CHARS) -> bool:
    """Bring ``rs`` (a copy, changed in place) the Deployment's annotations and the new
    revision; an RS taking a newer revision (a rollback) remembers its old one in
    revision-history. Returns True when anything changed."""
    changed = _copy_deployment_annotations(d, rs)
    rs_md = rs.setdefault("metadata", {})
    ann = dict(rs_md.get("annotations") or {})
    old_rev_s = ann.get(REVISION, "")
    try:
        old_rev = int(old_rev_s or 0)
        new_rev = int(new_revision)
    except ValueError:
        return False
    if old_rev < new_rev:
        ann[REVISION] = new_revision
        changed = True
        if old_rev_s:
            history = [h for h in (ann.get(REVISION_HISTORY) or "").split(",") if h]
            history.append(old_rev_s)
            while len(",".join(history)) > max_history_chars and len(history) > 1:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    rs_md["annotations"] = ann
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_replicas_annotations(rs: ReplicaSet, desired: int, max_replicas: int) -> bool:
    md = rs.setdefault("metadata", {})
    ann = dict(md.get("annotations") or {})
    changed = False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    if changed:
        md["annotations"] = ann
    return changed


def replicas_annotations_need_update(rs: ReplicaSet, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def _int_annotation(rs: ReplicaSet, key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def max_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs, MAX_REPLICAS)


# -- the pod-template hash ------------------------------------------------------------------

_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _prune(value: object) -> object:
    """Drop nulls and empty maps/lists, as Kubernetes' semantic equality ignores nil vs empty."""
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def compute_hash(template: PodTemplateSpec, collision_count: int | None) -> str:
    """A stable, label-safe hash of a pod template and the collision count: fnv-32a of the
    canonical JSON (Kubernetes hashes Go's printing of the struct; any stable encoding will do),
    encoded with Kubernetes' vowel-free alphabet so it never spells a word."""
    data = json.dumps(_prune(template), sort_keys=True, separators=(",", ":")).encode()
    h = _fnv32a(data)
    if collision_count is not None:
        for b in int(collision_count).to_bytes(4, "little", signed=False):
            h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHANUMS[ord(c) % len(_SAFE_ALPHANUMS)] for c in str(h))


def _template_without_hash(template: PodTemplateSpec) -> object:
    t = copy.deepcopy(template or {})
    lbls = (t.get("metadata") or {}).get("labels")
    if lbls:
        lbls.pop(POD_TEMPLATE_HASH, None)
    return _prune(t)


def equal_ignore_hash(a: PodTemplateSpec, b: PodTemplateSpec) -> bool:
    """Two pod templates equal apart from the pod-template-hash label."""
    return _template_without_hash(a) == _template_without_hash(b)


# -- new and old ReplicaSets ----------------------------------------------------------------

def _by_creation(rs: ReplicaSet) -> tuple[str, str]:
    md = meta(rs)
    # RFC 3339 UTC strings sort as times; the name breaks ties, as Kubernetes does.
    return (md.get("creationTimestamp") or "", md.get("name") or "")


def sort_by_creation(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    return sorted(rss, key=_by_creation)


def find_new_replica_set(d: Deployment, rss: Iterable[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash)."""
    template = spec(d).get("template") or {}
    for rs in sort_by_creation(rss):
        if equal_ignore_hash(spec(rs).get("template") or {}, template):
            return rs
    return None


def find_old_replica_sets(d: Deployment, rss: Iterable[ReplicaSet]) -> tuple[list[ReplicaSet], list[ReplicaSet]]:
    """(old RSs with pods wanted, all old RSs)."""
    rs_list = list(rss)
    new = find_new_replica_set(d, rs_list)
    new_uid = uid(new)
    all_old = [rs for rs in rs_list if new is None or uid(rs) != new_uid]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def filter_active(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    """ReplicaSets that want pods."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    """Sum of spec.replicas."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(status(rs).get("replicas") or 0 for rs in rss if rs is not None)


def ready_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(status(rs).get("readyReplicas") or 0 for rs in rss if rs is not None)


def available_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(status(rs).get("availableReplicas") or 0 for rs in rss if rs is not None)


def find_active_or_latest(new: ReplicaSet | None, old: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The one ReplicaSet with pods wanted, or the newest when none has; None when several."""
    if new is None and not old:
        return None
    old_sorted = sorted(old, key=_by_creation, reverse=True)
    active = filter_active([*old_sorted, new])
    if not active:
        return new if new is not None else old_sorted[0]
    if len(active) == 1:
        return active[0]
    return None


# -- rolling-update arithmetic --------------------------------------------------------------

def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An int-or-percent against ``total`` (Kubernetes' GetScaledValueFromIntOrPercent)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        pct = int(s[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(s)


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable): surge rounds up, unavailable down; both 0 → unavailable 1."""
    s = scaled_value(surge, desired, round_up=True)
    u = scaled_value(unavailable, desired, round_up=False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def is_rolling_update(d: Deployment) -> bool:
    return (spec(d).get("strategy") or {}).get("type", ROLLING_UPDATE) == ROLLING_UPDATE


def _rolling(d: Deployment) -> RollingUpdateDeployment:
    return (spec(d).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Deployment) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%"), replicas(d))[0]


def max_unavailable(d: Deployment) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    u = resolve_fenceposts(ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%"), replicas(d))[1]
    return min(u, replicas(d))


def new_rs_new_replicas(d: Deployment, all_rss: Sequence[ReplicaSet | None], new: ReplicaSet | None) -> int:
    """How many replicas the new ReplicaSet may have now."""
    want = replicas(d)
    if not is_rolling_update(d):
        return want
    current = replicas(new) if new is not None else 0
    ru = _rolling(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), want, round_up=True)
    pod_count = replica_count(all_rss)
    max_total = want + surge
    if pod_count >= max_total:
        return current
    scale_up = min(max_total - pod_count, want - current)
    return current + scale_up


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    """The ReplicaSet has all the Deployment's replicas, all of them available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    if desired is None:
        return False
    want = replicas(d)
    return replicas(rs) == want and desired == want and (status(rs).get("availableReplicas") or 0) == want


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def replica_set_fraction(rs: ReplicaSet, d: Deployment) -> int:
    """How much ``rs`` should grow (or shrink) for its share of a scaled Deployment."""
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        # No record of the size the RS was scaled for: assume the Deployment's current total.
        annotated = status(d).get("replicas") or 0
    if annotated == 0:
        return 0
    new_size = replicas(rs) * deployment_replicas / annotated
    return _round_half_away(new_size) - replicas(rs)


def proportion(rs: ReplicaSet | None, d: Deployment, to_add: int, added: int) -> int:
    """The share of ``to_add`` replicas ``rs`` gets, given ``added`` already handed out."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _cmp_size(a: ReplicaSet, b: ReplicaSet, *, newer_first: bool) -> int:
    ra, rb = replicas(a), replicas(b)
    if ra != rb:
        return -1 if ra > rb else 1
    ka, kb = _by_creation(a), _by_creation(b)
    if ka == kb:
        return 0
    if newer_first:
        return -1 if ka > kb else 1
    return -1 if ka < kb else 1


def _cmp_size_newer_first(a: ReplicaSet, b: ReplicaSet) -> int:
    return _cmp_size(a, b, newer_first=True)


def _cmp_size_older_first(a: ReplicaSet, b: ReplicaSet) -> int:
    return _cmp_size(a, b, newer_first=False)


def sort_by_size_newer(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first, newer first among equals (who gets replicas when scaling up)."""
    return sorted(rss, key=functools.cmp_to_key(_cmp_size_newer_first))


def sort_by_size_older(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Largest first, older first among equals (who loses replicas when scaling down)."""
    return sorted(rss, key=functools.cmp_to_key(_cmp_size_older_first))


def sort_by_revision(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Oldest revision first; creation time for equal revisions."""
    return sorted(rss, key=lambda rs: (revision(rs), _by_creation(rs)))


# -- conditions -----------------------------------------------------------------------------

def new_condition(ctype: str, cstatus: str, reason: str, message: str, *, at: datetime.datetime) -> DeploymentCondition:
    t = timestamps.format_time(at)
    return {"type": ctype, "status": cstatus, "lastUpdateTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def get_condition(st: DeploymentStatus, ctype: str) -> DeploymentCondition | None:
    for c in st.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(st: DeploymentStatus, cond: DeploymentCondition) -> None:
    """Set ``cond`` in status ``st`` (in place). Same status and reason: no change at all;
    same status, new reason: keep the transition time."""
    current = get_condition(st, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond.get("reason"):
        return
    cond = cond.copy()
    if current is not None and current.get("status") == cond["status"] \
            and (since := current.get("lastTransitionTime")) is not None:
        cond["lastTransitionTime"] = since
    st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(st: DeploymentStatus, ctype: str) -> None:
    conds = [c for c in st.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        st["conditions"] = conds
    else:
        st.pop("conditions", None)


def rs_condition_to_deployment(c: ReplicaSetCondition) -> DeploymentCondition:
    """The ReplicaSet's condition as the Deployment's (its transition time is both times); the
    fields the ReplicaSet's condition lacks stay unset."""
    out: DeploymentCondition = {"type": c.get("type", ""), "status": c.get("status", "")}
    if (t := c.get("lastTransitionTime")) is not None:
        out["lastUpdateTime"] = out["lastTransitionTime"] = t
    if (reason := c.get("reason")) is not None:
        out["reason"] = reason
    if (message := c.get("message")) is not None:
        out["message"] = message
    return out


def has_progress_deadline(d: Deployment) -> bool:
    pds = spec(d).get("progressDeadlineSeconds")
    return pds is not None and pds != MAX_INT32


# -- status ---------------------------------------------------------------------------------

def calculate_status(all_rss: Sequence[ReplicaSet | None], new: ReplicaSet | None, d: Deployment, *,
                     at: datetime.datetime) -> DeploymentStatus:
    """The Deployment status its ReplicaSets imply, keeping its other conditions."""
    rss = [rs for rs in all_rss if rs is not None]
    available = available_replica_count(rss)
    total = replica_count(rss)
    unavailable = max(total - available, 0)
    old = status(d)
    st: DeploymentStatus = {
        "observedGeneration": meta(d).get("generation") or 0,
        "replicas": actual_replica_count(rss),
        "updatedReplicas": actual_replica_count([new]),
        "readyReplicas": ready_replica_count(rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if old.get("collisionCount") is not None:
        st["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        st["conditions"] = [c.copy() for c in old["conditions"]]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(st, new_condition(AVAILABLE, "True", MIN_AVAILABLE_REASON,
                                        "Deployment has minimum availability.", at=at))
    else:
        set_condition(st, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE_REASON,
                                        "Deployment does not have minimum availability.", at=at))
    return st


def deployment_complete(d: Deployment, st: DeploymentStatus) -> bool:
    """Every replica updated and available, and the latest spec observed."""
    want = replicas(d)
    return ((st.get("updatedReplicas") or 0) == want and (st.get("replicas") or 0) == want
            and (st.get("availableReplicas") or 0) == want
            and (st.get("observedGeneration") or 0) >= (meta(d).get("generation") or 0))


def deployment_progressing(d: Deployment, st: DeploymentStatus) -> bool:
    """The new status shows progress over the Deployment's current one."""
    old = status(d)
    old_old = (old.get("replicas") or 0) - (old.get("updatedReplicas") or 0)
    new_old = (st.get("replicas") or 0) - (st.get("updatedReplicas") or 0)
    return ((st.get("updatedReplicas") or 0) > (old.get("updatedReplicas") or 0) or new_old < old_old
            or (st.get("readyReplicas") or 0) > (old.get("readyReplicas") or 0)
            or (st.get("availableReplicas") or 0) > (old.get("availableReplicas") or 0))


def deployment_timed_out(d: Deployment, st: DeploymentStatus, *, at: datetime.datetime) -> bool:
    """No progress for progressDeadlineSeconds since the Progressing condition last moved."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(st, PROGRESSING)
    if cond is None:
        return False
    if cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = timestamps.parse(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + datetime.timedelta(seconds=spec(d)["progressDeadlineSeconds"]) < at


def status_equal(a: DeploymentStatus, b: DeploymentStatus) -> bool:
    return _prune(a) == _prune(b)


def template_rs_name(d: Deployment, hash_: str) -> str:
    return f"{meta(d)['name']}-{hash_}"
