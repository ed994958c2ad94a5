"""Pure functions of the CronJob controller, as Kubernetes' ``pkg/controller/cronjob/utils.go``:
which scheduled time is due (at most one, the most recent, however many were missed), when to
look again, and the Job a scheduled time creates.

Nothing here talks to the apiserver; times are aware datetimes passed in, so missed runs and
restarts are tested against a fake clock.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any, cast

from controllers import controller_utils as cu
from controllers import job_utils as ju
from minik8s import cron, timestamps
from minik8s.api.typed import CronJob, Job, ObjectReference

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# Past this many missed start times the controller warns (TooManyMissedTimes).
MANY_MISSED = 100
# Kubernetes' nextScheduleDelta: look again a little after the schedule, never just before.
NEXT_SCHEDULE_DELTA = 0.1


def most_recent_schedule_time(cj: CronJob, now: datetime.datetime, sched: cron.Schedule, zone: datetime.tzinfo,
                              *, include_starting_deadline: bool = True) -> tuple[datetime.datetime | None, int]:
    """The most recent scheduled time not yet run (None when none is due) and how many were
    missed, counting from ``lastScheduleTime`` (else creation), or from ``now -
    startingDeadlineSeconds`` when that is later: a controller down for a day starts one Job,
    not one per missed minute, and none whose deadline passed."""
    md, spec, status = cu.meta(cj), cj.get("spec") or {}, cj.get("status") or {}
    earliest = timestamps.parse(status.get("lastScheduleTime")) or timestamps.parse(md.get("creationTimestamp")) or now
    sds = spec.get("startingDeadlineSeconds")
    if include_starting_deadline and sds is not None:
        deadline = now - datetime.timedelta(seconds=sds)
        if deadline > earliest:
            earliest = deadline
    t = sched.next(earliest, zone)
    if t is None or t > now:
        return None, 0
    missed = 1
    while True:
        n = sched.next(t, zone)
        if n is None or n > now:
            return t, missed
        t, missed = n, missed + 1
        if missed > MANY_MISSED:
            # Jump by the schedule's period as Kubernetes does, then walk the rest.
            period = (sched.next(n, zone) or n) - n
            if period.total_seconds() >= 1:
                skip = int((now - t).total_seconds() // period.total_seconds())
                if skip > 1:
                    t = t + period * (skip - 1)
                    missed += skip - 1


def next_schedule_delay(cj: CronJob, now: datetime.datetime, sched: cron.Schedule, zone: datetime.tzinfo) -> float | None:
    """Seconds until the next scheduled time after ``now`` (plus a small delta)."""
    n = sched.next(now, zone)
    if n is None:
        return None
    return max(0.0, (n - now).total_seconds()) + NEXT_SCHEDULE_DELTA


def job_name(cj: CronJob, scheduled: datetime.datetime) -> str:
    """``<cronjob>-<minutes since the epoch>``: the same name for the same scheduled time, so a
    second controller (or a restart) cannot run it twice."""
    return f"{cu.meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: CronJob, scheduled: datetime.datetime, zone: datetime.tzinfo) -> dict[str, Any]:
    jt = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmd = jt.get("metadata") or {}
    md: dict[str, Any] = {"name": job_name(cj, scheduled), "namespace": cu.meta(cj).get("namespace"),
                          "labels": dict(tmd.get("labels") or {}),
                          "annotations": {**(tmd.get("annotations") or {}),
                                          SCHEDULED_TIMESTAMP: go_rfc3339(scheduled.astimezone(zone))},
                          "ownerReferences": [cu.new_controller_ref(cj)]}
    if not md["labels"]:
        del md["labels"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": copy.deepcopy(jt.get("spec") or {})}


def go_rfc3339(t: datetime.datetime) -> str:
    """Go's ``time.RFC3339`` in the time's own zone: ``Z`` for UTC, else ``+01:00``."""
    text = t.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_ref(job: Job) -> ObjectReference:
    md = cu.meta(job)
    # A created Job has all these; a missing one is sent as null, as before (hence the cast).
    return cast(ObjectReference, {"kind": "Job", "namespace": md.get("namespace"), "name": md.get("name"), "uid": md.get("uid"),
            "apiVersion": "batch/v1", "resourceVersion": md.get("resourceVersion")})


def in_active_list(cj: CronJob, uid: str | None) -> bool:
    return any(r.get("uid") == uid for r in (cj.get("status") or {}).get("active") or [])


def finished_condition_type(job: Job) -> str | None:
    for ctype in (ju.COMPLETE, ju.FAILED):
        if ju.has_condition(job, ctype):
            return ctype
    return None


def jobs_to_delete(jobs: list[Job], limit: int | None) -> list[Job]:
    """The oldest finished ``jobs`` beyond ``limit`` (ordered by start time, unstarted first)."""
    if limit is None or len(jobs) <= limit:
        return []
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)

    def start(j: Job) -> tuple[datetime.datetime, str]:
        return (timestamps.parse((j.get("status") or {}).get("startTime")) or epoch, cu.meta(j).get("name", ""))

    return sorted(jobs, key=start)[:len(jobs) - limit]
