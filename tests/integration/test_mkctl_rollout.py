"""``mkctl rollout`` on a real apiserver beside the real kubectl. No controller runs here: the
tests write what the deployment controller would (ReplicaSets owned by the deployment, with
revision annotations; the deployment's status), so every message is checked deterministically."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from minik8s.api.resources import DEPLOYMENTS, REPLICASETS
from tests.conftest import REPO, ApiServer
from tests.integration.mkctl_harness import mk, mkctl_command, ns, same  # noqa: F401 - fixtures

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: "nginx:1.27", ports: [{containerPort: 80}]}]
"""


def _rs(deploy: dict, revision: int, image: str, replicas: int, cause: str | None = None) -> dict:
    template = json.loads(json.dumps(deploy["spec"]["template"]))
    template["metadata"]["labels"]["pod-template-hash"] = f"h{revision}"
    template["spec"]["containers"][0]["image"] = image
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if cause:
        annotations["kubernetes.io/change-cause"] = cause
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-h{revision}", "namespace": deploy["metadata"]["namespace"],
                     "labels": {"app": "web", "pod-template-hash": f"h{revision}"}, "annotations": annotations,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                          "uid": deploy["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web", "pod-template-hash": f"h{revision}"}},
                 "template": template},
    }


@pytest.fixture
def history(apiserver_process, mk, ns: str) -> str:
    """A deployment at revision 3 (nginx:1.27) with ReplicaSets for revisions 1 (1.25) and 2 (1.26)."""
    mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok()

    async def setup() -> None:
        async with apiserver_process.client() as c:
            d = await c.get(DEPLOYMENTS, "web", namespace=ns)
            await c.create(REPLICASETS, _rs(d, 1, "nginx:1.25", 0, cause="first"), namespace=ns)
            await c.create(REPLICASETS, _rs(d, 2, "nginx:1.26", 0), namespace=ns)
            await c.create(REPLICASETS, _rs(d, 3, "nginx:1.27", 2), namespace=ns)
            await c.patch(DEPLOYMENTS, "web", {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}}},
                          namespace=ns)

    asyncio.run(setup())
    return ns


def test_history_matches_kubectl(mk, kubectl, history: str) -> None:
    r = same(mk, kubectl, "rollout", "history", "deployment/web", "-n", history)
    assert r.out.splitlines()[:2] == ["deployment.apps/web ", "REVISION  CHANGE-CAUSE"]
    assert r.out.splitlines()[2:5] == ["1         first", "2         <none>", "3         <none>"]
    same(mk, kubectl, "rollout", "history", "deploy", "web", "--revision=2", "-n", history)
    same(mk, kubectl, "rollout", "history", "deploy/web", "--revision=9", "-n", history)


def test_undo_to_previous_and_to_revision(mk, kubectl, history: str) -> None:
    def image() -> str:
        return kubectl("get", "deploy", "web", "-n", history, "-o",
                       "jsonpath={.spec.template.spec.containers[0].image}").stdout

    assert mk("rollout", "undo", "deploy/web", "-n", history).ok() == "deployment.apps/web rolled back\n"
    assert image() == "nginx:1.26"
    d = json.loads(kubectl("get", "deploy", "web", "-n", history, "-o", "json").stdout)
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"  # kept, as kubectl does
    assert mk("rollout", "undo", "deploy/web", "--to-revision=1", "-n", history).ok() == \
        "deployment.apps/web rolled back\n"
    assert image() == "nginx:1.25"
    assert mk("rollout", "undo", "deploy/web", "--to-revision=1", "-n", history).ok() == \
        "deployment.apps/web skipped rollback (current template already matches revision 1)\n"
    r = same(mk, kubectl, "rollout", "undo", "deploy/web", "--to-revision=7", "-n", history)
    assert r.err == "error: unable to find specified revision 7 in history\n"


