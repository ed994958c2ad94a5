"""/metrics on the scheduler's and controller-manager's secure ports, as kube-scheduler and
kube-controller-manager serve them: HTTPS (a self-signed certificate in --cert-dir), callers
authenticated by a client certificate of the cluster CA or a bearer token the apiserver
reviews (TokenReview), authorized by a SubjectAccessReview of ``get /metrics``
(system:monitoring); health checks open to all. The metrics move with the work done."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, pick_free_port


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(ss: dict, metric: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in ss.items() if n == metric and want <= ls)


class Component:
    """A scheduler or controller-manager process with its secure port on 127.0.0.1."""

    def __init__(self, module: str, server: Any, tmp: Path, *args: str) -> None:
        self.port = pick_free_port()
        self.cert_dir = tmp / f"{module}-certs"
        self.log = tmp / f"{module}.log"
        cmd = [sys.executable, "-m", module, "--kubeconfig", str(server.kubeconfig), "--leader-elect=false",
               "--secure-port", str(self.port), "--bind-address", "127.0.0.1", "--cert-dir", str(self.cert_dir),
               "--client-ca-file", str(server.ca_file), *args]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        self.url = f"https://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if (self.cert_dir / "ca.crt").exists() and self.get("/healthz").status_code == 200:
                    return
            except (httpx.HTTPError, OSError, ssl.SSLError):
                pass
            time.sleep(0.1)
        pytest.fail(f"{module}'s secure port did not answer:\n{self.log.read_text()}")

    def get(self, path: str, *, cert: tuple[Path, Path] | None = None, token: str | None = None) -> httpx.Response:
        ctx = ssl.create_default_context(cafile=str(self.cert_dir / "ca.crt"))  # its self-signed CA
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, verify=ctx, headers=headers, timeout=10)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def client_cert(server: Any, user: str, groups: tuple[str, ...] = ()) -> tuple[Path, Path]:
    from minik8s import pki

    pair = pki.ensure_client_cert(pki.ensure_ca(server.pki), server.log_path.parent / "metrics-certs",
                                  user.replace(":", "-"), user, list(groups))
    return pair.cert_path, pair.key_path


@pytest.fixture
def server(apiserver_factory: Any) -> Any:
    return apiserver_factory()


def test_scheduler_metrics_on_its_secure_port(server: Any, tmp_path: Path, kubectl: Any) -> None:
    sched = Component("scheduler.main", server, tmp_path)
    try:
        with server.http() as http:
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n-{uuid.uuid4().hex[:6]}"},
                    "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                               "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                               "conditions": [{"type": "Ready", "status": "True"}]}}
            assert http.post("/api/v1/nodes", json=node).status_code == 201
            for name, cpu in (("fits", "100m"), ("too-big", "64")):
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"containers": [{"name": "c", "image": "busybox",
                                                "resources": {"requests": {"cpu": cpu}}}]}}
                assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        monitor = client_cert(server, "prometheus", ("system:monitoring",))
        deadline = time.monotonic() + 20
        while True:
            r = sched.get("/metrics", cert=monitor)
            assert r.status_code == 200, r.text
            ss = samples(r.text)
            done = value(ss, "scheduler_schedule_attempts_total", result="scheduled", profile="default-scheduler") >= 1 \
                and value(ss, "scheduler_schedule_attempts_total", result="unschedulable") >= 1
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done, r.text[:3000]
        assert value(ss, "scheduler_scheduling_attempt_duration_seconds_count", result="scheduled") >= 1
        assert ("scheduler_pending_pods", frozenset({("queue", "unschedulable")})) in ss
        assert value(ss, "scheduler_pending_pods", queue="unschedulable") == 1
        assert value(ss, "process_cpu_seconds_total") > 0
        # who may read it: no credentials 401, a user without system:monitoring 403
        assert sched.get("/metrics").status_code == 401
        denied = sched.get("/metrics", cert=client_cert(server, "nosy"))
        assert denied.status_code == 403 and 'User "nosy" cannot get path "/metrics"' in denied.text
        assert sched.get("/healthz").text == "ok"  # always allowed
        # bearer tokens, reviewed by the apiserver: ServiceAccounts, one bound to system:monitoring
        tokens = {}
        for role in ("bound", "unbound"):
            sa = f"scraper-{role}-{uuid.uuid4().hex[:6]}"
            assert kubectl("create", "serviceaccount", sa, "-n", "default", server=server).returncode == 0
            tokens[role] = kubectl("create", "token", sa, "-n", "default", server=server).stdout.strip()
            if role == "bound":
                assert kubectl("create", "clusterrolebinding", sa, "--clusterrole=system:monitoring",
                               f"--serviceaccount=default:{sa}", server=server).returncode == 0
        r = sched.get("/metrics", token=tokens["bound"])
        assert r.status_code == 200 and "scheduler_schedule_attempts_total" in r.text
        assert sched.get("/metrics", token=tokens["unbound"]).status_code == 403
        assert sched.get("/metrics", token="not-a-token").status_code == 401
    finally:
        sched.stop()


def test_controller_manager_workqueue_metrics(server: Any, tmp_path: Path) -> None:
    # the reviews through kubeconfigs of their own, as kubeadm passes them
    cm = Component("controllers.main", server, tmp_path, "--controllers", "replicaset,deployment",
                   "--authentication-kubeconfig", str(server.kubeconfig),
                   "--authorization-kubeconfig", str(server.kubeconfig))
    try:
        with server.http() as http:
            d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
            assert http.post("/apis/apps/v1/namespaces/default/deployments", json=d).status_code == 201
        admin = (server.pki / "admin.crt", server.pki / "admin.key")  # system:masters may do anything
        deadline = time.monotonic() + 45
        while True:  # until both queues have handed out and finished a key
            ss = samples(cm.get("/metrics", cert=admin).text)
            if all(value(ss, "workqueue_work_duration_seconds_count", name=q) >= 1
                   for q in ("deployment", "replicaset")) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert cm.get("/metrics").status_code == 401
        assert cm.get("/metrics", cert=client_cert(server, "nosy-cm")).status_code == 403
        for q in ("deployment", "replicaset"):
            assert value(ss, "workqueue_adds_total", name=q) >= 1
            assert value(ss, "workqueue_work_duration_seconds_count", name=q) >= 1
            assert value(ss, "workqueue_queue_duration_seconds_count", name=q) >= 1
            assert ("workqueue_depth", frozenset({("name", q)})) in ss
            assert ("workqueue_longest_running_processor_seconds", frozenset({("name", q)})) in ss
    finally:
        cm.stop()
