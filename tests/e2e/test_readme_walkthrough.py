"""The README's walkthrough, run as written against ``minik8s up`` on real Docker with the real
kubectl: each ``<!-- step: NAME -->`` block of README.md is one bash script (``set -euo
pipefail``: any failing command fails the step), run from the repository's root with
``KUBECONFIG`` pointing at the cluster. After each step the cluster is checked for what the
README says that step does, so a walkthrough that "runs" but does nothing still fails.

The steps the README has and the checks here must match one for one, in order.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, pick_free_port
from tests.kubelet_harness import remove_node_containers
from tests.minik8s_up_harness import Up, remove_node_network, wait_until

pytestmark = pytest.mark.docker

STEP = re.compile(r"<!-- step: (?P<name>[\w-]+) -->\s*\n```sh\n(?P<script>.*?)\n```", re.DOTALL)
V1, V2 = "minik8s/busybox:latest", "minik8s/busybox:v2"
STEP_TIMEOUT = 240  # every waiting command in the README bounds itself below this


def readme_steps() -> list[tuple[str, str]]:
    return [(m["name"], m["script"]) for m in STEP.finditer((REPO / "README.md").read_text())]


class Cluster:
    def __init__(self, up: Up, kubectl_path: str, home: Path) -> None:
        self.up = up
        bindir = home / "bin"
        bindir.mkdir()
        (bindir / "kubectl").symlink_to(kubectl_path)  # the README says `kubectl`: the real one
        self.env = {**os.environ, "KUBECONFIG": str(up.kubeconfig), "HOME": str(home),
                    "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def bash(self, name: str, script: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(["bash", "-c", "set -euo pipefail -x\n" + script], cwd=REPO, env=self.env,
                                  capture_output=True, text=True, timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            # -x traces each command to stderr: its last line is the command that hung.
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            pytest.fail(f"README step {name!r} still running after {STEP_TIMEOUT}s:\n{err}\n{self.up.diag()}")

    def get(self, *args: str) -> dict:
        r = subprocess.run(["kubectl", "get", *args, "-o", "json"], env=self.env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def absent(self, *args: str) -> bool:
        r = subprocess.run(["kubectl", "get", *args], env=self.env, capture_output=True, text=True, timeout=60)
        return r.returncode != 0 and "NotFound" in r.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_client, test_images, kubectl_path):
    base = tmp_path_factory.mktemp("walkthrough")
    up = Up(data_dir=base / "data", port=pick_free_port(), kubelet_port=pick_free_port(),
            node=f"readme-{uuid.uuid4().hex[:8]}")
    had_v2 = bool(docker_client.images.list(name=V2))
    up.start()
    try:
        yield Cluster(up, kubectl_path, base)
    finally:
        up.run("down")
        if up.proc is not None and up.proc.poll() is None:
            up.proc.kill()
        remove_node_containers(docker_client, up.node)
        remove_node_network(docker_client, up.node)
        if not had_v2:  # the walkthrough tagged it; someone else's tag stays
            with contextlib.suppress(Exception):
                docker_client.images.remove(V2)


# --- what each step must have done -------------------------------------------------------


def ready_pods(c: Cluster, *, image: str | None = None) -> list[dict]:
    pods = c.get("pods", "-l", "app=web")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and any(x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions") or [])
            and (image is None or p["spec"]["containers"][0]["image"] == image)]


def settled(c: Cluster, replicas: int, image: str) -> bool:
    """The deployment is complete: exactly ``replicas`` pods, all Ready and of ``image``."""
    d = c.get("deployment", "web")
    pods = [p for p in c.get("pods", "-l", "app=web")["items"] if not p["metadata"].get("deletionTimestamp")]
    return (d["spec"]["replicas"] == replicas and d["spec"]["template"]["spec"]["containers"][0]["image"] == image
            and len(pods) == replicas and len(ready_pods(c, image=image)) == replicas)


def check_deploy(c: Cluster, out: str) -> None:
    d = c.get("deployment", "web")
    assert d["status"].get("availableReplicas") == 3 and d["status"].get("updatedReplicas") == 3, d["status"]
    assert len(ready_pods(c, image=V1)) == 3
    assert "successfully rolled out" in out


def check_expose(c: Cluster, out: str) -> None:
    svc = c.get("service", "web")
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["clusterIP"] not in ("", "None")
    assert svc["spec"]["selector"] == {"app": "web"}
    # Both curls (the ClusterIP, then a pod's own IP) got the page a web pod serves.
    assert out.count("hello from web-") == 2, out


def check_scale(c: Cluster, out: str) -> None:
    wait_until(lambda: settled(c, 4, V1), "4 Ready web pods", timeout=60)


def check_update(c: Cluster, out: str) -> None:
    wait_until(lambda: settled(c, 4, V2), "4 Ready web pods of v2", timeout=60)
    assert "successfully rolled out" in out
    revisions = [line.split()[0] for line in out.split("REVISION", 1)[1].splitlines()[1:3]]
    assert revisions == ["1", "2"], out


def check_rollback(c: Cluster, out: str) -> None:
    wait_until(lambda: settled(c, 4, V1), "4 Ready web pods of the first image", timeout=60)
    assert c.get("deployment", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def check_heal(c: Cluster, out: str) -> None:
    victim = re.search(r'pod "([^"]+)" deleted', out)
    assert victim, out
    wait_until(lambda: settled(c, 4, V1), "4 Ready web pods again", timeout=60)
    assert victim.group(1) not in {p["metadata"]["name"] for p in ready_pods(c)}


def check_cleanup(c: Cluster, out: str) -> None:
    assert c.absent("deployment", "web") and c.absent("service", "web")


CHECKS: dict[str, Callable[[Cluster, str], None]] = {
    "deploy": check_deploy, "expose": check_expose, "scale": check_scale, "update": check_update,
    "rollback": check_rollback, "heal": check_heal, "cleanup": check_cleanup,
}


def test_the_readme_has_the_walkthrough_steps_this_test_checks():
    assert [name for name, _ in readme_steps()] == list(CHECKS)


@pytest.mark.timeout(900)
def test_the_walkthrough_runs_as_written(cluster):
    for name, script in readme_steps():
        r = cluster.bash(name, script)
        assert r.returncode == 0, (f"README step {name!r} failed (exit {r.returncode}):\n"
                                   f"{r.stderr}\n{r.stdout}\n{cluster.up.diag()}")
        CHECKS[name](cluster, r.stdout)