def test_pause_resume_restart(mk, kubectl, history: str) -> None:
    assert mk("rollout", "pause", "deploy/web", "-n", history).ok() == "deployment.apps/web paused\n"
    r = same(mk, kubectl, "rollout", "pause", "deploy/web", "-n", history)
    assert r.err == 'error: deployments.apps "web" is already paused\n'
    r = same(mk, kubectl, "rollout", "undo", "deploy/web", "-n", history)
    assert "you cannot rollback a paused deployment" in r.err
    r = same(mk, kubectl, "rollout", "restart", "deploy/web", "-n", history)
    assert r.err == 'error: deployments.apps "web" can\'t restart paused deployment (run rollout resume first)\n'
    assert mk("rollout", "resume", "deploy/web", "-n", history).ok() == "deployment.apps/web resumed\n"
    same(mk, kubectl, "rollout", "resume", "deploy/web", "-n", history)
    assert mk("rollout", "restart", "deploy/web", "-n", history).ok() == "deployment.apps/web restarted\n"
    d = json.loads(kubectl("get", "deploy", "web", "-n", history, "-o", "json").stdout)
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    assert "paused" not in d["spec"]


async def _set_status(server: ApiServer, ns: str, **status) -> None:
    async with server.client() as c:
        d = await c.get(DEPLOYMENTS, "web", namespace=ns)
        d["status"] = {"observedGeneration": d["metadata"]["generation"], **status}
        await c.update_status(DEPLOYMENTS, d)


def test_status_messages_and_completion(apiserver_process, mk, kubectl, ns: str) -> None:
    mk("apply", "-n", ns, "-f", "-", input=DEPLOY).ok()
    r = same(mk, kubectl, "rollout", "status", "deploy/web", "-n", ns, "--watch=false")
    assert r.out == "Waiting for deployment spec update to be observed...\n" or r.out.startswith("Waiting for")
    for status, text in (
        ({"replicas": 1, "updatedReplicas": 1}, '1 out of 2 new replicas have been updated...'),
        ({"replicas": 3, "updatedReplicas": 2}, '1 old replicas are pending termination...'),
        ({"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}, '1 of 2 updated replicas are available...'),
    ):
        asyncio.run(_set_status(apiserver_process, ns, **status))
        r = same(mk, kubectl, "rollout", "status", "deploy/web", "-n", ns, "--watch=false")
        assert r.out == f'Waiting for deployment "web" rollout to finish: {text}\n'
    # a watching status finishes when the controller's status says so
    proc = subprocess.Popen([*mkctl_command(apiserver_process), "-n", ns, "rollout",
                             "status", "deployment/web"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"})
    try:
        assert proc.stdout.readline() == 'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas ' \
                                         "are available...\n"
        asyncio.run(_set_status(apiserver_process, ns, replicas=2, updatedReplicas=2, availableReplicas=2))
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out, err) == (0, 'deployment "web" successfully rolled out\n', "")
    asyncio.run(_set_status(apiserver_process, ns, replicas=2, updatedReplicas=1, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]))
    r = same(mk, kubectl, "rollout", "status", "deploy/web", "-n", ns)
    assert r.err == 'error: deployment "web" exceeded its progress deadline\n'
    r = same(mk, kubectl, "rollout", "status", "deploy/nope", "-n", ns)
    assert r.code == 1


def test_describe_lists_old_replicasets_mid_rollout(apiserver_process, mk, kubectl, history: str) -> None:
    """describe deployment lists every old ReplicaSet under OldReplicaSets, as kubectl does (its
    allOldRSs, scaled to zero or not); mkctl once kept only those with replicas."""
    async def old_still_running() -> None:
        async with apiserver_process.client() as c:
            await c.patch(REPLICASETS, "web-h2", {"spec": {"replicas": 1}}, namespace=history)

    asyncio.run(old_still_running())
    r = same(mk, kubectl, "describe", "deployment", "web", "-n", history)
    assert "OldReplicaSets:    web-h1 (0/0 replicas created), web-h2 (0/1 replicas created)\n" in r.out
