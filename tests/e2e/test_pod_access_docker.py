"""Pod access with the real kubectl on real Docker: ``kubectl cp`` both ways (tar through
exec, busybox tar in the pod), ``kubectl attach``, ``kubectl run -it --rm`` and ``kubectl
debug`` (ephemeral containers)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pytest

from minik8s import errors
from minik8s.api.resources import ENDPOINTS, NODES, PODS, SERVICES
from tests.conftest import kubectl_args
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    BUSYBOX,
    container_status,
    is_ready,
    is_running,
    kubelet_factory,
    pod_manifest,
    wait_for,
    wait_pod,
)

pytestmark = pytest.mark.docker

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


async def test_cp_in_and_out_byte_for_byte(client, namespace, kubelet_factory, test_images, kubectl, tmp_path) -> None:
    kubelet = kubelet_factory()
    await client.create(PODS, pod_manifest("box", kubelet.node, [{"name": "main", "command": SLEEP}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "box", is_ready, what="Ready", kubelet=kubelet)
    payload = os.urandom(300_000) + b"\x00\xff end"
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.txt").write_text("beta\n")

    out = kubectl("cp", str(src), f"{namespace}/box:/tmp/in.bin", timeout=60)
    assert out.returncode == 0, out.stderr
    # The bytes in the container are those sent (checked inside, not through cp).
    out = kubectl("exec", "-n", namespace, "box", "--", "wc", "-c", "/tmp/in.bin")
    assert out.stdout.split()[0] == str(len(payload)), out

    out = kubectl("cp", f"{namespace}/box:/tmp/in.bin", str(tmp_path / "out.bin"), timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.bin").read_bytes() == payload

    # A directory, in and back out.
    out = kubectl("cp", str(tree), f"{namespace}/box:/tmp/tree", "-c", "main", timeout=60)
    assert out.returncode == 0, out.stderr
    assert kubectl("exec", "-n", namespace, "box", "--", "cat", "/tmp/tree/sub/b.txt").stdout == "beta\n"
    out = kubectl("cp", f"{namespace}/box:/tmp/tree", str(tmp_path / "back"), timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "back" / "a.txt").read_text() == "alpha\n"
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "beta\n"

    # A file that is not there: nothing is written here. (The pod's tar complains on the
    # exec's stderr; kubectl 1.32 exits 0 and prints that only when its stderr copy wins the
    # race with the end of the tar stream, as against Kubernetes, so it is not asserted.)
    out = kubectl("cp", f"{namespace}/box:/tmp/nope", str(tmp_path / "nope"), timeout=60)
    assert not (tmp_path / "nope").exists(), out


async def test_attach_and_run_interactive_rm(client, namespace, kubelet_factory, test_images, kubectl) -> None:
    kubelet = kubelet_factory()
    # stdin/stdinOnce: the container's own stdin is what attach -i feeds.
    main = {"name": "main", "stdin": True, "stdinOnce": True,
            "command": ["sh", "-c", "while read line; do echo \"got:$line\"; [ \"$line\" = bye ] && exit 3; done"]}
    await client.create(PODS, pod_manifest("talk", kubelet.node, [main, {"name": "side", "command": SLEEP}],
                                           restartPolicy="Never"), namespace=namespace)
    await wait_pod(client, namespace, "talk", is_ready, what="Ready", kubelet=kubelet)

    out = kubectl("attach", "-i", "-n", namespace, "talk", "-c", "main", input="hello\nbye\n", timeout=60)
    assert out.returncode == 0, out
    assert out.stdout == "got:hello\ngot:bye\n", out
    # What it answered was the container's own process: it exited with its code.
    pod = await wait_pod(client, namespace, "talk",
                         lambda p: "terminated" in (container_status(p, "main").get("state") or {}),
                         what="main terminated", kubelet=kubelet)
    assert container_status(pod, "main")["state"]["terminated"]["exitCode"] == 3

    out = kubectl("attach", "-n", namespace, "talk", "-c", "ghost", timeout=30)
    assert out.returncode == 1 and "container ghost not found in pod talk" in out.stderr, out.stderr

    # run -i --rm: create, attach, then delete; the container's exit code is kubectl's.
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": kubelet.node}})
    out = kubectl("run", "once", "-n", namespace, "--image", BUSYBOX, "--image-pull-policy", "IfNotPresent",
                  "--restart", "Never", "-i", "--rm", "--overrides", overrides, "--",
                  "sh", "-c", "read x; echo \"run got:$x\"", input="ping\n", timeout=90)
    assert out.returncode == 0, out
    assert "run got:ping" in out.stdout, out
    assert 'pod "once" deleted' in out.stdout, out

    async def gone() -> bool:
        try:
            await client.get(PODS, "once", namespace=namespace)
        except errors.NotFound:
            return True
        return False
    await wait_for(gone, what="pod once deleted")


async def test_debug_adds_an_ephemeral_container(client, namespace, kubelet_factory, test_images, kubectl,
                                                 api_http) -> None:
    kubelet = kubelet_factory()
    main = {"name": "main", "command": ["sh", "-c", "echo $$ > /tmp/main.pid; trap 'exit 0' TERM; "
                                                    "while :; do sleep 1; done"]}
    await client.create(PODS, pod_manifest("dbg", kubelet.node, [main]), namespace=namespace)
    await wait_pod(client, namespace, "dbg", is_ready, what="Ready", kubelet=kubelet)

    # kubectl debug: GET the pod, strategic-merge-PATCH pods/dbg/ephemeralcontainers.
    out = kubectl("debug", "-n", namespace, "dbg", "--image", BUSYBOX, "--image-pull-policy", "IfNotPresent",
                  "--container", "dbgr", "--target", "main", "--", "sh", "-c",
                  "trap 'exit 0' TERM; while :; do sleep 1; done", timeout=60)
    assert out.returncode == 0, out
    pod = await wait_pod(client, namespace, "dbg",
                         lambda p: "running" in (next((s for s in p["status"].get("ephemeralContainerStatuses") or []
                                                       if s["name"] == "dbgr"), {}).get("state") or {}),
                         what="ephemeral container dbgr Running", kubelet=kubelet)
    (eph,) = pod["spec"]["ephemeralContainers"]
    assert (eph["name"], eph["targetContainerName"], eph["image"]) == ("dbgr", "main", BUSYBOX)
    status = pod["status"]["ephemeralContainerStatuses"][0]
    assert status["ready"] is False and status["containerID"].startswith("docker://")
    assert pod["status"]["phase"] == "Running" and len(pod["status"]["containerStatuses"]) == 1

    # It shares the pod's network and, with --target, main's processes: it sees main's shell.
    out = kubectl("exec", "-n", namespace, "dbg", "-c", "dbgr", "--", "sh", "-c", "ps -o pid,args")
    assert out.returncode == 0, out
    assert "while :; do sleep 1; done" in out.stdout and "/tmp/main.pid" in out.stdout, out.stdout

    # The subresource only adds: removing or changing one is refused, naming the field.
    resp = api_http.patch(f"/api/v1/namespaces/{namespace}/pods/dbg/ephemeralcontainers",
                          json={"spec": {"ephemeralContainers": [{**eph, "image": "other:1"}]}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["details"]["causes"][0]["field"] == "spec.ephemeralContainers[0]", resp.text
    resp = api_http.patch(f"/api/v1/namespaces/{namespace}/pods/dbg/ephemeralcontainers",
                          json={"spec": {"ephemeralContainers": [eph, {"name": "main", "image": BUSYBOX}]}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 422 and "spec.ephemeralContainers[1].name" in resp.text, resp.text
    # A plain pod update may not add one (only the subresource may).
    resp = api_http.patch(f"/api/v1/namespaces/{namespace}/pods/dbg",
                          json={"spec": {"ephemeralContainers": [eph, {"name": "x", "image": BUSYBOX}]}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 422, resp.text


def test_unknown_path_is_a_full_not_found_status(api_http) -> None:
    # kubectl debug reads details of a 404 (a nil pointer in Go when they are missing).
    resp = api_http.patch("/api/v1/namespaces/default/pods/x/nosuchsubresource", json={},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status_code == 404
    body = resp.json()
    assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["details"] == {} and body["code"] == 404
    resp = api_http.get("/no/such/path")
    assert resp.status_code == 404 and resp.json()["details"] == {}, resp.text


async def test_proxy_subresources(client, namespace, kubelet_factory, test_images, kubectl, kubectl_path,
                                  apiserver_process, api_http, tmp_path) -> None:
    kubelet = kubelet_factory()
    web = {"name": "web", "ports": [{"containerPort": 8080, "name": "http"}],
           "command": ["sh", "-c", "mkdir -p /www && echo proxied > /www/index.html && exec httpd -f -p 8080 -h /www"]}
    await client.create(PODS, pod_manifest("web", kubelet.node, [web]), namespace=namespace)
    pod = await wait_pod(client, namespace, "web", is_ready, what="Ready", kubelet=kubelet)
    base = f"/api/v1/namespaces/{namespace}"

    # A pod by port number, by port name, and by default (its first container port).
    for name in ("web:8080", "web:http", "web"):
        out = kubectl("get", "--raw", f"{base}/pods/{name}/proxy/index.html")
        assert (out.returncode, out.stdout) == (0, "proxied\n"), (name, out)
    resp = api_http.get(f"{base}/pods/web:8080/proxy/nope.html")
    assert resp.status_code == 404  # the pod's own answer, relayed

    # A service: the endpoint of its named port, checked against the pod it names.
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                   "spec": {"selector": {"app": "web"},
                                            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
                        namespace=namespace)
    await client.create(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
                                    "subsets": [{"addresses": [{"ip": pod["status"]["podIP"], "targetRef": {
                                        "kind": "Pod", "name": "web", "namespace": namespace}}],
                                                 "ports": [{"name": "http", "port": 8080}]}]}, namespace=namespace)
    out = kubectl("get", "--raw", f"{base}/services/web:http/proxy/index.html")
    assert (out.returncode, out.stdout) == (0, "proxied\n"), out
    # An address no pod of the cluster owns is never dialled.
    await client.create(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "evil"},
                                    "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                                 "ports": [{"name": "http", "port": apiserver_process.port}]}]},
                        namespace=namespace)
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "evil"},
                                   "spec": {"ports": [{"name": "http", "port": 80}]}}, namespace=namespace)
    resp = api_http.get(f"{base}/services/evil:http/proxy/")
    assert resp.status_code == 503 and resp.json()["message"] == 'no endpoints available for service "evil"', resp.text

    # A node: its kubelet's API at its registered address.
    out = kubectl("get", "--raw", f"/api/v1/nodes/{kubelet.node}/proxy/healthz")
    assert (out.returncode, out.stdout) == (0, "ok"), out

    # Authorized as Kubernetes does: get on pods/proxy.
    env = {**os.environ, "HOME": str(tmp_path)}
    bob = apiserver_process.kubeconfig_for("bob", ())
    out = subprocess.run([kubectl_path, "--kubeconfig", str(bob), "--cache-dir", str(tmp_path / "c"), "get", "--raw",
                          f"{base}/pods/web:8080/proxy/index.html"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 1, out
    assert (f'pods "web:8080" is forbidden: User "bob" cannot get resource "pods/proxy" in API group "" '
            f'in the namespace "{namespace}"') in out.stderr, out.stderr


async def test_debug_interactive_and_run_with_a_terminal(client, namespace, kubelet_factory, test_images,
                                                         kubectl, kubectl_path, apiserver_process, tmp_path) -> None:
    kubelet = kubelet_factory()
    await client.create(PODS, pod_manifest("dbgi", kubelet.node, [{"name": "main", "command": SLEEP}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "dbgi", is_ready, what="Ready", kubelet=kubelet)
    # debug -i: the ephemeral container is added, waited for, then attached to.
    out = kubectl("debug", "-i", "-n", namespace, "dbgi", "--image", BUSYBOX, "--image-pull-policy", "IfNotPresent",
                  "--container", "dbgi2", "--", "sh", "-c", "read x; echo \"debug got:$x\"", input="yo\n", timeout=90)
    assert out.returncode == 0, out
    assert "debug got:yo" in out.stdout, out

    # run -it --rm: a terminal (script(1) gives kubectl one), the pod's tty, then deletion.
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": kubelet.node}})
    cmd = shlex.join([kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache"), "run", "tty1", "-n",
                      namespace, "--image", BUSYBOX, "--image-pull-policy", "IfNotPresent", "--restart", "Never",
                      "-it", "--rm", "--overrides", overrides, "--", "sh", "-c",
                      "read x; echo \"tty got:$x\""])
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(["script", "-qefc", cmd, "/dev/null"], input="typed\r", capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # kubectl's terminal mode, the container's terminal echoing what was typed, then the answer.
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert "If you don't see a command prompt, try pressing enter." in lines, proc.stdout
    assert lines[-2:] == ["tty got:typed", 'pod "tty1" deleted'] and "typed" in lines, proc.stdout
    assert 'pod "tty1" deleted' in proc.stdout, proc.stdout

    async def gone() -> bool:
        try:
            await client.get(PODS, "tty1", namespace=namespace)
        except errors.NotFound:
            return True
        return False
    await wait_for(gone, what="pod tty1 deleted")


async def test_proxy_to_a_pod_on_a_hollow_node_is_refused(client, namespace, kubelet_factory, kubectl) -> None:
    hollow = kubelet_factory(extra_args=("--runtime", "fake"))
    # A block of its own (as node IPAM would give it), so the hollow pod gets an IP and runs.
    await client.patch(NODES, hollow.node, {"spec": {"podCIDR": "10.251.78.0/24", "podCIDRs": ["10.251.78.0/24"]}})
    web = {"name": "web", "ports": [{"containerPort": 8080}]}
    await client.create(PODS, pod_manifest("ghost", hollow.node, [web]), namespace=namespace)
    pod = await wait_pod(client, namespace, "ghost", is_running, what="Running", kubelet=hollow)
    assert pod["status"].get("podIP"), pod["status"]  # it has an address, which nothing answers
    out = kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/pods/ghost:8080/proxy/", timeout=30)
    assert out.returncode == 1, out
    assert (f"Error from server (ServiceUnavailable): node {hollow.node} is hollow: its pods have no address "
            "to proxy to") in out.stderr, out.stderr
