"""Pure functions of the Job controller, as Kubernetes' ``pkg/controller/job`` computes them:
conditions, the pod back-off after failures, the pod failure policy, completion indexes, how
many pods should run, and the pods a Job creates (labels, index, hostname, env).

Nothing here talks to the apiserver: each function takes the Job and its pods (the JSON dicts the
informers hold, read through :mod:`minik8s.api.typed`'s views) and a moment (``at``), so each rule
is tested on its own and against a fake clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from controllers import controller_utils as cu
from minik8s import timestamps
from minik8s.api.typed import Job, JobCondition, JobStatus, Pod, PodFailurePolicyOnExitCodesRequirement

# Condition types and reasons (k8s.io/api/batch/v1).
COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"

REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
REASON_DEADLINE = "DeadlineExceeded"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_COMPLETIONS_REACHED = "CompletionsReached"
MSG_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"
MSG_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"

# Labels and annotations of a Job's pods.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"

# Pod failure back-off: 10 s doubling per failure since the last success, capped at 6 minutes.
DEFAULT_POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 360.0


# -- conditions ------------------------------------------------------------------------------

def condition(job: Job, ctype: str) -> JobCondition | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def has_condition(job: Job, ctype: str) -> bool:
    c = condition(job, ctype)
    return c is not None and c.get("status") == "True"


def is_finished(job: Job) -> bool:
    return has_condition(job, COMPLETE) or has_condition(job, FAILED)


def finish_time(job: Job) -> datetime.datetime | None:
    """When the Job's Complete or Failed condition became True."""
    for ctype in (COMPLETE, FAILED):
        c = condition(job, ctype)
        if c is not None and c.get("status") == "True":
            return timestamps.parse(c.get("lastTransitionTime"))
    return None


def new_condition(ctype: str, status: str, reason: str, message: str, at: datetime.datetime) -> JobCondition:
    t = timestamps.format_time(at)
    return {"type": ctype, "status": status, "lastProbeTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def ensure_condition(conditions: list[JobCondition], ctype: str, status: str, reason: str, message: str,
                     at: datetime.datetime) -> tuple[list[JobCondition], bool]:
    """``ensureJobConditionStatus``: set the condition to ``status`` (adding it only when True),
    returning the new list and whether anything changed."""
    out = [c.copy() for c in conditions]
    for c in out:
        if c.get("type") == ctype:
            if c.get("status") == status and c.get("reason") == reason and c.get("message") == message:
                return out, False
            c.update(new_condition(ctype, status, reason, message, at))
            return out, True
    if status == "True":
        out.append(new_condition(ctype, status, reason, message, at))
        return out, True
    return out, False


# -- pods ------------------------------------------------------------------------------------

def phase(pod: Pod) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_terminating(pod: Pod) -> bool:
    return bool(cu.meta(pod).get("deletionTimestamp")) and phase(pod) not in ("Succeeded", "Failed")


