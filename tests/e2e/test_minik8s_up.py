"""``minik8s up`` end to end on real Docker: it brings a Ready node up on a temporary data dir and
free ports, ``minik8s status`` reports every component healthy, its kubeconfig works with the
real kubectl, a component killed with SIGKILL is restarted by the supervisor, SIGTERM stops
every component while the pods' containers keep running, and the next ``up`` adopts them.
Secrets are encrypted at rest with the key ``up`` generated; the store and key files are 0600.

The node name is this test's own, so the kubelet adopts or removes nothing of anyone else's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import stat
import subprocess
import uuid

import pytest

from tests.conftest import REPO, pick_free_port
from tests.kubelet_harness import remove_node_containers
from tests.minik8s_up_harness import MINIK8S, Up, pid_alive, remove_node_network, wait_until

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def up(tmp_path_factory, docker_client, test_images):
    base = tmp_path_factory.mktemp("minik8s-up")
    kubelet_port = pick_free_port()
    cluster = Up(data_dir=base / "data", port=pick_free_port(), kubelet_port=kubelet_port,
                 node=f"up-{uuid.uuid4().hex[:8]}")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.run("down")
        if cluster.proc is not None and cluster.proc.poll() is None:
            cluster.proc.kill()
        remove_node_containers(docker_client, cluster.node)
        remove_node_network(docker_client, cluster.node)


@pytest.fixture(scope="module")
def kubectl_env(up, kubectl_path, tmp_path_factory):
    home = tmp_path_factory.mktemp("kubectl-home")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(home)}
        return subprocess.run([kubectl_path, *args], input=input, env=env, capture_output=True,
                              text=True, timeout=120)
    return run


def test_status_reports_every_component_healthy(up):
    r = up.run("status")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith("minik8s is running (up)")
    for name in ("apiserver", "controller-manager", "scheduler", "kubelet"):
        line = next((ln for ln in out.splitlines() if ln.split()[:1] == [name]), None)
        assert line is not None and " running " in line, out
        # its memory (RSS), in parentheses when it is the one process's that runs them all
        assert re.fullmatch(r"\(?\d+Mi\)?", line.split()[5]), line
    # every process minik8s runs, itself included, and what they hold together
    assert re.search(r"^memory: \d+Mi RSS in \d+ processes \(supervisor \d+Mi\), \d+Mi PSS$", out, re.M), out
    assert f"node {up.node} Ready" in out
    assert str(up.kubeconfig) in out


def test_the_kubeconfig_works_with_the_real_kubectl(up, kubectl_env):
    r = kubectl_env("config", "current-context")
    assert r.stdout.strip() == "minik8s", r.stderr
    r = kubectl_env("get", "nodes", "-o", "json")
    assert r.returncode == 0, r.stderr
    nodes = {n["metadata"]["name"]: n for n in json.loads(r.stdout)["items"]}
    conds = {c["type"]: c["status"] for c in nodes[up.node]["status"]["conditions"]}
    assert conds["Ready"] == "True"
    r = kubectl_env("get", "nodes")
    assert r.returncode == 0 and up.node in r.stdout and "Ready" in r.stdout


def test_the_printed_dashboard_url_serves_the_page_and_takes_a_token(up, kubectl_env):
    line = next(ln for ln in up.out_path.read_text().splitlines() if ln.startswith("web dashboard: "))
    url = line.split()[2]
    assert url == f"https://127.0.0.1:{up.port}/ui/", line
    with up.api.http(anonymous=True) as http:
        page = http.get(url)
        assert page.status_code == 200 and 'src="dashboard.js"' in page.text, page.text[:300]
        # What the page does first with the token it is given: who am I (SelfSubjectReview).
        token = kubectl_env("create", "token", "default", "-n", "default")
        assert token.returncode == 0, token.stderr
        review = http.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                           json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                           headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert review.status_code == 201, review.text
        assert review.json()["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"


def test_secrets_are_encrypted_at_rest_with_the_generated_key(up, kubectl_env):
    marker = f"up-secret-{uuid.uuid4().hex}"
    r = kubectl_env("create", "secret", "generic", f"s-{marker[-8:]}", f"--from-literal=v={marker}")
    assert r.returncode == 0, r.stderr
    r = kubectl_env("get", "secret", f"s-{marker[-8:]}", "-o", "jsonpath={.data.v}")
    assert base64.b64decode(r.stdout).decode() == marker, r.stderr
    raw = b"".join((up.data_dir / f).read_bytes() for f in ("store.db", "store.db-wal")
                   if (up.data_dir / f).exists())
    assert b"k8s:enc:aescbc:v1:key1:" in raw
    assert marker.encode() not in raw and base64.b64encode(marker.encode()) not in raw
    for f in ("store.db", "store.db-wal", "store.db-shm", "encryption-config.yaml"):
        assert stat.S_IMODE((up.data_dir / f).stat().st_mode) == 0o600, f
    kubectl_env("delete", "secret", f"s-{marker[-8:]}")


def test_the_audit_log_records_writes_with_the_default_policy(up, kubectl_env):
    marker = f"audited-{uuid.uuid4().hex}"
    name = f"a-{marker[-8:]}"
    assert kubectl_env("create", "configmap", name, "--from-literal=k=v").returncode == 0
    assert kubectl_env("create", "secret", "generic", name, f"--from-literal=v={marker}").returncode == 0
    log = up.data_dir / "logs" / "audit.log"

    def events():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def created(resource):
        return [e for e in events() if e["verb"] == "create" and e.get("objectRef", {}).get("name") == name
                and e["objectRef"]["resource"] == resource]

    wait_until(lambda: created("configmaps") and created("secrets"), "both creates in the audit log", timeout=15)
    (secret,) = created("secrets")
    assert secret["level"] == "Metadata" and secret["stage"] == "ResponseComplete"
    assert secret["user"]["username"] == "kubernetes-admin"
    assert marker not in log.read_text() and base64.b64encode(marker.encode()).decode() not in log.read_text()
    assert not any(e["stage"] == "RequestReceived" for e in events())  # omitted by the default policy
    assert not any(e.get("objectRef", {}).get("resource") == "leases" for e in events())
    for f in ("audit-policy.yaml", "logs/audit.log"):
        assert stat.S_IMODE((up.data_dir / f).stat().st_mode) == 0o600, f
    kubectl_env("delete", "secret", name)
    kubectl_env("delete", "configmap", name)


def test_pod_security_baseline_is_enforced_by_default_and_kube_system_is_exempt(up, kubectl_env):
    ns = f"psa-{uuid.uuid4().hex[:8]}"
    assert kubectl_env("create", "namespace", ns).returncode == 0
    host = '{"spec":{"hostNetwork":true}}'
    r = kubectl_env("-n", ns, "run", "bad", "--image=busybox", f"--overrides={host}", "--dry-run=server")
    assert r.returncode == 1
    assert ('Error from server (Forbidden): pods "bad" is forbidden: violates PodSecurity "baseline:latest": '
            "host namespaces (hostNetwork=true)") in r.stderr
    r = kubectl_env("-n", "kube-system", "run", "bad", "--image=busybox", f"--overrides={host}", "--dry-run=server")
    assert r.returncode == 0, r.stderr
    # audit mode reaches the audit log as Kubernetes' annotation
    assert kubectl_env("label", "ns", ns, "pod-security.kubernetes.io/audit=restricted").returncode == 0
    assert kubectl_env("-n", ns, "run", "plain", "--image=busybox", "--dry-run=server").returncode == 0
    log = up.data_dir / "logs" / "audit.log"

    def audited():
        if not log.exists():
            return []
        return [e for e in map(json.loads, log.read_text().splitlines())
                if e.get("objectRef", {}).get("namespace") == ns and e["objectRef"].get("name") == "plain"
                and e["verb"] == "create"]

    wait_until(audited, "the pod create in the audit log", timeout=15)
    violations = audited()[0]["annotations"]["pod-security.kubernetes.io/audit-violations"]
    assert violations.startswith('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false')
    assert stat.S_IMODE((up.data_dir / "admission-config.yaml").stat().st_mode) == 0o600
    kubectl_env("delete", "namespace", ns, "--wait=false")


def test_every_component_serves_prometheus_metrics(up, kubectl_env):
    """The apiserver through kubectl; the scheduler's and controller-manager's secure ports
    (127.0.0.1, self-signed, the admin certificate accepted) and the kubelet's node API
    (nodes/metrics; its in-process proxy and DNS included) with the cluster's admin certificate."""
    import ssl

    import httpx

    ns = f"metrics-{uuid.uuid4().hex[:6]}"
    assert kubectl_env("create", "namespace", ns).returncode == 0
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m", "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest", "imagePullPolicy": "IfNotPresent",
                                    "command": ["sleep", "3600"]}]}}
    wait_until(lambda: kubectl_env("apply", "-f", "-", input=json.dumps(pod)).returncode == 0 or None,
               "the pod created (its namespace's ServiceAccount exists)", timeout=30)
    r = kubectl_env("wait", "-n", ns, "--for=condition=Ready", "pod/m", "--timeout=90s")
    assert r.returncode == 0, r.stderr
    raw = kubectl_env("get", "--raw", "/metrics")
    assert raw.returncode == 0 and 'apiserver_request_total{' in raw.stdout, raw.stderr
    admin = up.api.ssl_context()
    for port, wanted in ((up.scheduler_port, 'scheduler_schedule_attempts_total{profile="default-scheduler",'
                                              'result="scheduled"}'),
                         (up.controller_manager_port, 'workqueue_adds_total{name="namespace"}')):
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # self-signed, as kubeadm's
        ctx.load_cert_chain(str(up.data_dir / "pki" / "admin.crt"), str(up.data_dir / "pki" / "admin.key"))
        m = httpx.get(f"https://127.0.0.1:{port}/metrics", verify=ctx, timeout=10)
        assert m.status_code == 200 and wanted in m.text, (port, m.text[:2000])
        assert httpx.get(f"https://127.0.0.1:{port}/metrics", verify=False, timeout=10).status_code == 401
    node = json.loads(kubectl_env("get", "node", up.node, "-o", "json").stdout)
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    m = httpx.get(f"https://{ip}:{port}/metrics", verify=admin, timeout=10)
    assert m.status_code == 200, m.text
    for wanted in ("kubelet_pod_start_duration_seconds_count", 'kubelet_runtime_operations_total{'
                   'operation_type="create_container"}', "kubeproxy_sync_proxy_rules_duration_seconds_count",
                   "process_resident_memory_bytes"):
        assert wanted in m.text, wanted
    kubectl_env("delete", "namespace", ns, "--wait=false")


