"""``mkctl get`` against a real apiserver, beside the real kubectl: the same bytes for tables
(plain, wide, -A, --show-labels, several types), yaml/json/name/jsonpath/custom-columns,
selectors, and the same errors and exit statuses."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration import mkctl_harness
from tests.integration.mkctl_harness import mk, mkctl_command, ns, run_mkctl, run_mkctl_process, same  # noqa: F401 - fixtures

PODS = """apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web, tier: fe}}
spec:
  containers: [{name: nginx, image: nginx:1.25, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-with-a-long-name, labels: {app: db}}
spec:
  containers: [{name: pg, image: postgres:16}, {name: side, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", when: "2024-01-01T00:00:00Z", multi: "x\\ny\\n", flag: "true"}
"""


@pytest.fixture
def objects(kubectl, ns: str) -> str:
    r = kubectl("apply", "-n", ns, "-f", "-", input=PODS)
    assert r.returncode == 0, r.stderr
    return ns


@pytest.mark.parametrize("args", [
    ["get", "pods"], ["get", "po", "-o", "wide"], ["get", "pods", "--show-labels"], ["get", "pods", "-l", "app=web"],
    ["get", "pods", "-l", "app in (web,db)", "--no-headers"], ["get", "pod", "web", "db-with-a-long-name"],
    ["get", "pods,cm"], ["get", "pod/web", "configmap/cfg"], ["get", "pods", "-L", "app"],
    ["get", "pods", "-L", "app,tier", "-L", "run"], ["get", "pods", "--label-columns=tier,app", "-o", "wide"],
    ["get", "pods", "--field-selector", "metadata.name=web"],
])
def test_tables_match_kubectl(mk, kubectl, objects: str, args: list[str]) -> None:
    same(mk, kubectl, *args, "-n", objects)


@pytest.mark.parametrize("output", [
    "yaml", "json", "name", "jsonpath={.items[*].metadata.name}",
    'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.containers[*].image}{"\\n"}{end}',
    "custom-columns=NAME:.metadata.name,IMAGES:.spec.containers[*].image,NODE:.spec.nodeName",
])
def test_object_outputs_match_kubectl(mk, kubectl, objects: str, output: str) -> None:
    same(mk, kubectl, "get", "pods", "-n", objects, "-o", output)
    same(mk, kubectl, "get", "pod", "web", "-n", objects, "-o", output)


def test_configmap_yaml_quoting_matches_kubectl(mk, kubectl, objects: str) -> None:
    same(mk, kubectl, "get", "cm", "cfg", "-n", objects, "-o", "yaml")
    same(mk, kubectl, "get", "cm", "cfg", "-n", objects, "-o", "json")


def test_all_namespaces_and_cluster_scoped(mk, kubectl, objects: str) -> None:
    out = mk("get", "pods", "-A").ok()
    assert out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [objects, "web"] for line in out.splitlines())
    same(mk, kubectl, "get", "namespace", objects)
    same(mk, kubectl, "get", "ns", objects, "-o", "jsonpath={.status.phase}")


def test_errors_match_kubectl(mk, kubectl, objects: str) -> None:
    r = same(mk, kubectl, "get", "pod", "nope", "-n", objects)
    assert (r.code, r.err) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    # found objects print, then the missing one fails the command
    same(mk, kubectl, "get", "pod", "web", "nope", "-n", objects)
    r = same(mk, kubectl, "get", "widgets")
    assert r.err == 'error: the server doesn\'t have a resource type "widgets"\n'
    r = same(mk, kubectl, "get", "pods", "-n", objects, "-l", "app=none")
    assert r.err == f"No resources found in {objects} namespace.\n"
    same(mk, kubectl, "get", "pods", "-n", objects, "-l", "app=none", "-o", "json")
    same(mk, kubectl, "get", "pod", "nope", "-n", objects, "--ignore-not-found")


def test_bad_flags_and_output_formats(mk, objects: str) -> None:
    r = mk("get", "pods", "--bogus")
    assert r.code == 1 and r.err.startswith("error: unknown flag: --bogus\n")
    r = mk("get", "pods", "-n", objects, "-o", "xml")
    assert r.code == 1 and 'unable to match a printer suitable for the output format "xml"' in r.err
    r = mk("get")
    assert r.code == 1 and "error: Required resource not specified." in r.err


def test_unreachable_server_in_one_line(free_port: int) -> None:
    r = run_mkctl("--server", f"http://127.0.0.1:{free_port}", "get", "pods")
    assert (r.code, r.out) == (1, "")
    assert r.err == (f"The connection to the server 127.0.0.1:{free_port} was refused - did you specify the right "
                     "host or port?\n")


def test_no_kubeconfig_falls_back_to_localhost_8080() -> None:
    r = run_mkctl("get", "pods")
    assert r.code == 1
    assert r.err.startswith("The connection to the server localhost:8080 was refused")


def test_watch_lists_then_prints_changes(apiserver_process, kubectl, objects: str) -> None:
    proc = subprocess.Popen([*mkctl_command(apiserver_process), "get", "pods", "-w",
                             "-n", objects], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"})
    try:
        header = proc.stdout.readline()
        assert header.split()[:2] == ["NAME", "READY"]
        first = {proc.stdout.readline().split()[0], proc.stdout.readline().split()[0]}
        assert first == {"web", "db-with-a-long-name"}
        assert kubectl("label", "pod", "web", "-n", objects, "x=y").returncode == 0
        changed = proc.stdout.readline().split()
        assert changed[0] == "web" and changed[2] == "Pending"
    finally:
        proc.kill()
        proc.wait()


def test_a_real_process_exits_like_kubectl(apiserver_process, kubectl, objects: str) -> None:
    p = run_mkctl_process(apiserver_process, "get", "pod", "nope", "-n", objects)
    k = kubectl("get", "pod", "nope", "-n", objects)
    assert (p.returncode, p.stdout, p.stderr) == (k.returncode, k.stdout, k.stderr)


@pytest.mark.parametrize("flags", [["-w", "--watch-only"], ["-w"], ["-w", "-o", "name"]])
def test_watch_ends_at_request_timeout_as_kubectl(apiserver_process, kubectl, objects: str, flags: list[str]) -> None:
    """``--request-timeout`` bounds the whole watch request (Go's http.Client.Timeout): kubectl
    prints what it listed, then ends quietly with status 0. mkctl once watched forever."""
    args = ["get", "pods", *flags, "--request-timeout=2", "-n", objects]
    k = kubectl(*args)
    m = run_mkctl_process(apiserver_process, *args, timeout=30)
    ages = mkctl_harness._AGE  # the two runs are seconds apart: ages may differ, nothing else
    assert (m.returncode, ages.sub("<age>", m.stdout), m.stderr) == \
        (k.returncode, ages.sub("<age>", k.stdout), k.stderr)


@pytest.mark.parametrize("path", ["/api/v1/namespaces/{ns}/pods", "/api/v1/namespaces/{ns}/pods/web",
                                  "/apis/apps/v1", "/api/v1/namespaces/{ns}/pods?limit=1", "/api/v1/nope"])
def test_get_raw_matches_kubectl(apiserver_process, kubectl, objects: str, path: str) -> None:
    """``get --raw PATH`` prints the server's body unchanged (kubectl's bytes, run as a process)."""
    args = ["get", "--raw", path.format(ns=objects)]
    k = kubectl(*args)
    m = run_mkctl_process(apiserver_process, *args, timeout=30)
    assert (m.returncode, m.stderr) == (k.returncode, k.stderr)
    assert m.stdout == k.stdout


def test_get_raw_takes_no_arguments(mk, kubectl, objects: str) -> None:
    r = same(mk, kubectl, "get", "pods", "--raw", "/api")
    assert r.code == 1 and "--raw" in r.err
