"""CronJobs on a real apiserver: validation (a malformed cron line names the field and the bad
token; time zones), the CronJob controller's ``sync(key)`` against a fake clock (a Job per
scheduled time, named by it; at most one catch-up run after a restart, none past the starting
deadline; Forbid and Replace; history limits), and the real kubectl (protobuf ``create``,
``create job --from=cronjob``, printed columns, explain).
"""

from __future__ import annotations

import datetime

import pytest

from controllers.cronjob import CronJobController
from minik8s import errors, timestamps
from minik8s.api.resources import CRONJOBS, JOBS
from tests.integration.job_helpers import Clock, cached, events, namespace, sync, synced
from tests.waiting import eventually


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as pair:
        yield pair


def cronjob(name: str, schedule: str = "*/5 * * * *", **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{"name": "main", "image": "minik8s/busybox:latest", "command": ["true"]}]}}}},
                     **spec}}


@pytest.mark.parametrize("spec, field, message", [
    ({"schedule": "* * * *"}, "spec.schedule", 'Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]'),
    ({"schedule": "*/5 25 * * *"}, "spec.schedule", "end of range (25) above maximum (23): 25"),
    ({"schedule": "0 0 * foo *"}, "spec.schedule", 'failed to parse int from foo'),
    ({"schedule": "TZ=UTC 0 * * * *"}, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    ({"timeZone": "Mars/Olympus"}, "spec.timeZone", 'Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    ({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy", 'Unsupported value: "Sometimes"'),
    ({"startingDeadlineSeconds": -1}, "spec.startingDeadlineSeconds", "must be greater than or equal to 0"),
])
async def test_invalid_cronjobs_are_refused_naming_the_field(ns, spec, field, message):
    client, n = ns
    body = cronjob("bad")
    body["spec"].update(spec)
    with pytest.raises(errors.Invalid) as e:
        await client.create(CRONJOBS, body, namespace=n)
    assert any(c.get("field") == field and message in c.get("message", "") for c in e.value.causes), e.value.causes


async def test_defaults_and_macros(ns):
    client, n = ns
    cj = await client.create(CRONJOBS, cronjob("nightly", "@daily", timeZone="Europe/Paris"), namespace=n)
    s = cj["spec"]
    assert (s["concurrencyPolicy"], s["suspend"], s["successfulJobsHistoryLimit"], s["failedJobsHistoryLimit"]) == (
        "Allow", False, 3, 1)


def _at(created: dict, minutes: float) -> datetime.datetime:
    return timestamps.parse(created["metadata"]["creationTimestamp"]) + datetime.timedelta(minutes=minutes)


async def _jobs(client, n):
    return (await client.list(JOBS, namespace=n))["items"]


async def test_a_job_per_scheduled_time_named_by_it(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        created = await client.create(CRONJOBS, cronjob("tick", "* * * * *"), namespace=n)
        key = f"{n}/tick"
        await cached(ctrl.cj_informer.store, key, lambda c: True, "cronjob cached")
        clock.at = _at(created, 0)
        await sync(ctrl, key)
        assert await _jobs(client, n) == [], "nothing is due before the first minute"
        clock.at = _at(created, 1)
        await sync(ctrl, key)
        jobs = await _jobs(client, n)
        assert len(jobs) == 1
        scheduled = timestamps.parse(created["metadata"]["creationTimestamp"]).replace(second=0) + datetime.timedelta(minutes=1)
        assert jobs[0]["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
        assert jobs[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
            timestamps.format_time(scheduled)
        ref = jobs[0]["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "tick", True)
        cj = await client.get(CRONJOBS, "tick", namespace=n)
        assert cj["status"]["lastScheduleTime"] == timestamps.format_time(scheduled)
        assert [a["name"] for a in cj["status"]["active"]] == [jobs[0]["metadata"]["name"]]
        # The same moment again (a duplicate wake-up) creates nothing more.
        await cached(ctrl.cj_informer.store, key, lambda c: (c.get("status") or {}).get("lastScheduleTime"), "status")
        await sync(ctrl, key)
        assert len(await _jobs(client, n)) == 1
        await eventually(lambda: events(client, n, "SuccessfulCreate"), what="SuccessfulCreate event")


async def test_after_a_long_outage_only_the_most_recent_missed_run_starts(ns):
    client, n = ns
    clock = Clock()
    created = await client.create(CRONJOBS, cronjob("catchup", "*/5 * * * *"), namespace=n)
    key = f"{n}/catchup"
    # A controller-manager coming back three hours later: 36 runs were missed.
    clock.at = _at(created, 180)
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        await cached(ctrl.cj_informer.store, key, lambda c: True, "cronjob cached")
        await sync(ctrl, key)
    jobs = await _jobs(client, n)
    assert len(jobs) == 1
    ts = jobs[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    t = timestamps.parse(ts)
    assert t.minute % 5 == 0 and clock.at - datetime.timedelta(minutes=5) < t <= clock.at


async def test_no_run_past_the_starting_deadline(ns):
    client, n = ns
    clock = Clock()
    created = await client.create(CRONJOBS, cronjob("strict", "0 * * * *", startingDeadlineSeconds=60), namespace=n)
    key = f"{n}/strict"
    # The controller was down over the full hour and is back 3 minutes after it.
    first = timestamps.parse(created["metadata"]["creationTimestamp"]).replace(minute=0, second=0) + datetime.timedelta(hours=1)
    clock.at = first + datetime.timedelta(minutes=3)
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        await cached(ctrl.cj_informer.store, key, lambda c: True, "cronjob cached")
        await sync(ctrl, key)
        assert await _jobs(client, n) == []
        # Back within the deadline of the next hour: it runs.
        clock.at = first + datetime.timedelta(hours=1, seconds=30)
        await sync(ctrl, key)
    assert len(await _jobs(client, n)) == 1


async def _finish_job(client, job: dict, ctype: str, at: datetime.datetime) -> None:
    t = timestamps.format_time(at)
    status = {"startTime": t, "conditions": [{"type": ctype, "status": "True", "lastTransitionTime": t}]}
    if ctype == "Complete":
        status["completionTime"] = t
        status["succeeded"] = 1
    await client.patch(JOBS, job["metadata"]["name"], {"status": status}, namespace=job["metadata"]["namespace"],
                       subresource="status", patch_type="merge")


async def test_forbid_skips_while_running_and_history_is_trimmed(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        created = await client.create(CRONJOBS, cronjob("once", "* * * * *", concurrencyPolicy="Forbid",
                                                        successfulJobsHistoryLimit=1), namespace=n)
        key = f"{n}/once"
        await cached(ctrl.cj_informer.store, key, lambda c: True, "cronjob cached")
        clock.at = _at(created, 1)
        await sync(ctrl, key)
        await cached(ctrl.cj_informer.store, key, lambda c: (c.get("status") or {}).get("active"), "active")
        clock.at = _at(created, 2)
        await sync(ctrl, key)
        jobs = await _jobs(client, n)
        assert len(jobs) == 1, "Forbid: no second Job while the first runs"
        await eventually(lambda: events(client, n, "JobAlreadyActive"), what="JobAlreadyActive event")
        # Once it finishes, the run skipped at minute 2 still starts (it is the most recent one).
        first = jobs[0]["metadata"]["name"]
        await _finish_job(client, jobs[0], "Complete", clock())
        await cached(ctrl.job_informer.store, f"{n}/{first}", lambda j: (j.get("status") or {}).get("conditions"),
                     "finished job cached")
        await sync(ctrl, key)
        jobs = await _jobs(client, n)
        second = max(j["metadata"]["name"] for j in jobs)
        assert len(jobs) == 2
        # The second finishes; at minute 3 a third starts and only one finished Job is kept.
        await _finish_job(client, [j for j in jobs if j["metadata"]["name"] == second][0], "Complete",
                          clock() + datetime.timedelta(seconds=10))
        await cached(ctrl.job_informer.store, f"{n}/{second}", lambda j: (j.get("status") or {}).get("conditions"),
                     "finished job cached")
        await cached(ctrl.cj_informer.store, key, lambda c: len((c.get("status") or {}).get("active") or []) == 1,
                     "status cached")
        clock.at = _at(created, 3)
        await sync(ctrl, key)
        left = sorted(j["metadata"]["name"] for j in await _jobs(client, n) if not j["metadata"].get("deletionTimestamp"))
        assert first not in left and second in left and len(left) == 2
        cj = await client.get(CRONJOBS, "once", namespace=n)
        assert cj["status"]["lastSuccessfulTime"] and len(cj["status"]["active"]) == 1


async def test_replace_deletes_the_running_job(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        created = await client.create(CRONJOBS, cronjob("swap", "* * * * *", concurrencyPolicy="Replace"), namespace=n)
        key = f"{n}/swap"
        await cached(ctrl.cj_informer.store, key, lambda c: True, "cronjob cached")
        clock.at = _at(created, 1)
        await sync(ctrl, key)
        first = (await _jobs(client, n))[0]["metadata"]["name"]
        await cached(ctrl.cj_informer.store, key, lambda c: (c.get("status") or {}).get("active"), "active")
        clock.at = _at(created, 2)
        await sync(ctrl, key)
        names = {j["metadata"]["name"] for j in await _jobs(client, n) if not j["metadata"].get("deletionTimestamp")}
        assert first not in names and len(names) == 1


async def test_suspended_cronjob_creates_nothing(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: CronJobController(client, f, clock=clock, queue=clock.queue("cj"))) as ctrl:
        created = await client.create(CRONJOBS, cronjob("off", "* * * * *", suspend=True), namespace=n)
        await cached(ctrl.cj_informer.store, f"{n}/off", lambda c: True, "cronjob cached")
        clock.at = _at(created, 10)
        await sync(ctrl, f"{n}/off")
        assert await _jobs(client, n) == []


def test_kubectl_create_cronjob_and_job_from_it(kubectl):
    ns = "kc-batch"
    kubectl("create", "namespace", ns)
    try:
        r = kubectl("-n", ns, "create", "cronjob", "hello", "--image=minik8s/busybox:latest",
                    "--schedule=*/10 * * * *", "--", "echo", "hi")
        assert r.returncode == 0, r.stderr
        r = kubectl("-n", ns, "create", "job", "manual", "--from=cronjob/hello")
        assert r.returncode == 0 and "job.batch/manual created" in r.stdout, r.stderr
        r = kubectl("-n", ns, "get", "job", "manual", "-o", "jsonpath={.metadata.ownerReferences[0].kind} "
                    "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate} {.spec.template.spec.restartPolicy}")
        assert r.stdout == "CronJob manual OnFailure", (r.stdout, r.stderr)
        r = kubectl("-n", ns, "get", "cronjobs", "-o", "wide")
        assert r.stdout.split("\n")[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST",
                                                   "SCHEDULE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
        assert r.stdout.split("\n")[1].split()[:5] == ["hello", "*/10", "*", "*", "*"]
        r = kubectl("-n", ns, "get", "jobs")
        assert r.stdout.split("\n")[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        assert r.stdout.split("\n")[1].split()[:3] == ["manual", "Running", "0/1"]
        r = kubectl("-n", ns, "create", "cronjob", "broken", "--image=x", "--schedule=*/5 * * *")
        assert r.returncode != 0
        assert 'spec.schedule: Invalid value: "*/5 * * *": expected exactly 5 fields, found 4' in r.stderr
        r = kubectl("explain", "cronjob.spec.concurrencyPolicy")
        assert r.returncode == 0 and "KIND:       CronJob" in r.stdout
    finally:
        kubectl("delete", "namespace", ns, "--wait=false")
