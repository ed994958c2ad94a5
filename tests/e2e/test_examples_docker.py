"""Every example in ``examples/`` applied as its README says, with the real kubectl (and real
Helm through its Go SDK), on a two-node ``minik8s up`` on real Docker, asserting what the README
says it shows: blue/green traffic moves wholly to green and back; a canary answers in proportion
to replicas, then alone after promotion; Recreate never runs two versions at once; the
StatefulSet keeps its data across a pod deletion; the DaemonSet runs on both nodes; the Job and
the CronJob's Job complete; static and dynamic volumes bind and mount; the quota refuses what it
should and the LimitRange defaults what it should; the autoscaler adds replicas under load and
removes them after it; the kustomize overlays differ as they say;
the Helm chart installs, upgrades, rolls back and uninstalls.

The cluster is this module's own: ``minik8s up`` (node A, with the service proxy and DNS) and a
second kubelet of its own data dir (node B), as ``minik8s join`` runs one on the same host.
Requests through Services go from this host to the ClusterIP (the node proxy's iptables rules)
and on to pods on this machine's Docker bridges.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import helm_python as helm
import pytest

from tests.conftest import REPO
from tests.kubelet_harness import KubeletProc, remove_node_containers
from tests.minik8s_up_harness import Up, kubectl_for, remove_node_network, up_cluster, wait_until

pytestmark = pytest.mark.docker

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_client, test_images) -> Iterator[tuple[Up, KubeletProc]]:
    with up_cluster(tmp_path_factory, docker_client, "ex") as up:
        base = tmp_path_factory.mktemp("ex-node-b")
        second = KubeletProc(server=up.api, node=f"{up.node}-b", root=base / "root", log_path=base / "kubelet.log",
                             extra_args=["--disable-proxy", "--cluster-cidr", up.cluster_cidr])
        try:
            second.start(timeout=60)
            yield up, second
        finally:
            second.stop()
            remove_node_containers(docker_client, second.node)
            remove_node_network(docker_client, second.node)


@pytest.fixture(scope="module")
def kubectl(cluster, kubectl_path, tmp_path_factory):
    return kubectl_for(cluster[0], kubectl_path, tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture
def k(kubectl, cluster) -> Callable[..., str]:
    """``k(*args, input=None, ok=True)``: kubectl's stdout, asserting success unless ``ok=False``."""
    up, second = cluster

    def run(*args: str, input: str | None = None, ok: bool = True) -> str:
        r = kubectl(*args, input=input)
        if ok:
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}\n{up.diag()}\n{second.log_tail()}"
        return r.stdout if ok else r.stdout + r.stderr
    return run


@pytest.fixture
def ns(kubectl) -> Iterator[str]:
    name = f"ex-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def example(*parts: str) -> str:
    return str(EXAMPLES.joinpath(*parts))


def get_json(k, *args: str) -> dict:
    return json.loads(k("get", *args, "-o", "json"))


def http_get(host: str, port: int = 80, path: str = "/", *, method: str = "GET", body: str | None = None) -> str:
    """One request on a new connection (so each is balanced afresh by the proxy's rules)."""
    conn = http.client.HTTPConnection(host, port, timeout=3)
    try:
        conn.request(method, path, body=body)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def answers(host: str, count: int) -> list[str]:
    """The first word of ``count`` responses from ``host``:80 (``blue``, ``v2``, ...)."""
    out = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            out.append((http_get(host).split() or ["<empty>"])[0])
    return out


def cluster_ip(k, ns: str, service: str) -> str:
    return k("get", "service", service, "-n", ns, "-o", "jsonpath={.spec.clusterIP}")


def only(k, ns: str, ip: str, word: str, what: str) -> None:
    """Wait until ``ip`` answers ``word`` ten times in a row, then check twenty more."""
    wait_until(lambda: answers(ip, 10) == [word] * 10, what, timeout=60,
               diag=lambda: k("get", "endpoints,pods", "-n", ns, "-o", "wide"))
    seen = answers(ip, 20)
    assert seen == [word] * 20, f"{what}: {Counter(seen)}"


