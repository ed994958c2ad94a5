"""Jobs on a real apiserver: the API (generated selector and labels, defaults, 422s) and the Job
controller's ``sync(key)`` against a fake clock (parallelism, completions, back-off, deadline,
suspend, Indexed, pod failure policy), plus the TTL-after-finished controller.

No kubelet runs: a test writes each pod's terminal status itself (job_helpers.finish), with the
finish time on the same fake clock the controller reads.
"""

from __future__ import annotations

import datetime

import pytest

from controllers.job import JobController
from controllers.ttlafterfinished import TTLAfterFinishedController
from minik8s import errors
from minik8s.api.resources import JOBS, PODS
from tests.integration.job_helpers import Clock, cached, events, finish, job, job_pods, namespace, sync, synced
from tests.waiting import eventually


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as pair:
        yield pair


async def test_create_generates_selector_labels_and_defaults(ns):
    client, n = ns
    created = await client.create(JOBS, job("pi"), namespace=n)
    uid = created["metadata"]["uid"]
    spec = created["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid, "job-name": "pi"}
    assert created["metadata"]["labels"] == spec["template"]["metadata"]["labels"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["podReplacementPolicy"]) == (
        "NonIndexed", False, "TerminatingOrFailed")


@pytest.mark.parametrize("body, field, message", [
    (job("neg", parallelism=-1), "spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"),
    (job("rp", restart="Always"), "spec.template.spec.restartPolicy",
     'Required value: valid values: "OnFailure", "Never"'),
    (job("idx", completionMode="Indexed", completions=None, parallelism=2), "spec.completions",
     "Required value: when completion mode is Indexed"),
    (job("sel", manualSelector=True, selector={"matchLabels": {"a": "b"}}), "spec.template.metadata.labels",
     "`selector` does not match template `labels`"),
])
async def test_invalid_jobs_are_refused_naming_the_field(ns, body, field, message):
    client, n = ns
    if body["spec"].get("completions", 0) is None:
        del body["spec"]["completions"]
    with pytest.raises(errors.Invalid) as e:
        await client.create(JOBS, body, namespace=n)
    assert any(c.get("field") == field and message in c.get("message", "") for c in e.value.causes), e.value.causes
    assert (await client.list(JOBS, namespace=n))["items"] == []


async def test_template_is_immutable(ns):
    client, n = ns
    created = await client.create(JOBS, job("imm"), namespace=n)
    created["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    with pytest.raises(errors.Invalid) as e:
        await client.update(JOBS, created)
    assert any(c.get("field") == "spec.template" and "field is immutable" in c["message"] for c in e.value.causes)


async def test_completions_5_parallelism_2_runs_two_at_a_time_and_completes(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        created = await client.create(JOBS, job("five", completions=5, parallelism=2), namespace=n)
        key = f"{n}/five"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        done = 0
        for _ in range(12):
            await sync(ctrl, key)
            j = await client.get(JOBS, "five", namespace=n)
            if any(c["type"] == "Complete" for c in (j.get("status") or {}).get("conditions") or []):
                break
            pods = [p for p in await job_pods(client, n, "five") if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
            assert len(pods) <= 2, "never more than parallelism pods run"
            want = len(pods) + done
            await eventually(lambda: _cache_has(ctrl, n, want), what="pods in cache")  # noqa: B023 - awaited here
            for p in pods:
                await finish(client, p, "Succeeded", at=clock())
                done += 1
            await eventually(lambda done=done: _cache_finished(ctrl, n, done), what="finished pods in cache")
            clock.step(1)
        st = j["status"]
        assert st["succeeded"] == 5 and "active" not in st and st["ready"] == 0 and st["terminating"] == 0
        conds = {c["type"]: c for c in st["conditions"]}
        assert conds["SuccessCriteriaMet"]["reason"] == conds["Complete"]["reason"] == "CompletionsReached"
        assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
        assert st["completionTime"] and st["startTime"]
        pods = await job_pods(client, n, "five")
        assert len(pods) == 5
        ref = pods[0]["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("Job", created["metadata"]["uid"], True)
        assert pods[0]["metadata"]["labels"]["job-name"] == "five"
        await eventually(lambda: events(client, n, "Completed"), what="Completed event")


async def _cache_has(ctrl, n, count):
    return len([p for p in ctrl.pod_informer.store.list() if p["metadata"]["namespace"] == n]) >= count


async def _cache_finished(ctrl, n, count):
    return len([p for p in ctrl.pod_informer.store.list() if p["metadata"]["namespace"] == n
                and (p.get("status") or {}).get("phase") == "Succeeded"]) >= count


async def test_failures_back_off_exponentially_and_fail_at_backoff_limit(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        await client.create(JOBS, job("flaky", backoffLimit=2), namespace=n)
        key = f"{n}/flaky"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        # Failure n waits 10 * 2^(n-1) s before the next pod.
        for failures, delay in ((1, 10), (2, 20)):
            await sync(ctrl, key)
            pods = await job_pods(client, n, "flaky")
            assert len(pods) == failures
            await finish(client, _running(pods)[0], "Failed", at=clock())
            await eventually(lambda failures=failures: _cache_failed(ctrl, n, failures), what="failed pod in cache")
            clock.step(delay - 1)
            await sync(ctrl, key)
            assert len(await job_pods(client, n, "flaky")) == failures, "no new pod during the back-off"
            clock.step(1)
        await sync(ctrl, key)
        pods = await job_pods(client, n, "flaky")
        assert len(pods) == 3
        await finish(client, _running(pods)[0], "Failed", at=clock())
        await eventually(lambda: _cache_failed(ctrl, n, 3), what="third failure in cache")
        await sync(ctrl, key)
        j = await client.get(JOBS, "flaky", namespace=n)
        conds = {c["type"]: c for c in j["status"]["conditions"]}
        assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
        assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
        assert j["status"]["failed"] == 3
        await eventually(lambda: events(client, n, "BackoffLimitExceeded"), what="BackoffLimitExceeded event")


def _running(pods):
    return [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]


async def _cache_failed(ctrl, n, count):
    return len([p for p in ctrl.pod_informer.store.list() if p["metadata"]["namespace"] == n
                and (p.get("status") or {}).get("phase") == "Failed"]) >= count


async def test_active_deadline_deletes_pods_and_fails(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        await client.create(JOBS, job("slow", activeDeadlineSeconds=30, command=["sleep", "3600"]), namespace=n)
        key = f"{n}/slow"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        await sync(ctrl, key)
        await cached(ctrl.job_informer.store, key, lambda j: (j.get("status") or {}).get("startTime"), "startTime")
        await eventually(lambda: _cache_has(ctrl, n, 1), what="pod in cache")
        clock.step(31)
        await sync(ctrl, key)
        j = await client.get(JOBS, "slow", namespace=n)
        conds = {c["type"]: c for c in j["status"]["conditions"]}
        assert conds["FailureTarget"]["reason"] == "DeadlineExceeded"
        assert "Failed" not in conds, "Failed waits until the pods are gone"
        # The pods were deleted (no kubelet here: the apiserver removes an unscheduled pod at once).
        assert await eventually(lambda: _no_active_pods(client, n, "slow"), what="pods deleted")
        await cached(ctrl.job_informer.store, key, lambda j: any(
            c["type"] == "FailureTarget" for c in (j.get("status") or {}).get("conditions") or []), "target cached")
        await eventually(lambda: _cache_empty(ctrl, n), what="pod gone from cache")
        await sync(ctrl, key)
        j = await client.get(JOBS, "slow", namespace=n)
        failed = [c for c in j["status"]["conditions"] if c["type"] == "Failed"][0]
        assert (failed["reason"], failed["message"]) == ("DeadlineExceeded", "Job was active longer than specified deadline")


async def _no_active_pods(client, n, name):
    return not [p for p in await job_pods(client, n, name) if not p["metadata"].get("deletionTimestamp")]


async def _cache_empty(ctrl, n):
    return not [p for p in ctrl.pod_informer.store.list() if p["metadata"]["namespace"] == n]


async def test_suspended_job_runs_nothing_until_resumed(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        await client.create(JOBS, job("later", suspend=True), namespace=n)
        key = f"{n}/later"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        await sync(ctrl, key)
        j = await client.get(JOBS, "later", namespace=n)
        cond = j["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
            "Suspended", "True", "JobSuspended", "Job suspended")
        assert "startTime" not in j["status"] and await job_pods(client, n, "later") == []
        await client.patch(JOBS, "later", {"spec": {"suspend": False}}, namespace=n, patch_type="merge")
        await cached(ctrl.job_informer.store, key, lambda j: not j["spec"]["suspend"], "resume cached")
        await sync(ctrl, key)
        j = await client.get(JOBS, "later", namespace=n)
        cond = j["status"]["conditions"][0]
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "JobResumed", "Job resumed")
        assert j["status"]["startTime"] and len(await job_pods(client, n, "later")) == 1


async def test_indexed_job_gives_each_pod_its_index(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        await client.create(JOBS, job("idx", completions=3, parallelism=3, completionMode="Indexed"), namespace=n)
        key = f"{n}/idx"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        await sync(ctrl, key)
        pods = await job_pods(client, n, "idx")
        by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
        assert sorted(by_index) == ["0", "1", "2"]
        for i, p in by_index.items():
            assert p["metadata"]["name"].startswith(f"idx-{i}-")
            assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == i
            assert p["spec"]["hostname"] == f"idx-{i}"
            env = p["spec"]["containers"][0]["env"]
            assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath":
                    "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} in env
        await finish(client, by_index["0"], "Succeeded", at=clock())
        await finish(client, by_index["2"], "Succeeded", at=clock())
        await eventually(lambda: _cache_finished(ctrl, n, 2), what="finished in cache")
        await sync(ctrl, key)
        j = await client.get(JOBS, "idx", namespace=n)
        assert j["status"]["completedIndexes"] == "0,2" and j["status"]["succeeded"] == 2


async def test_pod_failure_policy_fail_job_rule(ns):
    client, n = ns
    clock = Clock()
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                                              "values": [42]}}]}
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as ctrl:
        await client.create(JOBS, job("pfp", podFailurePolicy=policy), namespace=n)
        key = f"{n}/pfp"
        await cached(ctrl.job_informer.store, key, lambda j: True, "job in cache")
        await sync(ctrl, key)
        pod = (await job_pods(client, n, "pfp"))[0]
        await finish(client, pod, "Failed", at=clock(), exit_code=42)
        await eventually(lambda: _cache_failed(ctrl, n, 1), what="failure cached")
        await sync(ctrl, key)
        j = await client.get(JOBS, "pfp", namespace=n)
        failed = [c for c in j["status"]["conditions"] if c["type"] == "Failed"][0]
        assert failed["reason"] == "PodFailurePolicy"
        assert failed["message"] == (f"Container main for pod {n}/{pod['metadata']['name']} failed with exit code 42 "
                                     "matching FailJob rule at index 0")


async def test_ttl_after_finished_deletes_the_job_when_due(ns):
    client, n = ns
    clock = Clock()
    async with synced(client, lambda f: JobController(client, f, clock=clock, queue=clock.queue("job"))) as jc, \
            synced(client, lambda f: TTLAfterFinishedController(client, f, clock=lambda: clock.at,
                                                                queue=clock.queue("ttl"))) as ttl:
        await client.create(JOBS, job("short", ttlSecondsAfterFinished=100), namespace=n)
        key = f"{n}/short"
        await cached(jc.job_informer.store, key, lambda j: True, "job in cache")
        await sync(jc, key)
        await finish(client, (await job_pods(client, n, "short"))[0], "Succeeded", at=clock())
        await eventually(lambda: _cache_finished(jc, n, 1), what="success cached")
        await sync(jc, key)
        await cached(ttl.job_informer.store, key, lambda j: any(
            c["type"] == "Complete" for c in (j.get("status") or {}).get("conditions") or []), "complete cached")
        clock.step(99)
        await sync(ttl, key)
        assert (await client.get(JOBS, "short", namespace=n))["metadata"]["name"] == "short"
        clock.step(2)
        await sync(ttl, key)
        # Deleted in the foreground: with no garbage collector running here, it waits for its pod.
        try:
            j = await client.get(JOBS, "short", namespace=n)
        except errors.NotFound:
            return
        assert j["metadata"].get("deletionTimestamp") and "foregroundDeletion" in j["metadata"]["finalizers"]


async def test_controller_running_completes_a_job_and_wait_sees_it(ns):
    """The workers, not direct syncs: pods finishing wake the Job through the pod informer."""
    from tests.integration.controller_harness import running

    client, n = ns
    async with running(client, lambda f: JobController(client, f)):
        await client.create(JOBS, job("bg", completions=2, parallelism=2), namespace=n)
        pods = await eventually(lambda: _pods_if(client, n, "bg", 2), what="2 pods")
        for p in pods:
            await finish(client, p, "Succeeded", at=datetime.datetime.now(datetime.UTC))

        async def complete():
            j = await client.get(JOBS, "bg", namespace=n)
            return any(c["type"] == "Complete" and c["status"] == "True"
                       for c in (j.get("status") or {}).get("conditions") or [])
        await eventually(complete, what="Complete")
        assert len((await client.list(PODS, namespace=n))["items"]) == 2


async def _pods_if(client, n, name, count):
    pods = await job_pods(client, n, name)
    return pods if len(pods) == count else None
