"""The Deployment controller (with the ReplicaSet controller under it) against a real apiserver:
ReplicaSet naming and annotations, status and conditions, RollingUpdate bounds, Recreate,
rollback, proportional scaling, pause, revision history cleanup, the progress deadline.

No kubelet runs: :class:`PodReadier` marks pods Ready (only those a test lets it), so a
rollout can be made to progress or stall at will.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from controllers.deployment import DeploymentController
from controllers.replicaset import ReplicaSetController
from minik8s import errors
from minik8s.api.resources import DEPLOYMENTS, PODS, REPLICASETS
from minik8s.client.informer import Informer
from tests.integration.workload_helpers import Controllers, PodReadier, deployment, namespace, wait_for

LABELS = {"app": "web"}
V1, V2, V3 = "minik8s/busybox:1", "minik8s/busybox:2", "minik8s/busybox:3"


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as n:
        yield n


@pytest.fixture
async def ctrls(ns):
    c = Controllers(ns.client)
    c.rs = c.add(ReplicaSetController(ns.client, c.informers))
    c.dc = c.add(DeploymentController(ns.client, c.informers))
    yield c
    await c.stop()


def image_of(obj: dict) -> str:
    """The first container's image of a Deployment's or ReplicaSet's template, or of a pod."""
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    return spec["containers"][0]["image"]


