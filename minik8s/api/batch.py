"""batch/v1 types: Job and CronJob.

Fields and merge keys follow ``k8s.io/api/batch/v1/types.go``; defaults follow
``pkg/apis/batch/v1/defaults.go`` (conventions in ``minik8s/api/base.py``). The pod template's
own defaults come from ``minik8s.api.core.PodSpec``. The Job's generated selector and labels
depend on its uid, so the apiserver's strategy (``apiserver/registry/batch.py``) adds them.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from minik8s.api.base import Int32, K8sModel, merge_key
from minik8s.api.core import ObjectReference, PodTemplateSpec
from minik8s.api.meta import LabelSelector, ListMeta, ObjectMeta

NON_INDEXED = "NonIndexed"
INDEXED = "Indexed"


class PodFailurePolicyOnExitCodesRequirement(K8sModel):
    container_name: str | None = None
    operator: str = ""
    values: list[int] = []


class PodFailurePolicyOnPodConditionsPattern(K8sModel):
    type: str = ""
    status: str = "True"


class PodFailurePolicyRule(K8sModel):
    action: str = ""
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] | None = None


class PodFailurePolicy(K8sModel):
    rules: list[PodFailurePolicyRule] = []


class SuccessPolicyRule(K8sModel):
    succeeded_indexes: str | None = None
    succeeded_count: Int32 | None = None


class SuccessPolicy(K8sModel):
    rules: list[SuccessPolicyRule] = []


class JobSpec(K8sModel):
    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: int | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: str = NON_INDEXED
    suspend: bool = False
    pod_replacement_policy: str | None = None
    managed_by: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> JobSpec:
        # SetDefaults_Job: both unset means one pod, once; a set parallelism leaves completions
        # unset (a work queue: any success completes the Job).
        if self.completions is None and self.parallelism is None:
            self.completions = 1
        if self.parallelism is None:
            self.parallelism = 1
        if self.backoff_limit is None:
            self.backoff_limit = 2147483647 if self.backoff_limit_per_index is not None else 6
        if self.pod_replacement_policy is None:
            self.pod_replacement_policy = "Failed" if self.pod_failure_policy is not None else "TerminatingOrFailed"
        return self


class JobCondition(K8sModel):
    type: str
    status: str
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(K8sModel):
    succeeded: list[str] | None = None
    failed: list[str] | None = None


class JobStatus(K8sModel):
    conditions: list[JobCondition] | None = merge_key("type")
    start_time: str | None = None
    completion_time: str | None = None
    active: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    terminating: int | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: int | None = None


class Job(K8sModel):
    api_version: str = "batch/v1"
    kind: str = "Job"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: JobSpec = Field(default_factory=JobSpec)
    status: JobStatus = Field(default_factory=JobStatus)

    @model_validator(mode="after")
    def _labels_from_template(self) -> Job:
        # SetDefaults_Job: a Job without labels takes its pod template's.
        tpl_labels = self.spec.template.metadata.labels
        if tpl_labels and not self.metadata.labels:
            self.metadata.labels = dict(tpl_labels)
        return self


class JobList(K8sModel):
    api_version: str = "batch/v1"
    kind: str = "JobList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Job] = []


class JobTemplateSpec(K8sModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: JobSpec = Field(default_factory=JobSpec)


class CronJobSpec(K8sModel):
    schedule: str = ""
    time_zone: str | None = None
    starting_deadline_seconds: int | None = None
    concurrency_policy: str = "Allow"
    suspend: bool = False
    job_template: JobTemplateSpec = Field(default_factory=JobTemplateSpec)
    successful_jobs_history_limit: Int32 = 3
    failed_jobs_history_limit: Int32 = 1


class CronJobStatus(K8sModel):
    active: list[ObjectReference] | None = None
    last_schedule_time: str | None = None
    last_successful_time: str | None = None


class CronJob(K8sModel):
    api_version: str = "batch/v1"
    kind: str = "CronJob"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CronJobSpec = Field(default_factory=CronJobSpec)
    status: CronJobStatus = Field(default_factory=CronJobStatus)


class CronJobList(K8sModel):
    api_version: str = "batch/v1"
    kind: str = "CronJobList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[CronJob] = []
