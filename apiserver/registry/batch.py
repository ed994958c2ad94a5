"""Job and CronJob API behaviour (Kubernetes' ``pkg/registry/batch/{job,cronjob}/strategy.go`` and
``pkg/apis/batch/validation``): the Job's generated selector and pod labels, validation of
counts, completion mode, restart policy, pod failure policy and selector, the immutable Job
fields, and the CronJob's schedule (robfig/cron's messages, naming the bad token) and time zone.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.pods import validate_pod_spec
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import cron, labels

# Labels the apiserver puts on a Job's pod template (and selector) unless manualSelector.
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

_MAX_INDEXED_PARALLELISM = 100000
_NONNEG = "must be greater than or equal to 0"


def _nonnegative(spec: dict[str, Any], name: str, path: str) -> list[FieldError]:
    val = spec.get(name)
    if val is not None and val < 0:
        return [v.invalid(f"{path}.{name}", val, _NONNEG)]
    return []


def _validate_pod_failure_policy(spec: dict[str, Any], path: str) -> list[FieldError]:
    pfp = spec.get("podFailurePolicy")
    if pfp is None:
        return []
    errs: list[FieldError] = []
    rp = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if rp != "Never":
        errs.append(v.invalid(f"{path}.template.spec.restartPolicy", rp,
                              'only "Never" is supported when podFailurePolicy is specified'))
    rules = pfp.get("rules") or []
    if len(rules) > 20:
        errs.append(FieldError(f"{path}.podFailurePolicy.rules", v.TOO_LONG,
                               f"Too many: {len(rules)}: must have at most 20 items"))
    containers = {c.get("name") for f in ("containers", "initContainers")
                  for c in ((spec.get("template") or {}).get("spec") or {}).get(f) or []}
    for i, rule in enumerate(rules):
        rp_ = f"{path}.podFailurePolicy.rules[{i}]"
        action = rule.get("action")
        allowed = ["Count", "FailIndex", "FailJob", "Ignore"]
        if action not in allowed:
            errs.append(v.not_supported(f"{rp_}.action", action, allowed))
        on_codes, on_conds = rule.get("onExitCodes"), rule.get("onPodConditions")
        if on_codes is not None and on_conds is not None:
            errs.append(v.invalid(rp_, rule, "specifying both OnExitCodes and OnPodConditions is not supported"))
        elif on_codes is None and not on_conds:
            errs.append(v.invalid(rp_, rule, "specifying one of OnExitCodes and OnPodConditions is required"))
        if on_codes is not None:
            cp = f"{rp_}.onExitCodes"
            op = on_codes.get("operator")
            if op not in ("In", "NotIn"):
                errs.append(v.not_supported(f"{cp}.operator", op, ["In", "NotIn"]))
            values = on_codes.get("values") or []
            if not values:
                errs.append(v.invalid(f"{cp}.values", values, "at least one value is required"))
            for j, val in enumerate(values):
                if op == "In" and val == 0:
                    errs.append(v.invalid(f"{cp}.values[{j}]", val, "must not be 0 for the In operator"))
                if j > 0 and values[j - 1] == val:
                    errs.append(v.duplicate(f"{cp}.values[{j}]", val))
                elif j > 0 and values[j - 1] > val:
                    errs.append(v.invalid(f"{cp}.values[{j}]", val, "must be ordered"))
            cn = on_codes.get("containerName")
            if cn is not None and cn not in containers:
                errs.append(v.invalid(f"{cp}.containerName", cn,
                                      "must be one of the container or initContainer names in the pod template"))
        for j, pat in enumerate(on_conds or []):
            st = pat.get("status")
            if st not in ("True", "False", "Unknown"):
                errs.append(v.not_supported(f"{rp_}.onPodConditions[{j}].status", st, ["False", "True", "Unknown"]))
    return errs


def validate_job_spec(spec: dict[str, Any], path: str, *, template_only: bool = False) -> list[FieldError]:
    """``ValidateJobSpec``; ``template_only`` for a CronJob's jobTemplate, whose selector the
    apiserver generates when each Job is created."""
    errs: list[FieldError] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
              "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += _nonnegative(spec, f, path)
    mode = spec.get("completionMode")
    if mode not in ("NonIndexed", "Indexed"):
        errs.append(v.not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        if spec.get("completions") is None:
            errs.append(FieldError(f"{path}.completions", v.REQUIRED,
                                   "Required value: when completion mode is Indexed"))
        par = spec.get("parallelism")
        if par is not None and par > _MAX_INDEXED_PARALLELISM:
            errs.append(v.invalid(f"{path}.parallelism", par,
                                  f"must be less than or equal to {_MAX_INDEXED_PARALLELISM} when completion mode "
                                  "is Indexed"))
    tpl = spec.get("template") or {}
    tpl_labels = (tpl.get("metadata") or {}).get("labels") or {}
    sel = spec.get("selector")
    if template_only:
        if sel is not None:
            errs.append(v.invalid(f"{path}.selector", sel, "`selector` will be auto-generated"))
        if spec.get("manualSelector"):
            errs.append(v.not_supported(f"{path}.manualSelector", True, ["nil", "false"]))
    elif not sel:
        errs.append(v.required(f"{path}.selector"))
    else:
        try:
            selector = labels.from_label_selector(sel)
        except ValueError as e:
            errs.append(v.invalid(f"{path}.selector", sel, str(e)))
        else:
            if not selector.matches(tpl_labels):
                errs.append(v.invalid(f"{path}.template.metadata.labels", tpl_labels,
                                      "`selector` does not match template `labels`"))
    tpl_spec = tpl.get("spec")
    if tpl_spec is None:
        errs.append(v.required(f"{path}.template"))
    else:
        errs += v.validate_labels(tpl_labels, f"{path}.template.metadata.labels")
        errs += validate_pod_spec(tpl_spec, f"{path}.template.spec")
        if tpl_spec.get("restartPolicy") not in ("OnFailure", "Never"):
            errs.append(FieldError(f"{path}.template.spec.restartPolicy", v.REQUIRED,
                                   'Required value: valid values: "OnFailure", "Never"'))
    errs += _validate_pod_failure_policy(spec, path)
    prp = spec.get("podReplacementPolicy")
    if prp is not None and prp not in ("TerminatingOrFailed", "Failed"):
        errs.append(v.not_supported(f"{path}.podReplacementPolicy", prp, ["Failed", "TerminatingOrFailed"]))
    if prp == "TerminatingOrFailed" and spec.get("podFailurePolicy") is not None:
        errs.append(v.not_supported(f"{path}.podReplacementPolicy", prp, ["Failed"]))
    return errs


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        md = obj["metadata"]
        if not spec.get("manualSelector"):
            # generateSelector: the pods carry the Job's uid and name, the selector the uid.
            tpl = spec.setdefault("template", {})
            tmd = tpl.setdefault("metadata", {})
            tl = tmd["labels"] = dict(tmd.get("labels") or {})
            uid, name = md["uid"], md.get("name", "")
            tl.setdefault(LEGACY_CONTROLLER_UID_LABEL, uid)
            tl.setdefault(LEGACY_JOB_NAME_LABEL, name)
            tl.setdefault(CONTROLLER_UID_LABEL, uid)
            tl.setdefault(JOB_NAME_LABEL, name)
            sel = spec["selector"] = dict(spec.get("selector") or {})
            ml = sel["matchLabels"] = dict(sel.get("matchLabels") or {})
            ml.setdefault(CONTROLLER_UID_LABEL, uid)
            if not md.get("labels"):
                md["labels"] = dict(tl)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        errs += validate_job_spec(spec, "spec")
        if not spec.get("manualSelector") and spec.get("selector"):
            uid = (obj.get("metadata") or {}).get("uid")
            if ((spec["selector"].get("matchLabels") or {}).get(CONTROLLER_UID_LABEL) != uid):
                errs.append(v.invalid("spec.selector", spec["selector"], "`selector` not auto-generated"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        for f in ("selector", "completionMode", "template", "podFailurePolicy", "manualSelector"):
            if ns.get(f) != os_.get(f):
                errs.append(v.invalid(f"spec.{f}", ns.get(f), "field is immutable"))
        if ns.get("completions") != os_.get("completions"):
            # Only an Indexed Job may change completions, and only together with parallelism.
            if not (ns.get("completionMode") == "Indexed" and ns.get("completions") == ns.get("parallelism")):
                errs.append(v.invalid("spec.completions", ns.get("completions"), "field is immutable"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["status.successful"] = str((obj.get("status") or {}).get("succeeded") or 0)
        return out


def validate_schedule(schedule: str, time_zone: str | None, *, allow_tz: bool) -> list[FieldError]:
    if not schedule:
        return [v.required("spec.schedule")]
    errs: list[FieldError] = []
    if "TZ" in schedule:
        if time_zone is not None:
            errs.append(v.invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in "
                                  "schedule"))
        elif not allow_tz:
            errs.append(v.invalid("spec.schedule", schedule,
                                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    if not errs:
        try:
            cron.parse(schedule)
        except cron.CronError as e:
            errs.append(v.invalid("spec.schedule", schedule, str(e)))
    return errs


def validate_time_zone(tz: str | None) -> list[FieldError]:
    if tz is None:
        return []
    if tz == "":
        return [v.invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string")]
    if tz.lower() == "local":
        return [v.invalid("spec.timeZone", tz,
                          "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        cron.load_zone(tz)
    except cron.CronError as e:
        return [v.invalid("spec.timeZone", tz, str(e))]
    return []


class CronJobStrategy(Strategy):
    def _validate(self, obj: dict[str, Any], *, allow_tz: bool) -> list[FieldError]:
        errs = super().validate(obj)
        name = (obj.get("metadata") or {}).get("name") or ""
        if len(name) > 52:
            # Job names are "<cronjob>-<minutes since epoch>": 11 characters more.
            errs.append(v.invalid("metadata.name", name, "must be no more than 52 characters"))
        spec = obj.get("spec") or {}
        errs += validate_schedule(spec.get("schedule") or "", spec.get("timeZone"), allow_tz=allow_tz)
        errs += validate_time_zone(spec.get("timeZone"))
        for f in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            errs += _nonnegative(spec, f, "spec")
        cp = spec.get("concurrencyPolicy")
        if cp not in ("Allow", "Forbid", "Replace"):
            errs.append(v.not_supported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]))
        jt = spec.get("jobTemplate") or {}
        errs += v.validate_labels((jt.get("metadata") or {}).get("labels"), "spec.jobTemplate.metadata.labels")
        errs += validate_job_spec(jt.get("spec") or {}, "spec.jobTemplate.spec", template_only=True)
        return errs

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return self._validate(obj, allow_tz=False)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        # A schedule already stored with TZ= stays allowed (AllowTZInSchedule on update).
        allow = "TZ" in ((old.get("spec") or {}).get("schedule") or "")
        return self._validate(new, allow_tz=allow) + v.validate_object_meta_update(new, old)
