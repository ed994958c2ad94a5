"""Jobs, DaemonSets, PodDisruptionBudgets and StatefulSets end to end on real Docker with the real kubectl: apiserver + scheduler +
controller-manager + two kubelets (two nodes). A Job of 5 completions at parallelism 2
completes with 5 succeeded pods (``kubectl wait --for=condition=complete``, ``kubectl logs
job/X``); a Job whose container always fails backs off and fails at its ``backoffLimit``; a
DaemonSet runs a pod on each node, and on a node that joins later; ``kubectl drain`` waits on a
PodDisruptionBudget (evictions answered 429) and drains once the budget allows it; a StatefulSet
starts its pods in order, each with a local-path volume, and a deleted pod comes back with the
same name and the data its volume held, and each pod's name resolves through its headless Service;
a CronJob scheduled every minute creates a Job (on the real clock) that completes.

The cluster is this module's own (its own apiserver). Every container exits by itself, so the
tests stay short.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import ApiServer, pick_free_port, start_control_plane
from tests.kubelet_harness import KubeletProc, remove_node_containers
from tests.minik8s_up_harness import remove_node_network

pytestmark = pytest.mark.docker


@dataclass
class Cluster:
    api: ApiServer
    nodes: list[str]
    kubelets: list[KubeletProc]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, test_images, docker_client):
    base = tmp_path_factory.mktemp("batch-e2e")
    api = ApiServer(data_dir=base / "data", port=pick_free_port(), log_path=base / "apiserver.log")
    api.start()
    control_plane = start_control_plane(api, base)
    suffix = uuid.uuid4().hex[:6]
    nodes = [f"batch-a-{suffix}", f"batch-b-{suffix}"]
    kubelets = [KubeletProc(server=api, node=n, root=base / n, log_path=base / f"{n}.log") for n in nodes]
    try:
        for k in kubelets:
            k.start()
        yield Cluster(api, nodes, kubelets)
    finally:
        control_plane.stop()
        for k in kubelets:
            k.stop()
        for n in nodes:
            remove_node_containers(docker_client, n)
            remove_node_network(docker_client, n)
        api.stop()


@pytest.fixture
def k(cluster, kubectl):
    ns = f"batch-{uuid.uuid4().hex[:6]}"

    def run(*args: str, input: str | None = None, ok: bool = True, timeout: float = 180) -> str:
        r = kubectl("-n", ns, *args, input=input, server=cluster.api, timeout=timeout)
        if ok:
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}\n{cluster.kubelets[0].log_tail()}"
        return r.stdout + r.stderr

    run("create", "namespace", ns)
    yield run
    kubectl("delete", "namespace", ns, "--wait=false", server=cluster.api)


def _job(name: str, command: str, **spec: object) -> str:
    extra = "".join(f"  {key}: {val}\n" for key, val in spec.items())
    return f"""apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
{extra}  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: minik8s/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "{command}"]
"""


def test_job_of_5_completions_at_parallelism_2_completes(cluster, k):
    k("apply", "-f", "-", input=_job("five", "echo done-$HOSTNAME; sleep 1", completions=5, parallelism=2))
    out = k("wait", "--for=condition=complete", "job/five", "--timeout=150s")
    assert "job.batch/five condition met" in out
    job = json.loads(k("get", "job", "five", "-o", "json"))
    assert job["status"]["succeeded"] == 5 and "failed" not in job["status"]
    pods = json.loads(k("get", "pods", "-l", "job-name=five", "-o", "json"))["items"]
    assert len(pods) == 5 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    row = k("get", "job", "five").splitlines()[1].split()
    assert row[:3] == ["five", "Complete", "5/5"]
    assert "done-five-" in k("logs", "job/five")
    # Never more than 2 at once: the SuccessfulCreate events came in slices of at most 2.
    events = json.loads(k("get", "events", "--field-selector", "involvedObject.name=five", "-o", "json"))["items"]
    assert sum(e.get("count", 1) for e in events if e["reason"] == "SuccessfulCreate") == 5


def test_failing_job_backs_off_and_fails_at_backoff_limit(cluster, k):
    k("apply", "-f", "-", input=_job("doomed", "exit 3", backoffLimit=1))
    out = k("wait", "--for=condition=failed", "job/doomed", "--timeout=150s")
    assert "condition met" in out
    job = json.loads(k("get", "job", "doomed", "-o", "json"))
    failed = [c for c in job["status"]["conditions"] if c["type"] == "Failed"][0]
    assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert job["status"]["failed"] == 2
    pods = json.loads(k("get", "pods", "-l", "job-name=doomed", "-o", "json"))["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Failed" for p in pods)
    finished = sorted(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] for p in pods)
    started = sorted(p["metadata"]["creationTimestamp"] for p in pods)
    # The second pod was created only after the first failed (the 10 s back-off).
    assert started[1] >= finished[0]
    assert k("get", "job", "doomed").splitlines()[1].split()[:3] == ["doomed", "Failed", "0/1"]


def test_daemonset_runs_a_pod_on_each_node_and_on_a_node_added_later(cluster, k, tmp_path, docker_client):
    k("apply", "-f", "-", input="""apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: agent
        image: minik8s/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
