"""The CronJob controller: creates a Job at each scheduled time, as Kubernetes'
``pkg/controller/cronjob/cronjob_controllerv2.go``.

Handlers map Job events to the owning CronJob (by controller reference). ``sync(key)``:

* reconciles ``status.active`` with the Jobs it owns (finished ones leave it — ``SawCompletedJob``
  —, vanished ones too — ``MissingJob`` —, unknown running ones are reported — ``UnexpectedJob``)
  and records ``lastSuccessfulTime``;
* unless suspended or its schedule/time zone is unusable (a Warning event), finds the most
  recent scheduled time not yet run (at most one catch-up run after any outage; none once
  ``startingDeadlineSeconds`` has passed — ``MissSchedule``), honours ``concurrencyPolicy``
  (Forbid skips while a Job runs, Replace deletes the running ones), and creates the Job
  ``<cronjob>-<minutes since epoch>`` from ``jobTemplate``;
* deletes the oldest finished Jobs beyond the history limits, writes the status when it
  changed, and comes back at the next scheduled time.

Time comes from ``clock`` (keyword-only, for tests); re-syncs go through the workqueue's clock.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from controllers import controller_utils as cu
from controllers import cronjob_utils as cju
from controllers import replicaset_utils as rsutil
from controllers.base import Controller, tombstone_safe
from minik8s import cron, errors, timestamps
from minik8s.api import typed
from minik8s.api.resources import CRONJOBS, JOBS
from minik8s.api.typed import CronJob, CronJobStatus, Job
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def _with_kind(cj: dict[str, Any]) -> dict[str, Any]:
    if cj.get("kind") and cj.get("apiVersion"):
        return cj
    return {**cj, "kind": CRONJOBS.kind, "apiVersion": CRONJOBS.api_version}


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 clock: Callable[[], datetime.datetime] = cu.now, **kwargs: Any) -> None:
        """``clock`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.recorder = recorder or EventRecorder(client, component="cronjob-controller")
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.cj_informer = informers.informer(CRONJOBS)
        self.job_informer = informers.informer(JOBS, indexers=idx)
        self.informers = [self.cj_informer, self.job_informer]
        self.cj_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur),
                                     on_delete=self._delete_cj)
        self.job_informer.add_handler(on_add=self._job_changed, on_update=self._update_job,
                                      on_delete=self._job_changed)

    # -- handlers --------------------------------------------------------------------------------

    def _delete_cj(self, cj: dict[str, Any] | None) -> None:
        cj = tombstone_safe(cj)
        if cj is not None:
            self.enqueue(cj)

    def _job_changed(self, job: dict[str, Any] | None) -> None:
        job = tombstone_safe(job)
        if job is None:
            return
        ref = cu.controller_ref(job)
        if ref is None or ref.get("kind") != CRONJOBS.kind:
            return
        cj = self.cj_informer.store.get(f"{cu.meta(job).get('namespace')}/{ref.get('name')}")
        if cj is not None and cu.meta(cj).get("uid") == ref.get("uid"):
            self.enqueue(cj)

    def _update_job(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        if cu.controller_ref(old) != cu.controller_ref(cur):
            self._job_changed(old)
        self._job_changed(cur)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.cj_informer.store.get(key)
        if cached is None:
            return
        cj = typed.cron_job(_with_kind(cached))
        jobs = [typed.job(j) for j in self.job_informer.store.by_index(cu.CONTROLLER_UID_INDEX, cu.meta(cj).get("uid") or "")
                if cu.meta(j).get("namespace") == cu.meta(cj).get("namespace")]
        status = CronJobStatus(**(cj.get("status") or {}))  # a shallow copy, as dict() made
        status["active"] = [r.copy() for r in status.get("active") or []]
        work: CronJob = {**cj, "status": status}
        requeue: float | None = None
        error: Exception | None = None
        try:
            requeue = await self._sync_cronjob(work, jobs)
        except errors.MiniK8sError as e:
            error = e
        await self._cleanup_finished(work, jobs)
        if not status["active"]:
            status.pop("active")
        if status != (cj.get("status") or {}):
            await self.client.update_status(CRONJOBS, {**cj, "status": status})
        if requeue is not None:
            self.queue.add_after(key, requeue)
        if error is not None:
            raise error

    async def _sync_cronjob(self, cj: CronJob, jobs: list[Job]) -> float | None:
        status = cj["status"]
        now = self.clock()
        children = set()
        for j in jobs:
            uid = cu.meta(j).get("uid")
            children.add(uid)
            finished = cju.finished_condition_type(j)
            found = cju.in_active_list(cj, uid)
            if not found and finished is None:
                self.recorder.event(cj, WARNING, "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {cu.meta(j).get('name')}")
            elif found and finished is not None:
                status["active"] = [r for r in status["active"] if r.get("uid") != uid]
                self.recorder.event(cj, NORMAL, "SawCompletedJob",
                                    f"Saw completed job: {cu.meta(j).get('name')}, condition: {finished}")
            if finished == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                last = timestamps.parse(status.get("lastSuccessfulTime"))
                if done and (last is None or (timestamps.parse(done) or last) > last):
                    status["lastSuccessfulTime"] = done
        for ref in list(status["active"]):
            ref_name = ref.get("name")
            if ref.get("uid") in children or not ref_name:
                # A nameless reference was kept before too: its GET was a LIST, which succeeded.
                continue
            try:
                await self.client.get(JOBS, ref_name, namespace=ref.get("namespace"))
            except errors.NotFound:
                self.recorder.event(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                status["active"] = [r for r in status["active"] if r.get("uid") != ref.get("uid")]
        if cu.meta(cj).get("deletionTimestamp"):
            return None
        spec = cj.get("spec") or {}
        try:
            zone = cron.load_zone(spec.get("timeZone"))
        except cron.CronError as e:
            self.recorder.event(cj, WARNING, "UnknownTimeZone", f'invalid timeZone: "{spec.get("timeZone")}": {e}')
            return None
        if spec.get("suspend"):
            return None
        try:
            sched = cron.parse(spec.get("schedule") or "")
        except cron.CronError as e:
            self.recorder.event(cj, WARNING, "UnparseableSchedule",
                                f'unparseable schedule: "{spec.get("schedule")}" : {e}')
            return None
        scheduled, missed = cju.most_recent_schedule_time(cj, now, sched, zone)
        if missed > cju.MANY_MISSED:
            self.recorder.event(cj, WARNING, "TooManyMissedTimes",
                                f"too many missed start times: {missed}. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        next_delay = cju.next_schedule_delay(cj, now, sched, zone)
        if scheduled is None:
            return next_delay
        sds = spec.get("startingDeadlineSeconds")
        if sds is not None and scheduled + datetime.timedelta(seconds=sds) < now:
            self.recorder.event(cj, WARNING, "MissSchedule", "Missed scheduled time to start a job: "
                                + scheduled.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return next_delay
        name = cju.job_name(cj, scheduled)
        if (any(r.get("name") == name for r in status["active"])
                or timestamps.parse(status.get("lastScheduleTime")) == scheduled):
            return next_delay
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status["active"]:
            self.recorder.event(cj, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return next_delay
        if policy == "Replace":
            for ref in list(status["active"]):
                await self._delete_job(cj, ref.get("name"), ref.get("namespace"))
                status["active"] = [r for r in status["active"] if r.get("uid") != ref.get("uid")]
        req = cju.job_from_template(cj, scheduled, zone)
        try:
            job = typed.job(await self.client.create(JOBS, req, namespace=cu.meta(cj).get("namespace")))
            self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {cu.meta(job).get('name')}")
        except errors.AlreadyExists:
            job = typed.job(await self.client.get(JOBS, name, namespace=cu.meta(cj).get("namespace")))
            owner = cu.controller_ref(job)
            if owner is None or owner.get("uid") != cu.meta(cj).get("uid"):
                return next_delay  # someone else's Job: leave it to them
            if cju.in_active_list(cj, cu.meta(job).get("uid")):
                return next_delay
        except errors.MiniK8sError as e:
            if isinstance(e, errors.Forbidden) and "being terminated" in (e.message or ""):
                return None
            self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: {rsutil.error_message(e)}")
            raise
        status["active"].append(cju.job_ref(job))
        status["lastScheduleTime"] = timestamps.format_time(scheduled)
        return next_delay

    async def _delete_job(self, cj: CronJob, name: str | None, namespace: str | None) -> bool:
        try:
            await self.client.delete(JOBS, name or "", namespace=namespace, propagation_policy="Background")
        except errors.NotFound:
            return True
        except errors.MiniK8sError as e:
            self.recorder.event(cj, WARNING, "FailedDelete", f"Deleted job: {rsutil.error_message(e)}")
            return False
        self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {name}")
        return True

    async def _cleanup_finished(self, cj: CronJob, jobs: list[Job]) -> None:
        spec = cj.get("spec") or {}
        succeeded = [j for j in jobs if cju.finished_condition_type(j) == "Complete"]
        failed = [j for j in jobs if cju.finished_condition_type(j) == "Failed"]
        victims = (cju.jobs_to_delete(succeeded, spec.get("successfulJobsHistoryLimit"))
                   + cju.jobs_to_delete(failed, spec.get("failedJobsHistoryLimit")))
        for j in victims:
            md = cu.meta(j)
            if await self._delete_job(cj, md.get("name"), md.get("namespace")):
                cj["status"]["active"] = [r for r in cj["status"]["active"] if r.get("uid") != md.get("uid")]

