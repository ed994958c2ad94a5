"""Pure rules of the Job and CronJob controllers: the failure back-off, wanted pods, indexes,
conditions, and which scheduled time is due after missed runs (fake times throughout)."""

from __future__ import annotations

import datetime

from controllers import cronjob_utils as cju
from controllers import job_utils as ju
from minik8s import cron

T = datetime.datetime(2026, 12, 4, 10, 0, 0, tzinfo=datetime.UTC)


def pod(phase: str, finished_s: float) -> dict:
    t = (T + datetime.timedelta(seconds=finished_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"name": "p"}, "status": {"phase": phase, "containerStatuses": [
        {"name": "main", "state": {"terminated": {"exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": t}}}]}}


def test_backoff_doubles_per_failure_since_the_last_success_and_is_capped():
    assert ju.backoff_remaining([], T) == 0
    assert ju.backoff_remaining([pod("Failed", 0)], T) == 10
    assert ju.backoff_remaining([pod("Failed", 0), pod("Failed", 0)], T + datetime.timedelta(seconds=5)) == 15
    assert ju.backoff_remaining([pod("Failed", 0)] * 3, T) == 40
    assert ju.backoff_remaining([pod("Failed", 0)] * 12, T) == 360  # the 6-minute cap
    # A success resets the count: only the failure after it counts.
    assert ju.backoff_remaining([pod("Failed", 0), pod("Failed", 1), pod("Succeeded", 2), pod("Failed", 3)],
                                T + datetime.timedelta(seconds=3)) == 10
    assert ju.backoff_remaining([pod("Failed", 0)], T + datetime.timedelta(seconds=11)) == 0


def test_want_active():
    job = {"spec": {"parallelism": 2, "completions": 5}}
    assert ju.want_active(job, 0, 0) == 2
    assert ju.want_active(job, 4, 1) == 1
    assert ju.want_active(job, 5, 0) == 0
    queue = {"spec": {"parallelism": 3}}
    assert ju.want_active(queue, 0, 0) == 3
    assert ju.want_active(queue, 1, 2) == 2  # after one success: leave the running ones, start none


def test_indexes_format_as_kubernetes_does():
    assert ju.format_indexes([7, 1, 3, 4, 5]) == "1,3-5,7"
    assert ju.format_indexes([0, 1]) == "0,1"
    assert ju.parse_indexes("1,3-5,7", 6) == {1, 3, 4, 5}


def test_ensure_condition_adds_only_true_conditions():
    conds, changed = ju.ensure_condition([], "Suspended", "False", "JobResumed", "Job resumed", T)
    assert (conds, changed) == ([], False)
    conds, changed = ju.ensure_condition([], "Suspended", "True", "JobSuspended", "Job suspended", T)
    assert changed and conds[0]["lastTransitionTime"] == "2026-12-04T10:00:00Z"
    conds, changed = ju.ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", T)
    assert changed and conds[0]["status"] == "False"


def cj(created: datetime.datetime, **spec) -> dict:
    return {"metadata": {"name": "c", "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")}, "spec": spec,
            "status": {}}


def test_missed_runs_give_one_catch_up_the_most_recent():
    sched = cron.parse("*/5 * * * *")
    utc = datetime.UTC
    t, missed = cju.most_recent_schedule_time(cj(T), T + datetime.timedelta(hours=3, minutes=2), sched, utc)
    assert t == T + datetime.timedelta(hours=3) and missed == 36
    t, missed = cju.most_recent_schedule_time(cj(T), T + datetime.timedelta(minutes=4), sched, utc)
    assert t is None and missed == 0
    # A starting deadline moves the earliest time considered: nothing older than it is due.
    t, _ = cju.most_recent_schedule_time(cj(T, startingDeadlineSeconds=60),
                                         T + datetime.timedelta(minutes=7), sched, utc)
    assert t is None
    # Over a hundred missed: still one answer, the latest.
    t, missed = cju.most_recent_schedule_time(cj(T), T + datetime.timedelta(days=2), cron.parse("* * * * *"), utc)
    assert t == T + datetime.timedelta(days=2) and missed > cju.MANY_MISSED


def test_job_name_and_scheduled_timestamp():
    job = cju.job_from_template({**cj(T), "apiVersion": "batch/v1", "kind": "CronJob",
                                 "metadata": {"name": "c", "namespace": "d", "uid": "u"},
                                 "spec": {"jobTemplate": {"spec": {"template": {}}}}},
                                T, cron.load_zone("Europe/Paris"))
    assert job["metadata"]["name"] == f"c-{int(T.timestamp()) // 60}"
    assert job["metadata"]["annotations"][cju.SCHEDULED_TIMESTAMP] == "2026-12-04T11:00:00+01:00"