def test_blue_green_switches_all_traffic_and_back(k, ns) -> None:
    k("apply", "-n", ns, "-f", example("strategies", "blue-green"))
    for color in ("blue", "green"):
        k("rollout", "status", f"deployment/web-{color}", "-n", ns, "--timeout=120s")
    ip = cluster_ip(k, ns, "bg-web")
    only(k, ns, ip, "blue", "only blue answering before the switch")
    k("patch", "service", "bg-web", "-n", ns, "-p", '{"spec":{"selector":{"app":"bg-web","version":"green"}}}')
    only(k, ns, ip, "green", "only green answering after the switch")
    k("patch", "service", "bg-web", "-n", ns, "-p", '{"spec":{"selector":{"app":"bg-web","version":"blue"}}}')
    only(k, ns, ip, "blue", "only blue answering after switching back")


def test_canary_takes_its_share_then_is_promoted(k, ns) -> None:
    k("apply", "-n", ns, "-f", example("strategies", "canary"))
    for track in ("stable", "canary"):
        k("rollout", "status", f"deployment/shop-{track}", "-n", ns, "--timeout=120s")
    ip = cluster_ip(k, ns, "shop")
    wait_until(lambda: len(k("get", "endpoints", "shop", "-n", ns, "-o",
                             "jsonpath={.subsets[*].addresses[*].ip}").split()) == 4,
               "four endpoints behind the shop", timeout=60)
    seen = Counter(answers(ip, 120))
    assert set(seen) == {"v1", "v2"}, seen
    # One pod in four is the canary: 30 of 120 expected; the bounds are about 3.5 sigma wide.
    assert 12 <= seen["v2"] <= 50, f"the canary's share is out of proportion to replicas: {seen}"
    # Promote: the stable track takes the new version, the canary goes.
    k("set", "env", "deployment/shop-stable", "-n", ns, "VERSION=v2")
    k("rollout", "status", "deployment/shop-stable", "-n", ns, "--timeout=180s")
    k("delete", "deployment", "shop-canary", "-n", ns)
    k("wait", "--for=delete", "pod", "-l", "track=canary", "-n", ns, "--timeout=60s")
    wait_until(lambda: len(k("get", "endpoints", "shop", "-n", ns, "-o",
                             "jsonpath={.subsets[*].addresses[*].ip}").split()) == 3,
               "the three promoted pods alone behind the shop", timeout=60)
    only(k, ns, ip, "v2", "only v2 answering after promotion")


def test_recreate_never_runs_two_versions_at_once(k, ns, cluster) -> None:
    k("apply", "-n", ns, "-f", example("strategies", "recreate.yaml"))
    k("rollout", "status", "deployment/worker", "-n", ns, "--timeout=120s")
    # Follow every pod event of the Deployment while it is changed: at no moment may a pod of
    # the new template exist while one of the old template is still running.
    live: dict[str, str] = {}
    overlaps: list[str] = []
    stop = threading.Event()
    up = cluster[0]

    def follow() -> None:
        with up.api.http() as http, http.stream(
                "GET", f"/api/v1/namespaces/{ns}/pods",
                params={"watch": "true", "labelSelector": "app=worker", "timeoutSeconds": "120"}, timeout=130) as r:
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    continue
                event = json.loads(line)
                pod = event["object"]
                name, hash_ = pod["metadata"]["name"], pod["metadata"]["labels"].get("pod-template-hash", "")
                if event["type"] == "DELETED" or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                    live.pop(name, None)  # gone, or finished: no longer running (Kubernetes' oldPodsRunning)
                else:
                    live[name] = hash_
                if len(set(live.values())) > 1:
                    overlaps.append(", ".join(f"{n}={h}" for n, h in sorted(live.items())))

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    wait_until(lambda: len(live) == 2, "the watch seeing both v1 pods", timeout=30)
    k("set", "env", "deployment/worker", "-n", ns, "VERSION=v2")
    k("rollout", "status", "deployment/worker", "-n", ns, "--timeout=180s")
    wait_until(lambda: len(live) == 2 and len(set(live.values())) == 1, "two pods of one template", timeout=60)
    stop.set()
    assert not overlaps, f"old and new pods existed together: {overlaps[:3]}"
    logs = k("logs", "deployment/worker", "-n", ns)
    assert logs.startswith("worker v2 on worker-"), logs