def test_a_pod_token_reaches_the_api_through_the_kubernetes_service(up, kubectl_env, tmp_path):
    """The official Python client's in-cluster config with a pod's mounted token and CA. The
    busybox image has no Python and no TLS client that checks a CA, so the client runs on the
    host with the files read out of the pod, through the kubernetes Service's ClusterIP (which
    the node's proxy routes from the host as from a pod)."""
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    ns = f"sa-{uuid.uuid4().hex[:6]}"
    assert kubectl_env("create", "namespace", ns).returncode == 0
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": ns},
           "spec": {"nodeName": up.node, "containers": [{"name": "c", "image": "minik8s/busybox:latest",
                                                         "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}}
    r = wait_until(lambda: kubectl_env("apply", "-f", "-", input=json.dumps(pod)).returncode == 0 or None,
                   "the pod admitted (its namespace's default ServiceAccount made)")
    r = kubectl_env("wait", "-n", ns, "--for=condition=Ready", "pod/app", "--timeout=90s")
    assert r.returncode == 0, r.stderr + up.diag()
    spec = json.loads(kubectl_env("get", "pod", "app", "-n", ns, "-o", "json").stdout)["spec"]
    assert spec["serviceAccountName"] == "default"
    assert [v["name"] for v in spec["volumes"]][0].startswith("kube-api-access-")
    files = {}
    for name in ("token", "ca.crt", "namespace"):
        r = kubectl_env("exec", "-n", ns, "app", "--", "cat", f"/var/run/secrets/kubernetes.io/serviceaccount/{name}")
        assert r.returncode == 0, r.stderr
        (tmp_path / name).write_text(r.stdout)
        files[name] = r.stdout
    assert files["namespace"] == ns
    assert files["ca.crt"] == (up.data_dir / "pki" / "ca.crt").read_text()
    cluster_ip = kubectl_env("get", "svc", "kubernetes", "-n", "default", "-o", "jsonpath={.spec.clusterIP}").stdout
    loader = InClusterConfigLoader(token_filename=str(tmp_path / "token"), cert_filename=str(tmp_path / "ca.crt"),
                                   environ={"KUBERNETES_SERVICE_HOST": cluster_ip, "KUBERNETES_SERVICE_PORT": "443"})
    config = k8s.Configuration()
    loader._load_config()
    loader._set_config(config)
    api = k8s.CoreV1Api(k8s.ApiClient(config))
    with pytest.raises(ApiException) as refused:
        api.list_namespaced_pod(ns)
    assert refused.value.status == 403
    assert f"system:serviceaccount:{ns}:default" in refused.value.body
    assert kubectl_env("create", "role", "pod-reader", "-n", ns, "--verb=get,list", "--resource=pods").returncode == 0
    assert kubectl_env("create", "rolebinding", "read-pods", "-n", ns, "--role=pod-reader",
                       f"--serviceaccount={ns}:default").returncode == 0
    names = wait_until(lambda: _pod_names(api, ns), "the Role's grant seen by the authorizer")
    assert names == ["app"]
    review = k8s.AuthenticationV1Api(api.api_client).create_self_subject_review(k8s.V1SelfSubjectReview())
    assert review.status.user_info.username == f"system:serviceaccount:{ns}:default"
    assert f"system:serviceaccounts:{ns}" in review.status.user_info.groups
    assert review.status.user_info.extra["authentication.kubernetes.io/pod-name"] == ["app"]
    kubectl_env("delete", "namespace", ns, "--wait=false")


def _pod_names(api, ns):
    from kubernetes.client.rest import ApiException
    try:
        return [p.metadata.name for p in api.list_namespaced_pod(ns).items]
    except ApiException:
        return None


def test_a_node_joins_with_the_printed_command_and_its_own_certificate(up, kubectl_env, tmp_path, docker_client):
    """``minik8s join`` as ``up`` prints it (bootstrap token, CA pin): the CA is found through
    the signed cluster-info, the node gets a client certificate of its own through a CSR the
    controller-manager approves and signs, and with it may not touch another node."""
    import base64

    import yaml
    from cryptography import x509

    line = next(ln for ln in up.out_path.read_text().splitlines() if ln.startswith("other hosts join with: "))
    argv = line.split(": ", 1)[1].split()
    assert argv[:2] == ["minik8s", "join"] and argv[3] == "--token" and argv[5] == "--discovery-token-ca-cert-hash"
    node = f"joined-{uuid.uuid4().hex[:6]}"
    data = tmp_path / "joined"
    out = tmp_path / "join.out"
    with open(out, "wb") as f:
        proc = subprocess.Popen([*MINIK8S, *argv[1:], "--data-dir", str(data), "--node-name", node,
                                 "--kubelet-port", str(pick_free_port()), "--disable-dns", "--disable-proxy"],
                                cwd=REPO, stdout=f, stderr=subprocess.STDOUT)
    try:
        def ready():
            r = kubectl_env("get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
            return r.stdout == "True"
        wait_until(ready, f"node {node} Ready", timeout=120,
                   diag=lambda: out.read_text(errors="replace") + up.diag())
        kc = yaml.safe_load((data / "kubeconfig").read_text())
        user = kc["users"][0]["user"]
        assert "token" not in user and user["client-certificate-data"]
        cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
        assert cert.subject.rfc4514_string() == f"CN=system:node:{node},O=system:nodes"
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate((up.data_dir / "pki" / "ca.crt").read_bytes()))
        csrs = json.loads(kubectl_env("get", "csr", "-o", "json").stdout)["items"]
        mine = [c for c in csrs if c["spec"]["username"] == f"system:bootstrap:{argv[4][:6]}"]
        assert mine and mine[-1]["status"]["conditions"][0]["reason"] == "AutoApproved"
        assert "system:bootstrappers" in mine[-1]["spec"]["groups"]
        # the node's own identity: it may not modify another node
        env = {**os.environ, "KUBECONFIG": str(data / "kubeconfig")}
        r = subprocess.run(["kubectl", "label", "node", up.node, "stolen=yes"], env=env, capture_output=True, text=True)
        assert r.returncode != 0 and "Forbidden" in r.stderr, r.stderr
        # its node API serves a certificate it asked the cluster for (kubelet-serving, approved
        # for its own addresses), so the apiserver reaches it: kubectl logs of a pod there
        serving = [c for c in csrs if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
                   and c["spec"]["username"] == f"system:node:{node}"]
        assert serving and serving[-1]["status"]["conditions"][0]["reason"] == "AutoApproved"
        assert serving[-1]["status"]["certificate"]
        pod = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"on-{node}"},
                          "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [
                              {"name": "c", "image": "minik8s/busybox:latest", "imagePullPolicy": "Never",
                               "command": ["sh", "-c", "echo hello-from-joined; sleep 600"]}]}})
        assert kubectl_env("create", "-f", "-", input=pod).returncode == 0
        wait_until(lambda: kubectl_env("logs", f"on-{node}").stdout.strip() == "hello-from-joined",
                   "kubectl logs of a pod on the joined node", timeout=90,
                   diag=lambda: kubectl_env("logs", f"on-{node}").stderr + out.read_text(errors="replace"))
        kubectl_env("delete", "pod", f"on-{node}", "--wait=false")
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        remove_node_containers(docker_client, node)
        remove_node_network(docker_client, node)
        kubectl_env("delete", "node", node, "--wait=false")