""")
    assert "successfully rolled out" in k("rollout", "status", "daemonset/agent", "--timeout=120s")
    pods = json.loads(k("get", "pods", "-l", "app=agent", "-o", "json"))["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(cluster.nodes)
    assert all(p["status"]["phase"] == "Running" for p in pods)

    late = f"batch-c-{uuid.uuid4().hex[:6]}"
    kubelet = KubeletProc(server=cluster.api, node=late, root=tmp_path / late, log_path=tmp_path / "late.log")
    try:
        kubelet.start()
        out = k("rollout", "status", "daemonset/agent", "--timeout=120s")
        assert "successfully rolled out" in out
        pods = json.loads(k("get", "pods", "-l", "app=agent", "-o", "json"))["items"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == sorted([*cluster.nodes, late])
        row = k("get", "ds", "agent").splitlines()[1].split()
        assert row[:6] == ["agent", "3", "3", "3", "3", "3"]
    finally:
        # The pods go before the next test drains a node: kubectl drain looks up the DaemonSet of
        # every pod on the node and stops at one whose owner is already gone.
        k("delete", "daemonset", "agent", "--wait=false")
        k("wait", "--for=delete", "pods", "-l", "app=agent", "--timeout=60s", ok=False)
        assert not json.loads(k("get", "pods", "-l", "app=agent", "-o", "json"))["items"]
        kubelet.stop()
        k("delete", "node", late, "--wait=false", ok=False)  # nothing may be scheduled onto it later
        remove_node_containers(docker_client, late)
        remove_node_network(docker_client, late)


def test_drain_honours_a_pod_disruption_budget(cluster, k):
    k("apply", "-f", "-", input="""apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: minik8s/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
""")
    k("rollout", "status", "deployment/web", "--timeout=120s")
    pods = json.loads(k("get", "pods", "-l", "app=web", "-o", "json"))["items"]
    victim = pods[0]["spec"]["nodeName"]
    try:
        out = k("drain", victim, "--ignore-daemonsets", "--timeout=12s", ok=False)
        assert "Cannot evict pod as it would violate the pod's disruption budget." in out, out
        assert f"node/{victim} drained" not in out
        # Every web pod is still there: the budget held.
        assert len(json.loads(k("get", "pods", "-l", "app=web", "-o", "json"))["items"]) == 2
        k("patch", "pdb", "web", "--type=merge", "-p", '{"spec":{"minAvailable":1}}')
        out = k("drain", victim, "--ignore-daemonsets", "--timeout=120s")
        assert f"node/{victim} drained" in out, out
        k("rollout", "status", "deployment/web", "--timeout=120s")
        pods = json.loads(k("get", "pods", "-l", "app=web", "-o", "json"))["items"]
        assert pods and all(p["spec"]["nodeName"] != victim for p in pods
                            if not p["metadata"].get("deletionTimestamp"))
    finally:
        k("uncordon", victim, ok=False)
        k("delete", "deployment", "web", "--wait=false", ok=False)


def test_statefulset_starts_in_order_and_a_deleted_pod_keeps_name_and_data(cluster, k):
    k("apply", "-f", "-", input="""apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: minik8s/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "cat /data/log 2>/dev/null; echo start-$HOSTNAME-$(date +%s%N) >> /data/log; sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Mi}}