def condition(obj: dict, ctype: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return c
    return None


async def set_image(ns, name: str, image: str) -> None:
    await ns.client.patch(DEPLOYMENTS, name, {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": image}]}}}}, patch_type="strategic")


async def complete(ns, name: str, *, image: str | None = None) -> dict | None:
    """The Deployment once `kubectl rollout status` would call it done (KUBECTL-WIRE.md)."""
    d = await ns.get_deploy(name)
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    if (st.get("observedGeneration") or 0) < d["metadata"]["generation"]:
        return None
    if image is not None and image_of(d) != image:
        return None
    if (st.get("updatedReplicas") or 0) < want or (st.get("replicas") or 0) > (st.get("updatedReplicas") or 0):
        return None
    if (st.get("availableReplicas") or 0) < (st.get("updatedReplicas") or 0):
        return None
    return d


async def rs_by_image(ns) -> dict[str, dict]:
    return {image_of(rs): rs for rs in await ns.replicasets()}


async def test_first_rollout_names_labels_annotates_and_reports(ns, ctrls):
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 3, LABELS, image=V1))
        d = await wait_for(lambda: complete(ns, "web"), what="rollout complete")
    [rs] = await ns.replicasets()
    hash_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{hash_}"
    assert rs["spec"]["selector"]["matchLabels"] == {**LABELS, "pod-template-hash": hash_}
    assert rs["spec"]["template"]["metadata"]["labels"] == {**LABELS, "pod-template-hash": hash_}
    ann = rs["metadata"]["annotations"]
    # 25% surge of 3 rounds up to 1.
    assert ann["deployment.kubernetes.io/revision"] == "1"
    assert ann["deployment.kubernetes.io/desired-replicas"] == "3"
    assert ann["deployment.kubernetes.io/max-replicas"] == "4"
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Deployment", "web", d["metadata"]["uid"], True)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    for p in await ns.pods():
        assert p["metadata"]["labels"]["pod-template-hash"] == hash_

    async def settled():
        d = await ns.get_deploy("web")
        prog = condition(d, "Progressing")
        return d if prog and prog["reason"] == "NewReplicaSetAvailable" else None
    d = await wait_for(settled, what="Progressing NewReplicaSetAvailable")
    st = d["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (3, 3, 3, 3)
    assert st.get("unavailableReplicas", 0) == 0
    assert st["observedGeneration"] == d["metadata"]["generation"]
    avail, prog = condition(d, "Available"), condition(d, "Progressing")
    assert (avail["status"], avail["reason"]) == ("True", "MinimumReplicasAvailable")
    assert (prog["status"], prog["message"]) == ("True", f'ReplicaSet "web-{hash_}" has successfully progressed.')
    events = await ns.events("ScalingReplicaSet")
    assert [e["message"] for e in events] == [f"Scaled up replica set web-{hash_} from 0 to 3"]
    assert events[0]["involvedObject"]["kind"] == "Deployment"
    assert events[0]["source"]["component"] == "deployment-controller"


async def test_rolling_update_with_max_unavailable_zero_keeps_every_replica_ready(ns, ctrls):
    await ctrls.start()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 4, LABELS, image=V1, strategy=strategy))
        await wait_for(lambda: complete(ns, "web"), what="first rollout")

        # Watch every pod change from here on: at no moment may fewer than 4 pods be ready,
        # nor more than 5 (replicas + maxSurge) exist.
        watcher = Informer(ns.client, PODS, namespace=ns.name)
        seen = {"min_ready": 99, "max_pods": 0}

        def observe(*_: dict) -> None:
            pods = [p for p in watcher.store.list() if not p["metadata"].get("deletionTimestamp")]
            ready = sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                               for c in (p.get("status") or {}).get("conditions") or []))
            seen["min_ready"] = min(seen["min_ready"], ready)
            seen["max_pods"] = max(seen["max_pods"], len(pods))
        watcher.add_handler(on_add=observe, on_update=observe, on_delete=observe)
        task = asyncio.create_task(watcher.run())
        await watcher.wait_synced()
        try:
            await set_image(ns, "web", V2)
            await wait_for(lambda: complete(ns, "web", image=V2), what="rolled to V2")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    # Exactly: the surge pod was seen (5 pods, 4 of them ready) and nothing went below or above.
    assert seen == {"min_ready": 4, "max_pods": 5}, seen
    by_image = await rs_by_image(ns)
    assert by_image[V1]["spec"]["replicas"] == 0 and by_image[V2]["spec"]["replicas"] == 4
    assert by_image[V2]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert {image_of(p) for p in await ns.pods()} == {V2}
    d = await ns.get_deploy("web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    msgs = [e["message"] for e in await ns.events("ScalingReplicaSet")]
    new_name = by_image[V2]["metadata"]["name"]
    old_name = by_image[V1]["metadata"]["name"]
    assert f"Scaled up replica set {new_name} from 0 to 1" in msgs
    assert f"Scaled down replica set {old_name} from 1 to 0" in msgs


async def test_rollback_reuses_the_old_replica_set_and_gives_it_the_newest_revision(ns, ctrls):
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 2, LABELS, image=V1))
        await wait_for(lambda: complete(ns, "web"), what="v1")
        first = (await rs_by_image(ns))[V1]
        await set_image(ns, "web", V2)
        await wait_for(lambda: complete(ns, "web", image=V2), what="v2")
        # What `kubectl rollout undo` does: the old RS's template, without the hash label.
        template = copy.deepcopy(first["spec"]["template"])
        del template["metadata"]["labels"]["pod-template-hash"]
        await ns.client.patch(DEPLOYMENTS, "web", [{"op": "replace", "path": "/spec/template", "value": template}],
                              patch_type="json")
        await wait_for(lambda: complete(ns, "web", image=V1), what="back on v1")
    rss = await rs_by_image(ns)
    assert len(rss) == 2
    back = rss[V1]
    assert back["metadata"]["uid"] == first["metadata"]["uid"]  # the same RS, not a new one
    assert back["spec"]["replicas"] == 2 and rss[V2]["spec"]["replicas"] == 0
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert (await ns.get_deploy("web"))["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


async def test_recreate_waits_for_old_pods_to_be_gone(ns, ctrls):
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 2, LABELS, image=V1, strategy={"type": "Recreate"}))
        await wait_for(lambda: complete(ns, "web"), what="v1")
    # Bind the old pods to a node so that deleting them is graceful: they linger, terminating,
    # as they would while a kubelet stops their containers.
    old_pods = await ns.pods()
    for p in old_pods:
        await ns.client.request("POST", PODS.path(ns.name, p["metadata"]["name"], "binding"),
                                json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": p["metadata"]["name"]},
                                      "target": {"apiVersion": "v1", "kind": "Node", "name": "nowhere"}})
    await set_image(ns, "web", V2)

    async def old_scaled_down_and_terminating():
        rss = await rs_by_image(ns)
        pods = await ns.pods(active=False)
        terminating = [p for p in pods if p["metadata"].get("deletionTimestamp")]
        return rss[V1]["spec"]["replicas"] == 0 and len(terminating) == 2
    await wait_for(old_scaled_down_and_terminating, what="old RS at 0, its pods terminating")
    key = f"{ns.name}/web"
    await wait_for(lambda: _cache_has_terminating(ctrls, ns, 2), what="cache sees terminating pods")
    # Sync it ourselves too, twice: the controller's own workers may be syncing the same key at
    # that moment, and a status write that loses that race is a Conflict the worker would retry.
    for _ in range(2):
        await _sync_retrying_conflicts(ctrls.dc, key)
    assert set(await rs_by_image(ns)) == {V1}, "no new ReplicaSet while old pods are still terminating"

    async with PodReadier(ns.client, ns.name):
        for p in old_pods:  # the "kubelet" finishes the deletion
            await ns.client.delete(PODS, p["metadata"]["name"], grace_period_seconds=0)
        await wait_for(lambda: complete(ns, "web", image=V2), what="recreated on v2")
    rss = await rs_by_image(ns)
    assert rss[V2]["spec"]["replicas"] == 2 and rss[V1]["spec"]["replicas"] == 0
    msgs = [e["message"] for e in await ns.events("ScalingReplicaSet")]
    assert f"Scaled down replica set {rss[V1]['metadata']['name']} from 2 to 0" in msgs
    assert f"Scaled up replica set {rss[V2]['metadata']['name']} from 0 to 2" in msgs