def test_a_component_killed_with_sigkill_is_restarted(up):
    before = up.state()["components"]["scheduler"]
    os.kill(before["pid"], signal.SIGKILL)

    def restarted():
        c = up.state()["components"]["scheduler"]
        return c if c["state"] == "running" and c["pid"] != before["pid"] and pid_alive(c["pid"]) else None

    after = wait_until(restarted, "the scheduler restarted", diag=up.diag)
    assert after["restarts"] == before["restarts"] + 1
    assert after["lastExit"] == -signal.SIGKILL
    # one process runs every component (minik8s.up.host): they all started again with it
    wait_until(lambda: up.run("status").returncode == 0, "every component healthy again", diag=up.diag)


def test_sigterm_stops_every_component_and_a_restart_adopts_the_pods(up, kubectl_env, docker_client):
    pod = """apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: minik8s/busybox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
"""
    r = kubectl_env("apply", "-f", "-", input=pod)
    assert r.returncode == 0, r.stderr
    r = kubectl_env("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s")
    assert r.returncode == 0, r.stderr + up.diag()
    status = json.loads(kubectl_env("get", "pod", "sleeper", "-o", "json").stdout)["status"]
    cid = status["containerStatuses"][0]["containerID"].removeprefix("docker://")

    pids = [c["pid"] for c in up.state()["components"].values() if c.get("pid")]
    assert len(pids) >= 4
    assert up.proc is not None
    up.proc.send_signal(signal.SIGTERM)
    assert up.proc.wait(60) == 0
    assert not [p for p in pids if pid_alive(p)], "components outlived the supervisor"
    assert up.run("status").returncode == 1
    assert docker_client.containers.get(cid).status == "running"  # pods' containers stay

    up.start()
    r = kubectl_env("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=90s")
    assert r.returncode == 0, r.stderr + up.diag()
    after = json.loads(kubectl_env("get", "pod", "sleeper", "-o", "json").stdout)["status"]
    st = after["containerStatuses"][0]
    assert st["containerID"].removeprefix("docker://") == cid  # adopted, not recreated
    assert st["restartCount"] == 0

    r = up.run("down")
    assert r.returncode == 0 and "minik8s stopped" in r.stdout, r.stdout + r.stderr
    assert up.proc.wait(60) == 0
    assert docker_client.containers.get(cid).status == "running"