def test_statefulset_keeps_its_data_across_a_pod_deletion(k, ns) -> None:
    k("apply", "-n", ns, "-f", example("statefulset", "kv.yaml"))
    k("rollout", "status", "statefulset/kv", "-n", ns, "--timeout=180s")
    claims = get_json(k, "pvc", "-n", ns)["items"]
    assert sorted((c["metadata"]["name"], c["status"]["phase"]) for c in claims) == [
        ("data-kv-0", "Bound"), ("data-kv-1", "Bound")]
    pod = get_json(k, "pod", "kv-0", "-n", ns)
    assert http_get(pod["status"]["podIP"], 8080, "/cgi-bin/kv?greeting", method="POST",
                    body="hello from kv-0") == "stored greeting\n"
    k("delete", "pod", "kv-0", "-n", ns)
    wait_until(lambda: (get_json(k, "pod", "kv-0", "-n", ns)["metadata"]["uid"] != pod["metadata"]["uid"]),
               "kv-0 recreated", timeout=60)
    k("wait", "--for=condition=Ready", "pod/kv-0", "-n", ns, "--timeout=120s")
    again = get_json(k, "pod", "kv-0", "-n", ns)
    volumes = {v["name"]: v for v in again["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "data-kv-0"
    assert http_get(again["status"]["podIP"], 8080, "/cgi-bin/kv?greeting") == "hello from kv-0"
    assert http_get(again["status"]["podIP"], 8080, "/cgi-bin/kv?other") == "no such key: other\n"


def test_daemonset_runs_its_agent_on_both_nodes(k, cluster) -> None:
    up, second = cluster
    try:
        k("apply", "-f", example("daemonset", "log-agent.yaml"))
        k("rollout", "status", "daemonset/log-agent", "-n", "logging", "--timeout=180s")
        pods = get_json(k, "pods", "-n", "logging", "-l", "app=log-agent")["items"]
        assert sorted(p["spec"]["nodeName"] for p in pods) == sorted([up.node, second.node])
        for p in pods:
            wait_until(lambda p=p: "entries in /var/log" in k("logs", p["metadata"]["name"], "-n", "logging"),
                       f"the agent on {p['spec']['nodeName']} reporting", timeout=30)
            assert f"log-agent on node {p['spec']['nodeName']}:" in k("logs", p["metadata"]["name"], "-n", "logging")
    finally:
        k("delete", "-f", example("daemonset", "log-agent.yaml"), "--wait=false", ok=False)


def test_job_and_cronjob_complete(k, ns) -> None:
    k("apply", "-n", ns, "-f", example("batch", "job.yaml"))
    k("wait", "--for=condition=complete", "job/sum-squares", "-n", ns, "--timeout=180s")
    job = get_json(k, "job", "sum-squares", "-n", ns)
    assert job["status"]["succeeded"] == 3
    assert k("logs", "job/sum-squares", "-n", ns).strip() == "333833500"
    k("apply", "-n", ns, "-f", example("batch", "cronjob.yaml"))
    k("create", "job", "report-now", "--from=cronjob/report", "-n", ns)
    k("wait", "--for=condition=complete", "job/report-now", "-n", ns, "--timeout=120s")
    assert k("logs", "job/report-now", "-n", ns).startswith("report at ")


def test_static_and_dynamic_volumes_bind_and_mount(k, ns) -> None:
    shutil.rmtree("/tmp/minik8s-example-static-pv", ignore_errors=True)
    try:
        k("apply", "-n", ns, "-f", example("storage", "pv-static.yaml"))
        k("wait", "--for=condition=Ready", "pod/static-reader", "-n", ns, "--timeout=120s")
        assert k("get", "pvc", "static-claim", "-n", ns, "-o", "jsonpath={.status.phase}/{.spec.volumeName}") == \
            "Bound/example-static-pv"
        wait_until(lambda: "visits so far: 1" in k("logs", "static-reader", "-n", ns), "the reader's first visit",
                   timeout=30)
        assert Path("/tmp/minik8s-example-static-pv/visits").read_text().count("\n") == 1

        k("apply", "-n", ns, "-f", example("storage", "pvc-dynamic.yaml"))
        k("wait", "--for=condition=Ready", "pod/dynamic-writer", "-n", ns, "--timeout=120s")
        claim = get_json(k, "pvc", "dynamic-claim", "-n", ns)
        assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "local-path"
        wait_until(lambda: "written by dynamic-writer" in k("logs", "dynamic-writer", "-n", ns),
                   "the writer's note", timeout=30)
        # Retain: the claim's deletion leaves the static volume Released, with its data.
        k("delete", "pod", "static-reader", "-n", ns)
        k("delete", "pvc", "static-claim", "-n", ns)
        wait_until(lambda: k("get", "pv", "example-static-pv", "-o", "jsonpath={.status.phase}") == "Released",
                   "the static volume Released", timeout=60)
        assert Path("/tmp/minik8s-example-static-pv/visits").exists()
    finally:
        k("delete", "pv", "example-static-pv", "--wait=false", ok=False)
        shutil.rmtree("/tmp/minik8s-example-static-pv", ignore_errors=True)


def test_quota_refuses_and_limitrange_defaults(k) -> None:
    def run_pod(name: str, *extra: str) -> str:
        return k("run", name, "-n", "team-a", "--image=minik8s/busybox:latest", "--image-pull-policy=IfNotPresent",
                 *extra, "--", "sleep", "3600", ok=False)

    try:
        k("apply", "-f", example("quota", "team-namespace.yaml"))
        # The quota's own usage is counted by the controller-manager before admission charges it.
        wait_until(lambda: k("get", "quota", "team-quota", "-n", "team-a", "-o", "jsonpath={.status.hard.pods}") == "4",
                   "the quota's status", timeout=30)
        assert "pod/probe created" in run_pod("probe")
        resources = get_json(k, "pod", "probe", "-n", "team-a")["spec"]["containers"][0]["resources"]
        assert resources == {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
        too_big = run_pod("big", "--overrides",
                          '{"spec":{"containers":[{"name":"big","image":"minik8s/busybox:latest",'
                          '"command":["sleep","3600"],"resources":{"limits":{"cpu":"600m"}}}]}}')
        assert "maximum cpu usage per Container is 500m, but limit is 600m" in too_big, too_big
        for i in range(3):
            assert f"pod/p{i} created" in run_pod(f"p{i}")
        refused = run_pod("p3")
        assert 'pods "p3" is forbidden: exceeded quota: team-quota, requested: pods=1, used: pods=4, limited: pods=4' \
            in refused, refused
    finally:
        k("delete", "namespace", "team-a", "--wait=false", ok=False)


def test_kustomize_overlays_differ_as_they_say(k, ns) -> None:
    for env, replicas in (("dev", 1), ("prod", 3)):
        k("apply", "-k", example("kustomize", "overlays", env), "-n", ns)
        k("rollout", "status", f"deployment/{env}-greeter", "-n", ns, "--timeout=180s")
        d = get_json(k, "deployment", f"{env}-greeter", "-n", ns)
        assert d["spec"]["replicas"] == replicas and d["status"]["readyReplicas"] == replicas
        assert d["spec"]["selector"]["matchLabels"] == {"app": "greeter", "env": env}
        config = d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        assert config.startswith(f"{env}-greeter-config-")  # kustomize's content hash suffix
        svc = get_json(k, "service", f"{env}-greeter", "-n", ns)
        assert svc["spec"]["selector"] == {"app": "greeter", "env": env}
    ip = cluster_ip(k, ns, "dev-greeter")
    wait_until(lambda: http_get(ip).startswith("hello from dev from dev-greeter-"), "dev's greeting", timeout=60)
    prod = get_json(k, "deployment", "prod-greeter", "-n", ns)["spec"]["template"]["spec"]["containers"][0]
    assert prod["resources"] == {"requests": {"cpu": "20m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}


def test_hpa_scales_up_under_load_and_back_down(k, ns, cluster) -> None:
    k("apply", "-n", ns, "-f", example("hpa"))
    k("rollout", "status", "deployment/hpa-web", "-n", ns, "--timeout=120s")
    ip = cluster_ip(k, ns, "hpa-web")
    assert http_get(ip, path="/cgi-bin/burn").startswith("OK hpa-web-")

    def replicas() -> int:
        return int(k("get", "deployment", "hpa-web", "-n", ns, "-o", "jsonpath={.spec.replicas}"))

    def diag() -> str:
        return k("get", "hpa,deployment,pods", "-n", ns, "-o", "wide") + k("describe", "hpa", "hpa-web", "-n", ns)

    # The first scrape gives the autoscaler its metric: TARGETS turns from <unknown> to a figure.
    wait_until(lambda: re.search(r"cpu: \d+%/50%", k("get", "hpa", "hpa-web", "-n", ns)),
               "the autoscaler reading the pods' CPU", timeout=90, diag=diag, interval=2)
    assert replicas() == 1
    k("run", "load-generator", "-n", ns, "--image=minik8s/busybox:latest", "--image-pull-policy=IfNotPresent",
      "--restart=Never", "--", "sh", "-c", "while sleep 0.05; do wget -q -O- http://hpa-web/cgi-bin/burn; done")
    wait_until(lambda: replicas() > 1, "hpa-web scaled up under load", timeout=150, diag=diag, interval=2)
    top = k("top", "pods", "-l", "app=hpa-web", "-n", ns)
    assert top.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"], top
    k("delete", "pod", "load-generator", "-n", ns, "--grace-period=1")
    wait_until(lambda: replicas() == 1, "hpa-web scaled back down once the load stopped", timeout=150, diag=diag, interval=2)
    events = k("get", "events", "-n", ns, "--field-selector", "reason=SuccessfulRescale", "-o",
               "jsonpath={.items[*].message}")
    assert "above target" in events and "All metrics below target" in events, events


def test_helm_chart_installs_upgrades_rolls_back_and_uninstalls(k, ns, cluster, monkeypatch, tmp_path) -> None:
    up = cluster[0]
    monkeypatch.setenv("HOME", str(tmp_path))  # Helm's caches and config go to a home of the test's
    chart = example("charts", "web")

    def deployment() -> tuple[int, str]:
        d = get_json(k, "deployment", "demo-web", "-n", ns)
        env = {e["name"]: e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        return d["spec"]["replicas"], env["MESSAGE"]

    with helm.Config(kubeconfig_path=str(up.kubeconfig), namespace=ns) as cfg:
        release = cfg.install(chart, "demo", namespace=ns, wait="watcher", timeout=180)
        assert (release["revision"], release["status"]) == (1, "deployed"), release
        assert "demo-web is installed: 2 pod(s)" in release["notes"]
        assert deployment() == (2, "hello")
        ip = cluster_ip(k, ns, "demo-web")
        wait_until(lambda: http_get(ip).startswith("hello from demo-web-"), "the release answering", timeout=60)

        release = cfg.upgrade(chart, "demo", {"replicaCount": 3, "message": "upgraded"}, namespace=ns,
                              wait="watcher", timeout=180)
        assert release["revision"] == 2
        assert deployment() == (3, "upgraded")

        cfg.rollback("demo", version=1, wait="watcher", timeout=180)
        assert deployment() == (2, "hello")
        history = cfg.history("demo")
        assert [(r["revision"], r["status"]) for r in history] == [
            (1, "superseded"), (2, "superseded"), (3, "deployed")], history

        cfg.uninstall("demo", wait="watcher", timeout=120)
    wait_until(lambda: not k("get", "deployment,service", "-n", ns, "-o", "name").strip(), "the release's objects gone",
               timeout=60)
    assert not k("get", "secrets", "-n", ns, "-l", "owner=helm", "-o", "name").strip()