""")
    out = k("rollout", "status", "statefulset/db", "--timeout=150s")
    assert "partitioned roll out complete: 2 new pods have been updated" in out, out
    pods = {p["metadata"]["name"]: p for p in json.loads(k("get", "pods", "-l", "app=db", "-o", "json"))["items"]}
    assert sorted(pods) == ["db-0", "db-1"]
    ready0 = [c for c in pods["db-0"]["status"]["conditions"] if c["type"] == "Ready"][0]["lastTransitionTime"]
    assert pods["db-1"]["metadata"]["creationTimestamp"] >= ready0, "db-1 is created once db-0 is ready"
    claims = json.loads(k("get", "pvc", "-o", "json"))["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert all(c["status"]["phase"] == "Bound" for c in claims)
    first = k("logs", "db-0").strip()
    assert first == "", "a fresh volume is empty"
    # Each pod's stable DNS name resolves, from another pod, through the headless Service.
    ns = pods["db-0"]["metadata"]["namespace"]
    looked_up = ""
    for _ in range(30):  # the endpoints reach the node's DNS shortly after the pods are ready
        looked_up = k("exec", "db-1", "--", "nslookup", f"db-0.db.{ns}.svc.cluster.local", ok=False)
        if pods["db-0"]["status"]["podIP"] in looked_up:
            break
        time.sleep(1)
    assert pods["db-0"]["status"]["podIP"] in looked_up, looked_up

    old_uid = pods["db-0"]["metadata"]["uid"]
    k("delete", "pod", "db-0", "--wait=true", "--timeout=60s")
    out = k("rollout", "status", "statefulset/db", "--timeout=150s")
    again = json.loads(k("get", "pod", "db-0", "-o", "json"))
    assert again["metadata"]["uid"] != old_uid and again["spec"]["nodeName"] == pods["db-0"]["spec"]["nodeName"]
    logged = k("logs", "db-0").split()
    assert len(logged) == 1 and logged[0].startswith("start-db-0-"), logged  # the first run's line, kept


def test_cronjob_every_minute_creates_a_job_that_completes(cluster, k):
    """On the real clock: the next minute boundary is at most 60 s away."""
    k("create", "cronjob", "tick", "--image=minik8s/busybox:latest", "--schedule=* * * * *", "--", "true")
    k("patch", "cronjob", "tick", "--type=merge", "-p",
      '{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"tick","image":'
      '"minik8s/busybox:latest","imagePullPolicy":"IfNotPresent","command":["true"]}]}}}}}}')
    deadline = time.monotonic() + 70
    jobs: list = []
    while time.monotonic() < deadline and not jobs:
        jobs = json.loads(k("get", "jobs", "-o", "json"))["items"]
        time.sleep(1)
    assert jobs, "no Job within 70 s of a CronJob scheduled every minute"
    name = jobs[0]["metadata"]["name"]
    assert name.startswith("tick-") and jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert "condition met" in k("wait", "--for=condition=complete", f"job/{name}", "--timeout=90s")
    cj = json.loads(k("get", "cronjob", "tick", "-o", "json"))
    assert cj["status"]["lastScheduleTime"]
    k("delete", "cronjob", "tick")
