"""The Job controller: runs a Job's pods to completion, as Kubernetes' ``pkg/controller/job``.

Handlers map pod events to the owning Job (by controller reference; an orphan to every Job
whose selector matches it) and record what they observe in the expectations. ``sync(key)``:

* claims the Job's pods (adopting orphans, releasing pods whose labels stopped matching);
* decides whether the Job is finishing: a ``FailJob`` rule of the pod failure policy, more
  failed pods than ``backoffLimit`` (or, with ``restartPolicy: OnFailure``, as many container
  restarts), ``activeDeadlineSeconds`` passed, or enough successes. As Kubernetes 1.32 does, it
  first sets ``FailureTarget``/``SuccessCriteriaMet``, deletes the pods still running, and sets
  ``Failed``/``Complete`` once none is left;
* when ``suspend`` is set, deletes the running pods (``Suspended`` condition), and on resume
  restarts the ``activeDeadlineSeconds`` clock;
* otherwise creates or deletes pods towards ``min(parallelism, completions - succeeded)`` —
  Indexed Jobs one pod per missing index — but creates nothing while the failure back-off runs
  (10 s doubling per failure since the last success, capped at 6 minutes);
* writes the status (active, ready, succeeded, failed, terminating, completedIndexes,
  startTime, completionTime, conditions) only when it changed.

Counts come from the pods the Job still has (Kubernetes' tracking before pod finalizers), kept
from going down when finished pods are deleted. Time comes from ``clock`` (keyword-only, for
tests); the workqueue's clock drives the re-syncs for back-off and deadlines.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from typing import Any, cast

from controllers import controller_utils as cu
from controllers import job_utils as ju
from controllers import replicaset_utils as rsutil
from controllers.base import Controller, tombstone_safe
from controllers.expectations import UIDTrackingControllerExpectations
from minik8s import errors, labels, timestamps
from minik8s.api import typed
from minik8s.api.resources import JOBS, PODS, object_key
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

BURST_PODS = 500


def _selector(job: typed.Job) -> labels.Selector | None:
    try:
        return labels.from_label_selector((job.get("spec") or {}).get("selector"))
    except ValueError:
        return None


def _with_kind(job: dict[str, Any]) -> typed.Job:
    if job.get("kind") and job.get("apiVersion"):
        return typed.job(job)
    return typed.job({**job, "kind": JOBS.kind, "apiVersion": JOBS.api_version})


class JobController(Controller):
    name = "job"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 clock: Callable[[], datetime.datetime] = cu.now,
                 pod_failure_backoff: float = ju.DEFAULT_POD_FAILURE_BACKOFF,
                 max_pod_failure_backoff: float = ju.MAX_POD_FAILURE_BACKOFF, **kwargs: Any) -> None:
        """``clock``, the back-off figures and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.backoff = (pod_failure_backoff, max_pod_failure_backoff)
        self.recorder = recorder or EventRecorder(client, component="job-controller")
        self.expectations = UIDTrackingControllerExpectations()
        idx = {cu.CONTROLLER_UID_INDEX: cu.controller_uid_index}
        self.job_informer = informers.informer(JOBS, indexers=idx)
        self.pod_informer = informers.informer(PODS, indexers=idx)
        self.informers = [self.job_informer, self.pod_informer]
        self.job_informer.add_handler(on_add=self.enqueue, on_update=self._update_job, on_delete=self._delete_job)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)

    # -- handlers: map events to Job keys -----------------------------------------------------

    def _update_job(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if cu.meta(old).get("uid") != cu.meta(cur).get("uid"):
            self._delete_job(old)
        self.enqueue(cur)

    def _delete_job(self, job: dict[str, Any] | None) -> None:
        job = tombstone_safe(job)
        if job is None:
            return
        key = object_key(job)
        self.expectations.delete(key)
        self.enqueue_key(key)

    def _resolve(self, namespace: str, ref: typed.OwnerReference | None) -> typed.Job | None:
        if ref is None or ref.get("kind") != JOBS.kind:
            return None
        job = self.job_informer.store.get(f"{namespace}/{ref.get('name')}")
        if job is None or cu.meta(job).get("uid") != ref.get("uid"):
            return None
        return typed.job(job)

    def _matching_jobs(self, pod: dict[str, Any]) -> list[typed.Job]:
        md = cu.meta(pod)
        out: list[typed.Job] = []
        for obj in self.job_informer.store.by_index("namespace", md.get("namespace") or ""):
            job = typed.job(obj)
            sel = _selector(job)
            if sel is not None and not sel.is_empty() and sel.matches(md.get("labels")):
                out.append(job)
        return out

    def _add_pod(self, pod: dict[str, Any]) -> None:
        md = cu.meta(pod)
        if md.get("deletionTimestamp"):
            self._delete_pod(pod)
            return
        ref = cu.controller_ref(pod)
        if ref is not None:
            job = self._resolve(md.get("namespace") or "", ref)
            if job is not None:
                key = object_key(job)
                self.expectations.creation_observed(key)
                self.enqueue_key(key)
            return
        for job in self._matching_jobs(pod):
            self.enqueue(job)

    def _update_pod(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        omd, cmd = cu.meta(old), cu.meta(cur)
        if omd.get("resourceVersion") == cmd.get("resourceVersion"):
            return
        if cmd.get("deletionTimestamp") and not omd.get("deletionTimestamp"):
            self._delete_pod(cur)
        namespace = cmd.get("namespace") or ""
        old_ref, cur_ref = cu.controller_ref(old), cu.controller_ref(cur)
        if old_ref != cur_ref and old_ref is not None:
            job = self._resolve(namespace, old_ref)
            if job is not None:
                self.enqueue(job)
        if cur_ref is not None:
            job = self._resolve(namespace, cur_ref)
            if job is not None:
                self.enqueue(job)
            return
        if (omd.get("labels") or {}) != (cmd.get("labels") or {}) or old_ref != cur_ref:
            for job in self._matching_jobs(cur):
                self.enqueue(job)

    def _delete_pod(self, pod: dict[str, Any] | None) -> None:
        pod = tombstone_safe(pod)
        if pod is None:
            return
        md = cu.meta(pod)
        job = self._resolve(md.get("namespace") or "", cu.controller_ref(pod))
        if job is None:
            return
        key = object_key(job)
        self.expectations.deletion_observed(key, object_key(pod))
        self.enqueue_key(key)

    # -- sync ----------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.job_informer.store.get(key)
        if cached is None:
            self.expectations.delete(key)
            return
        job = _with_kind(cached)
        if ju.is_finished(job):
            return
        selector = _selector(job)
        if selector is None:
            log.warning("job %s has an invalid selector; skipping", key)
            return
        at = self.clock()
        needs_sync = self.expectations.satisfied(key)
        manager = cu.ControllerRefManager(self.client, PODS, job, selector,
                                          can_adopt=cu.recheck_owner(self.client, JOBS, job))
        # the pod informer's objects, read as pods
        pods = await manager.claim(cast(list[typed.Pod], cu.owned_or_orphaned(self.pod_informer.store, job)))

        spec, old = job.get("spec") or {}, job.get("status") or {}
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        active = [p for p in pods if cu.is_pod_active(p)]
        terminating = [p for p in pods if ju.is_terminating(p)]
        succeeded_pods = [p for p in pods if ju.phase(p) == "Succeeded"]
        failed_pods = [p for p in pods if ju.phase(p) == "Failed"]

        fail_job_msg: str | None = None
        counted_failed: list[typed.Pod] = []
        for p in failed_pods:
            action, msg = ju.match_pod_failure_policy(job, p)
            if action == "Ignore":
                continue
            if action == "FailJob" and fail_job_msg is None:
                fail_job_msg = msg
            counted_failed.append(p)
        completed: set[int] = set()
        if indexed:
            completed = {i for p in succeeded_pods
                         if (i := ju.pod_index(p)) is not None and 0 <= i < (completions or 0)}
            completed |= ju.parse_indexes(old.get("completedIndexes"), completions or 0)
            succeeded = len(completed)
        else:
            succeeded = len(succeeded_pods)
        # Never count down: finished pods may be deleted (by a person, or the garbage collector).
        succeeded = max(succeeded, old.get("succeeded") or 0)
        failed = max(len(counted_failed), old.get("failed") or 0)

        start_time, completion_time = old.get("startTime"), old.get("completionTime")
        conditions = [c.copy() for c in old.get("conditions") or []]
        suspended = bool(spec.get("suspend"))
        if start_time is None and not suspended:
            start_time = timestamps.format_time(at)
        job_at_start: typed.Job = {**job, "status": {**old, "startTime": start_time}} if start_time else job

        target = self._finishing(job, conditions)
        if target is None:
            if fail_job_msg is not None:
                target = (ju.FAILURE_TARGET, ju.REASON_POD_FAILURE_POLICY, fail_job_msg)
            elif failed > spec.get("backoffLimit", 6) or ju.past_backoff_limit_on_failure(job, active):
                target = (ju.FAILURE_TARGET, ju.REASON_BACKOFF_LIMIT, ju.MSG_BACKOFF_LIMIT)
            elif not suspended and ju.past_active_deadline(job_at_start, at):
                target = (ju.FAILURE_TARGET, ju.REASON_DEADLINE, ju.MSG_DEADLINE)
            elif (succeeded >= completions if completions is not None else succeeded > 0 and not active):
                target = (ju.SUCCESS_CRITERIA_MET, ju.REASON_COMPLETIONS_REACHED, ju.MSG_COMPLETIONS_REACHED)
            if target is not None:
                conditions, _ = ju.ensure_condition(conditions, target[0], "True", target[1], target[2], at)

        manage_error: Exception | None = None
        if target is not None:
            # Finishing: nothing more runs; the terminal condition waits for the pods to go.
            if active and needs_sync and not cu.meta(job).get("deletionTimestamp"):
                try:
                    await self._delete_pods(job, key, active)
                except errors.MiniK8sError as e:
                    manage_error = e
                terminating = terminating + active
                active = []
            if not active and not terminating:
                final = ju.FAILED if target[0] == ju.FAILURE_TARGET else ju.COMPLETE
                conditions, changed = ju.ensure_condition(conditions, final, "True", target[1], target[2], at)
                if changed:
                    if final == ju.COMPLETE:
                        completion_time = timestamps.format_time(at)
                        self.recorder.event(job, NORMAL, "Completed", "Job completed")
                    else:
                        self.recorder.event(job, WARNING, target[1], target[2])
        else:
            if suspended:
                conditions, changed = ju.ensure_condition(conditions, ju.SUSPENDED, "True", "JobSuspended",
                                                          "Job suspended", at)
                if changed:
                    self.recorder.event(job, NORMAL, "Suspended", "Job suspended")
                    start_time = None
            else:
                conditions, changed = ju.ensure_condition(conditions, ju.SUSPENDED, "False", "JobResumed",
                                                          "Job resumed", at)
                if changed:
                    self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
                    start_time = timestamps.format_time(at)
            if needs_sync and not cu.meta(job).get("deletionTimestamp"):
                try:
                    active, terminating = await self._manage(job, key, active, terminating, succeeded,
                                                             completed, pods, at)
                except errors.MiniK8sError as e:
                    manage_error = e
            job_now: typed.Job = {**job, "status": {"startTime": start_time} if start_time else {}}
            remaining = ju.deadline_remaining(job_now, at)
            if remaining is not None and remaining > 0 and not suspended:
                self.queue.add_after(key, remaining)

        # omitempty in Kubernetes: no zero active/succeeded/failed, no empty strings or lists
        status: typed.JobStatus = {"ready": sum(1 for p in active if cu.is_pod_ready(p)),
                                   "terminating": len(terminating)}
        if start_time:
            status["startTime"] = start_time
        if completion_time:
            status["completionTime"] = completion_time
        if active:
            status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        if indexed and (indexes := ju.format_indexes(completed)):
            status["completedIndexes"] = indexes
        if conditions:
            status["conditions"] = conditions
        await self._update_status(job, status)
        if manage_error is not None:
            raise manage_error

    @staticmethod
    def _finishing(job: typed.Job, conditions: list[typed.JobCondition]) -> tuple[str, str, str] | None:
        for ctype in (ju.FAILURE_TARGET, ju.SUCCESS_CRITERIA_MET):
            for c in conditions:
                if c.get("type") == ctype and c.get("status") == "True":
                    return ctype, c.get("reason") or "", c.get("message") or ""
        return None

    async def _manage(self, job: typed.Job, key: str, active: list[typed.Pod], terminating: list[typed.Pod],
                      succeeded: int, completed: set[int], pods: list[typed.Pod],
                      at: datetime.datetime) -> tuple[list[typed.Pod], list[typed.Pod]]:
        """Create or delete pods towards the wanted number; returns (active, terminating)."""
        spec = job.get("spec") or {}
        if spec.get("suspend"):
            if active:
                await self._delete_pods(job, key, active)
            return [], terminating + active
        # podReplacementPolicy Failed: a pod being deleted still holds its place until it is gone.
        holding = active + (terminating if spec.get("podReplacementPolicy") == "Failed" else [])
        want = ju.want_active(job, succeeded, len(active))
        if len(holding) > want:
            victims = rsutil.pods_to_delete(active, [], min(len(holding) - want, len(active)), at=at)
            await self._delete_pods(job, key, victims)
            gone = {cu.meta(p).get("uid") for p in victims}
            return [p for p in active if cu.meta(p).get("uid") not in gone], terminating + victims
        if len(holding) == want:
            return active, terminating
        wait = ju.backoff_remaining(pods, at, base=self.backoff[0], cap=self.backoff[1])
        if wait > 0:
            self.queue.add_after(key, wait)
            return active, terminating
        count = min(want - len(holding), BURST_PODS)
        indexes: list[int | None] = [None] * count
        if spec.get("completionMode") == "Indexed":
            busy = completed | {i for p in holding if (i := ju.pod_index(p)) is not None}
            free = [i for i in range(spec.get("completions") or 0) if i not in busy]
            indexes = list(free[:count])
            count = len(indexes)
        if count == 0:
            return active, terminating
        self.expectations.expect_creations(key, count)
        it = iter(indexes)
        successes, err = await cu.slow_start_batch(count, 1, lambda: self._create_pod(job, next(it)))
        for _ in range(count - successes):
            self.expectations.creation_observed(key)
        if err is not None:
            raise err
        return active, terminating

    async def _create_pod(self, job: typed.Job, index: int | None) -> None:
        pod = ju.pod_for_job(job, index)
        try:
            created = await self.client.create(PODS, pod, namespace=cu.meta(job).get("namespace"))
        except errors.MiniK8sError as e:
            if isinstance(e, errors.Forbidden) and "being terminated" in (e.message or ""):
                return
            self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {rsutil.error_message(e)}")
            raise
        self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {cu.meta(created).get('name')}")

    async def _delete_pods(self, job: typed.Job, key: str, victims: list[typed.Pod]) -> None:
        self.expectations.expect_deletions(key, [object_key(p) for p in victims])
        results = await asyncio.gather(*(self._delete_one(job, key, p) for p in victims), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _delete_one(self, job: typed.Job, key: str, pod: typed.Pod) -> None:
        md = cu.meta(pod)
        try:
            await self.client.delete(PODS, md["name"], namespace=md.get("namespace"))
        except errors.NotFound:
            self.expectations.deletion_observed(key, object_key(pod))
            return
        except errors.MiniK8sError as e:
            self.expectations.deletion_observed(key, object_key(pod))
            self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {rsutil.error_message(e)}")
            raise
        self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {md['name']}")

    async def _update_status(self, job: typed.Job, status: typed.JobStatus) -> None:
        if ju.status_unchanged(job, status):
            return
        # Fields this controller does not manage (uncountedTerminatedPods, failedIndexes) are kept.
        merged = {k: val for k, val in (job.get("status") or {}).items()
                  if k not in ("active", "succeeded", "failed", "ready", "terminating", "startTime",
                               "completionTime", "completedIndexes", "conditions")}
        merged.update(status)
        # A conflict is raised: the retry recomputes everything from a fresher cache.
        await self.client.update_status(JOBS, {**job, "status": merged})
