"""Printed columns of the workload kinds beyond Deployment and ReplicaSet: Job, CronJob (and the
others as they land), as Kubernetes' ``pkg/printers/internalversion/printers.go`` prints them.

Kept apart from ``apiserver/printers.py`` (which holds the Printer/Column types, the time and
selector formatting, and the Table builder) so that each kind's columns sit in one place.
"""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer, meta
from minik8s.duration import human_duration, since
from minik8s.labels import format_label_selector, format_labels
from minik8s.timestamps import to_unix

_NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
_AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this "
              "object was created.")
_CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
_IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _containers(template: dict[str, Any] | None) -> tuple[str, str]:
    cs = ((template or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _bool_ptr(val: Any) -> str:
    """``printBoolPtr``: Go's ``%t`` of a set bool, ``<unset>`` otherwise."""
    if val is None:
        return "<unset>"
    return "True" if val else "False"


# ---------------------------------------------------------------------------------------------
# Job


def _has_condition(obj: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in _status(obj).get("conditions") or [])


def job_status(job: dict[str, Any]) -> str:
    """The STATUS column: the first of Complete, Failed, Terminating, Suspended, FailureTarget,
    SuccessCriteriaMet that holds, else Running."""
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if meta(job).get("deletionTimestamp"):
        return "Terminating"
    for ctype in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(job, ctype):
            return ctype
    return "Running"


def _job_row(job: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(job), _status(job)
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start = to_unix(status.get("startTime"))
    if start is None:
        duration = ""
    else:
        end = to_unix(status.get("completionTime"))
        duration = human_duration((now if end is None else end) - start)
    names, images = _containers(spec.get("template"))
    return [meta(job).get("name", ""), job_status(job), completions, duration,
            since(meta(job).get("creationTimestamp"), now), names, images, format_label_selector(spec.get("selector"))]


JOB = Printer(
    (
        _NAME,
        Column("Status", description="Status of the job."),
        Column("Completions", description="The number of pods which reached phase Succeeded."),
        Column("Duration", description="Time required to complete the job."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="A label query over pods that should match the pod count."),
    ),
    _job_row,
)


# ---------------------------------------------------------------------------------------------
# CronJob


def _cronjob_row(cj: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(cj), _status(cj)
    last = status.get("lastScheduleTime")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers(job_spec.get("template"))
    return [meta(cj).get("name", ""), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            _bool_ptr(spec.get("suspend")), len(status.get("active") or []),
            since(last, now) if last else "<none>", since(meta(cj).get("creationTimestamp"), now),
            names, images, format_label_selector(job_spec.get("selector"))]


CRONJOB = Printer(
    (
        _NAME,
        Column("Schedule", description="The schedule in Cron format."),
        Column("Timezone", description="The time zone name for the given schedule."),
        Column("Suspend", type="boolean", description="This flag tells the controller to suspend subsequent "
               "executions."),
        Column("Active", type="integer", description="A list of pointers to currently running jobs."),
        Column("Last Schedule", description="Information when was the last time the job was successfully "
               "scheduled."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="A label query over pods that should match the pod count."),
    ),
    _cronjob_row,
)


# ---------------------------------------------------------------------------------------------
# DaemonSet, ControllerRevision


def _daemonset_row(ds: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(ds), _status(ds)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    names, images = _containers(spec.get("template"))
    return [meta(ds).get("name", ""), int(status.get("desiredNumberScheduled") or 0),
            int(status.get("currentNumberScheduled") or 0), int(status.get("numberReady") or 0),
            int(status.get("updatedNumberScheduled") or 0), int(status.get("numberAvailable") or 0),
            format_labels(node_selector), since(meta(ds).get("creationTimestamp"), now),
            names, images, format_label_selector(spec.get("selector"))]


DAEMONSET = Printer(
    (
        _NAME,
        Column("Desired", type="integer", description="The total number of nodes that should be running the "
               "daemon pod (including nodes correctly running the daemon pod)."),
        Column("Current", type="integer", description="The number of nodes that are running at least 1 daemon "
               "pod and are supposed to run the daemon pod."),
        Column("Ready", type="integer", description="The number of nodes that should be running the daemon pod "
               "and have one or more of the daemon pod running with a Ready Condition."),
        Column("Up-to-date", type="integer", description="The total number of nodes that are running updated "
               "daemon pod"),
        Column("Available", type="integer", description="The number of nodes that should be running the daemon "
               "pod and have one or more of the daemon pod running and available (ready for at least "
               "spec.minReadySeconds)"),
        Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to fit on "
               "a node."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="A label query over pods that are managed by the daemon set."),
    ),
    _daemonset_row,
)


def _controller_of(obj: dict[str, Any]) -> str:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            kind = (ref.get("kind") or "").lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return "<none>"


def _controllerrevision_row(cr: dict[str, Any], now: float) -> list[Any]:
    return [meta(cr).get("name", ""), _controller_of(cr), int(cr.get("revision") or 0),
            since(meta(cr).get("creationTimestamp"), now)]


CONTROLLERREVISION = Printer(
    (
        _NAME,
        Column("Controller", description="Controller of the object, with URL-encoded kind.name."),
        Column("Revision", type="integer", description="Revision indicates the revision of the state "
               "represented by Data."),
        _AGE,
    ),
    _controllerrevision_row,
)


# ---------------------------------------------------------------------------------------------
# ReplicationController, PodDisruptionBudget


def _replicationcontroller_row(rc: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(rc), _status(rc)
    names, images = _containers(spec.get("template"))
    return [meta(rc).get("name", ""), int(spec.get("replicas", 1)), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), since(meta(rc).get("creationTimestamp"), now),
            names, images, format_labels(spec.get("selector"))]


REPLICATIONCONTROLLER = Printer(
    (
        _NAME,
        Column("Desired", type="integer", description="Replicas is the number of desired replicas."),
        Column("Current", type="integer", description="Replicas is the most recently observed number of "
               "replicas."),
        Column("Ready", type="integer", description="The number of ready replicas for this replication "
               "controller."),
        _AGE, _CONTAINERS, _IMAGES,
        Column("Selector", priority=1, description="Selector is a label query over pods that should match the "
               "Replicas count."),
    ),
    _replicationcontroller_row,
)


def _int_or_string(val: Any) -> str:
    return "N/A" if val is None else str(val)


def _pdb_row(pdb: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(pdb), _status(pdb)
    return [meta(pdb).get("name", ""), _int_or_string(spec.get("minAvailable")),
            _int_or_string(spec.get("maxUnavailable")), int(status.get("disruptionsAllowed") or 0),
            since(meta(pdb).get("creationTimestamp"), now)]


PODDISRUPTIONBUDGET = Printer(
    (
        _NAME,
        Column("Min Available", description="The minimum number of pods that must be available simultaneously."),
        Column("Max Unavailable", description="The maximum number of pods that may be unavailable "
               "simultaneously."),
        Column("Allowed Disruptions", type="integer", description="Calculated number of pods that may be "
               "disrupted at this time."),
        _AGE,
    ),
    _pdb_row,
)


# ---------------------------------------------------------------------------------------------
# StatefulSet


def _statefulset_row(sts: dict[str, Any], now: float) -> list[Any]:
    spec, status = _spec(sts), _status(sts)
    names, images = _containers(spec.get("template"))
    return [meta(sts).get("name", ""), f"{int(status.get('readyReplicas') or 0)}/{int(spec.get('replicas', 1))}",
            since(meta(sts).get("creationTimestamp"), now), names, images]


STATEFULSET = Printer(
    (
        _NAME,
        Column("Ready", description="Number of the pod with ready state"),
        _AGE, _CONTAINERS, _IMAGES,
    ),
    _statefulset_row,
)