def pod_finish_time(pod: Pod) -> datetime.datetime | None:
    """The latest container finish time, else the Ready condition's transition, else creation."""
    st = pod.get("status") or {}
    latest: datetime.datetime | None = None
    for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
        t = timestamps.parse(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    if latest is not None:
        return latest
    ready = cu.pod_ready_condition(pod)
    if ready is not None:
        t = timestamps.parse(ready.get("lastTransitionTime"))
        if t is not None:
            return t
    return timestamps.parse(cu.meta(pod).get("creationTimestamp"))


def backoff_remaining(pods: Iterable[Pod], at: datetime.datetime, *,
                      base: float = DEFAULT_POD_FAILURE_BACKOFF, cap: float = MAX_POD_FAILURE_BACKOFF) -> float:
    """Seconds before the Job may create pods again: ``base * 2^(n-1)`` (at most ``cap``) after the
    last failure, ``n`` counting the failures since the last success (Kubernetes' backoffRecord)."""
    last_success: datetime.datetime | None = None
    failures: list[datetime.datetime] = []
    for p in pods:
        t = pod_finish_time(p)
        if t is None:
            continue
        if phase(p) == "Succeeded":
            if last_success is None or t > last_success:
                last_success = t
        elif phase(p) == "Failed":
            failures.append(t)
    recent = [t for t in failures if last_success is None or t > last_success]
    if not recent:
        return 0.0
    delay = min(cap, base * 2.0 ** (len(recent) - 1))
    elapsed = (at - max(recent)).total_seconds()
    return max(0.0, delay - elapsed)


def restarts(pods: Iterable[Pod]) -> int:
    total = 0
    for p in pods:
        st = p.get("status") or {}
        for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
            total += cs.get("restartCount") or 0
    return total


def past_backoff_limit_on_failure(job: Job, active: Sequence[Pod]) -> bool:
    """restartPolicy OnFailure: the kubelet restarts containers in place, and the restarts of the
    active pods count against backoffLimit."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    limit = spec.get("backoffLimit", 6)
    total = restarts(p for p in active if phase(p) in ("Pending", "Running", ""))
    return total > 0 if limit == 0 else total >= limit


def past_active_deadline(job: Job, at: datetime.datetime) -> bool:
    remaining = deadline_remaining(job, at)
    return remaining is not None and remaining <= 0


def deadline_remaining(job: Job, at: datetime.datetime) -> float | None:
    ads = (job.get("spec") or {}).get("activeDeadlineSeconds")
    start = timestamps.parse((job.get("status") or {}).get("startTime"))
    if ads is None or start is None:
        return None
    return ads - (at - start).total_seconds()


# -- pod failure policy ------------------------------------------------------------------------

def _exit_codes_match(req: PodFailurePolicyOnExitCodesRequirement, pod: Pod) -> tuple[str, int] | None:
    st = pod.get("status") or {}
    values = set(req.get("values") or [])
    op = req.get("operator")
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        if req.get("containerName") and cs.get("name") != req["containerName"]:
            continue
        term = (cs.get("state") or {}).get("terminated")
        if not term:
            continue
        code = term.get("exitCode", 0)
        if code == 0:
            continue  # successful containers are excluded
        if (op == "In" and code in values) or (op == "NotIn" and code not in values):
            return cs.get("name", ""), code
    return None


def match_pod_failure_policy(job: Job, pod: Pod) -> tuple[str | None, str | None]:
    """The action of the first rule matching a failed pod, and (for FailJob) the message of the
    Failed condition; (None, None) when no rule matches (the failure counts)."""
    pfp = (job.get("spec") or {}).get("podFailurePolicy")
    if not pfp:
        return None, None
    md = cu.meta(pod)
    conds = {(c.get("type"), c.get("status")) for c in (pod.get("status") or {}).get("conditions") or []}
    for i, rule in enumerate(pfp.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            hit = _exit_codes_match(rule["onExitCodes"], pod)
            if hit is not None:
                msg = (f"Container {hit[0]} for pod {md.get('namespace')}/{md.get('name')} failed with exit code "
                       f"{hit[1]} matching {action} rule at index {i}")
                return action, msg
        for pat in rule.get("onPodConditions") or []:
            if (pat.get("type"), pat.get("status", "True")) in conds:
                msg = (f"Pod {md.get('namespace')}/{md.get('name')} has condition {pat.get('type')} matching "
                       f"{action} rule at index {i}")
                return action, msg
    return None, None


# -- indexes ---------------------------------------------------------------------------------

def pod_index(pod: Pod) -> int | None:
    md = cu.meta(pod)
    raw = (md.get("annotations") or {}).get(COMPLETION_INDEX) or (md.get("labels") or {}).get(COMPLETION_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def format_indexes(indexes: Iterable[int]) -> str:
    """``1,3-5,7``: sorted, with runs of three or more written as a range."""
    xs = sorted(set(indexes))
    out: list[str] = []
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        if j - i >= 2:
            out.append(f"{xs[i]}-{xs[j]}")
        else:
            out.extend(str(x) for x in xs[i:j + 1])
        i = j + 1
    return ",".join(out)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(x for x in range(a, b + 1) if x < completions)
    return out


# -- how many pods -----------------------------------------------------------------------------

def want_active(job: Job, succeeded: int, active: int) -> int:
    """How many pods should run now (Kubernetes' manageJob)."""
    spec = job.get("spec") or {}
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if completions is None:
        # A work queue: once one pod succeeded, leave the running ones be and start none.
        return active if succeeded > 0 else parallelism
    return max(0, min(parallelism, completions - succeeded))


def pod_for_job(job: Job, index: int | None) -> dict[str, Any]:
    """A new pod of ``job`` (for ``index`` when Indexed): the template's labels and spec, the
    controller reference, and for an index its annotation, label, hostname and env."""
    pod = cu.pod_from_template((job.get("spec") or {}).get("template") or {}, job)
    if index is None:
        return pod
    name = cu.meta(job)["name"]
    md = pod["metadata"]
    md["generateName"] = f"{name}-{index}-"
    md["annotations"] = {**(md.get("annotations") or {}), COMPLETION_INDEX: str(index)}
    md["labels"] = {**(md.get("labels") or {}), COMPLETION_INDEX: str(index)}
    spec = pod["spec"]
    if not spec.get("hostname"):
        spec["hostname"] = f"{name}-{index}"
    env_ref = {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            env = [e for e in c.get("env") or [] if e.get("name") != COMPLETION_INDEX_ENV]
            c["env"] = env + [env_ref]
    return pod


_STATUS_FIELDS = ("active", "succeeded", "failed", "ready", "terminating", "startTime", "completionTime",
                  "completedIndexes", "conditions")


def status_unchanged(job: Job, status: JobStatus) -> bool:
    old = job.get("status") or {}
    return all(old.get(f) == status.get(f) for f in _STATUS_FIELDS)