async def _sync_retrying_conflicts(controller, key: str) -> None:
    for attempt in range(10):
        try:
            await controller.sync(key)
            return
        except errors.Conflict:
            if attempt == 9:
                raise
            await asyncio.sleep(0.1)


async def _cache_has_terminating(ctrls, ns, n: int) -> bool:
    pods = ctrls.dc.pod_informer.store.by_index("namespace", ns.name)
    return sum(1 for p in pods if p["metadata"].get("deletionTimestamp")) == n


async def test_scaling_mid_rollout_is_proportional(ns, ctrls):
    """Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout to
    an image that never becomes ready stalls at 8 old + 5 new; scaling to 15 adds 3 to the old
    and 2 to the new ReplicaSet."""
    await ctrls.start()
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    async with PodReadier(ns.client, ns.name, accept=lambda p: image_of(p) == V1):
        await ns.client.create(DEPLOYMENTS, deployment("web", 10, LABELS, image=V1, strategy=strategy))
        await wait_for(lambda: complete(ns, "web"), what="v1")
        await set_image(ns, "web", V3)

        async def stalled():
            rss = await rs_by_image(ns)
            if V3 not in rss:
                return None
            sizes = (rss[V1]["spec"]["replicas"], rss[V3]["spec"]["replicas"])
            return sizes if sizes == (8, 5) else None
        await wait_for(stalled, what="rollout stalled at 8 old + 5 new")
        await ns.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 15}}, subresource="scale")

        async def scaled():
            rss = await rs_by_image(ns)
            sizes = (rss[V1]["spec"]["replicas"], rss[V3]["spec"]["replicas"])
            return sizes if sizes == (11, 7) else None
        await wait_for(scaled, what="proportional scale to 11 old + 7 new")
    rss = await rs_by_image(ns)
    for rs in rss.values():
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "15"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "18"


async def test_paused_deployment_scales_but_does_not_roll(ns, ctrls):
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 2, LABELS, image=V1))
        await wait_for(lambda: complete(ns, "web"), what="v1")
        await ns.client.patch(DEPLOYMENTS, "web", {"spec": {"paused": True}})
        await set_image(ns, "web", V2)
        await ns.client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 3}})

        async def paused_observed():
            d = await ns.get_deploy("web")
            prog = condition(d, "Progressing")
            rss = await ns.replicasets()
            if d["status"].get("observedGeneration") != d["metadata"]["generation"] or prog["reason"] != "DeploymentPaused":
                return None
            return (d, rss) if len(rss) == 1 and rss[0]["spec"]["replicas"] == 3 else None
        d, rss = await wait_for(paused_observed, what="paused: scaled to 3, no new RS")
        assert condition(d, "Progressing")["status"] == "Unknown"
        assert condition(d, "Progressing")["message"] == "Deployment is paused"
        assert image_of(rss[0]) == V1

        await ns.client.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}})
        await wait_for(lambda: complete(ns, "web", image=V2), what="resumed and rolled")
    assert (await rs_by_image(ns))[V2]["spec"]["replicas"] == 3


