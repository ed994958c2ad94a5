"""mkctl wait against the real kubectl: conditions, jsonpath values, delete and create, selectors,
timeouts and errors; and waits that end because the object changed while both were watching."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from tests.conftest import REPO, kubectl_args
from tests.integration.mkctl_harness import mk, mkctl_command, ns, same  # noqa: F401 - fixtures

_KLOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ ")


def _pod(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"w": "1"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def objects(kubectl, ns: str) -> str:
    items = [_pod("p1"), _pod("p2"),
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "1"}}]
    r = kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    assert r.returncode == 0, r.stderr
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "False"}]}}
    r = kubectl("patch", "pod", "p1", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    assert r.returncode == 0, r.stderr
    return ns


@pytest.mark.parametrize("args", [
    ["pod/p1", "--for=condition=Ready"],
    ["pod/p1", "--for=condition=ready=true"],               # names and values case-insensitive
    ["pod/p1", "--for=condition=PodScheduled=false", "-o", "name"],
    ["pods", "-l", "w=1", "--for=jsonpath={.spec.containers[0].image}=busybox"],
    ["pods", "--all", "--for=jsonpath=.kind=Pod"],
    ["cm/b", "--for=jsonpath={.data.x}=1"],
    ["cm/b", "--for=jsonpath={.data.x}"],
    ["cm/a", "--for=create"],
    ["cm/nope", "--for=delete"],
    ["cm", "-l", "nope=1", "--for=delete"],
    ["pod/p2", "--for=condition=Ready", "--timeout=3s"],
    ["pod/p2", "--for=condition=Ready", "--timeout=0"],
    ["cm/b", "--for=jsonpath={.data.x}=2", "--timeout=3s"],
    ["cm/a", "--for=delete", "--timeout=3s"],
    ["cm/nope", "--for=condition=Ready"],
    ["cm", "-l", "nope=1", "--for=condition=Ready"],
    ["cm", "--for=delete"],
    ["cm/a", "--for=bogus"],
    ["cm/a", "--for=jsonpath={.metadata}=x"],
    ["cm/a", "--for=jsonpath={.metadata.name}="],
    ["cm/a", "--for=jsonpath={.metadata.name"],
    ["--for=delete"],
])
def test_wait_matches_kubectl(mk, kubectl, objects: str, args: list[str]) -> None:
    # timeouts are 3 s, not 1: a kubectl whose whole deadline passes before it starts watching
    # (a loaded machine) says "client rate limiter Wait returned an error" instead
    m = same(mk, kubectl, "wait", "-n", objects, *args, stderr=False)
    k = kubectl("wait", "-n", objects, *args)
    # kubectl's informer may log a klog line ("Unhandled Error ... context deadline exceeded")
    # when the deadline cuts its watch: not part of what it tells the user
    assert m.err == "".join(line for line in k.stderr.splitlines(keepends=True) if not _KLOG.match(line))


def test_waits_end_when_the_watched_object_changes(apiserver_process, kubectl_path, kubectl, objects: str,
                                                   tmp_path) -> None:
    """Both clients wait; the condition comes true, an object is deleted: both report it at once."""
    ns = objects
    env = {**os.environ, "KUBECONFIG": "/nonexistent", "HOME": str(tmp_path)}
    k_cmd = [kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache")]
    waits = {
        "ready": ["wait", "-n", ns, "pod/p2", "--for=condition=Ready", "--timeout=40s"],
        "delete": ["wait", "-n", ns, "cm/a", "--for=delete", "--timeout=40s"],
        "value": ["wait", "-n", ns, "cm/b", "--for=jsonpath={.data.x}=7", "--timeout=40s"],
    }
    procs = {}
    for key, args in waits.items():
        for who, cmd in (("kubectl", k_cmd), ("mkctl", mkctl_command(apiserver_process))):
            procs[key, who] = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True, env=env, cwd=REPO)
    time.sleep(3)  # every waiter has read its object and is watching
    assert all(p.poll() is None for p in procs.values()), "a wait ended before anything changed"
    status = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert kubectl("patch", "pod", "p2", "-n", ns, "--subresource=status", "--type=merge",
                   "-p", json.dumps(status)).returncode == 0
    assert kubectl("delete", "cm", "a", "-n", ns).returncode == 0
    assert kubectl("patch", "cm", "b", "-n", ns, "--type=merge", "-p", '{"data":{"x":"7"}}').returncode == 0
    want = {"ready": "pod/p2 condition met\n", "delete": "configmap/a condition met\n",
            "value": "configmap/b condition met\n"}
    for (key, who), p in procs.items():
        out, err = p.communicate(timeout=30)
        assert (p.returncode, out) == (0, want[key]), f"{who} {waits[key]}: {p.returncode} {out!r} {err!r}"


def _requests(server, resource: str) -> dict[str, float]:
    """apiserver_request_total for ``resource`` by verb, from the server's /metrics."""
    with server.http() as http:
        text = http.get("/metrics").text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{") and f'resource="{resource}"' in line:
            verb = line.split('verb="', 1)[1].split('"', 1)[0]
            out[verb] = out.get(verb, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def test_wait_follows_a_watch_instead_of_polling(apiserver_factory) -> None:
    """While the condition is not met, mkctl wait holds one watch open and asks nothing else."""
    server = apiserver_factory()
    with server.http() as http:
        r = http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "w"}, "data": {"x": "1"}})
        assert r.status_code == 201, r.text
    before = _requests(server, "configmaps")
    cmd = [*mkctl_command(server), "wait", "cm/w", "-n", "default", "--for=jsonpath={.data.x}=2", "--timeout=60s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "KUBECONFIG": "/nonexistent"})
    time.sleep(4)
    during = _requests(server, "configmaps")
    with server.http() as http:
        r = http.patch("/api/v1/namespaces/default/configmaps/w", content='{"data":{"x":"2"}}',
                       headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (0, "configmap/w condition met\n"), err
    after = _requests(server, "configmaps")
    # a request is counted when it ends: the open watch shows once it has
    asked = {verb: during.get(verb, 0) - before.get(verb, 0) for verb in ("GET", "LIST", "WATCH")}
    assert asked == {"GET": 1, "LIST": 0, "WATCH": 0}, asked
    assert after.get("WATCH", 0) - before.get("WATCH", 0) == 1, after
    assert after.get("GET", 0) == during.get("GET", 0) and after.get("LIST", 0) == during.get("LIST", 0), after