async def test_revision_history_limit_deletes_old_idle_replica_sets(ns, ctrls):
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 1, LABELS, image=V1, revisionHistoryLimit=1))
        await wait_for(lambda: complete(ns, "web"), what="v1")
        for image in (V2, V3):
            await set_image(ns, "web", image)
            await wait_for(lambda image=image: complete(ns, "web", image=image), what=image)

        async def cleaned():
            rss = await rs_by_image(ns)
            return rss if set(rss) == {V2, V3} else None
        rss = await wait_for(cleaned, what="only the newest old RS kept")
    assert rss[V3]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


async def test_progress_deadline_exceeded(ns, ctrls):
    await ctrls.start()
    # No readier: pods never become ready, so the rollout cannot progress.
    await ns.client.create(DEPLOYMENTS, deployment("web", 1, LABELS, image=V1, progressDeadlineSeconds=2))

    async def timed_out():
        d = await ns.get_deploy("web")
        prog = condition(d, "Progressing")
        return d if prog and prog["reason"] == "ProgressDeadlineExceeded" else None
    d = await wait_for(timed_out, timeout=30, what="ProgressDeadlineExceeded")
    [rs] = await ns.replicasets()
    prog = condition(d, "Progressing")
    assert prog["status"] == "False"
    assert prog["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    avail = condition(d, "Available")
    assert (avail["status"], avail["reason"]) == ("False", "MinimumReplicasUnavailable")

    # Progress again (the pod becomes ready): the condition recovers.
    async with PodReadier(ns.client, ns.name):
        async def recovered():
            d = await ns.get_deploy("web")
            prog = condition(d, "Progressing")
            return d if prog and prog["reason"] == "NewReplicaSetAvailable" else None
        await wait_for(recovered, what="NewReplicaSetAvailable after the pod became ready")


async def test_sync_adopts_an_orphan_replica_set_with_the_same_template(ns, ctrls):
    """A ReplicaSet left behind by `delete --cascade=orphan` is adopted by a new Deployment."""
    await ctrls.start()
    async with PodReadier(ns.client, ns.name):
        await ns.client.create(DEPLOYMENTS, deployment("web", 2, LABELS, image=V1))
        await wait_for(lambda: complete(ns, "web"), what="v1")
        [rs] = await ns.replicasets()
        await ns.client.delete(DEPLOYMENTS, "web", propagation_policy="Orphan")

        async def orphaned():
            try:
                await ns.get_deploy("web")
                return None
            except Exception:
                pass
            rs2 = await ns.get_rs(rs["metadata"]["name"])
            return rs2 if not rs2["metadata"].get("ownerReferences") else None
        # Removing the ownerReferences is the garbage collector's job; do it here if none runs.
        await ns.client.patch(REPLICASETS, rs["metadata"]["name"], {"metadata": {"ownerReferences": None}})
        d_obj = await ns.client.get(DEPLOYMENTS, "web")
        if d_obj["metadata"].get("finalizers"):
            await ns.client.patch(DEPLOYMENTS, "web", {"metadata": {"finalizers": None}})
        await wait_for(orphaned, what="RS orphaned")
        d = await ns.client.create(DEPLOYMENTS, deployment("web", 2, LABELS, image=V1))

        async def adopted():
            rs2 = await ns.get_rs(rs["metadata"]["name"])
            refs = rs2["metadata"].get("ownerReferences") or []
            return rs2 if refs and refs[0]["uid"] == d["metadata"]["uid"] else None
        await wait_for(adopted, what="orphan RS adopted")
        await wait_for(lambda: complete(ns, "web"), what="complete with the adopted RS")
    assert len(await ns.replicasets()) == 1
    assert len(await ns.pods()) == 2
