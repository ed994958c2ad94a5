"""StatefulSets on a real apiserver: ordered start (OrderedReady waits for each pod to be Running
and Ready), stable names, hostname/subdomain and claims per ordinal (reused when a pod is deleted
or the set scales back up), ordered scale-down, Parallel, rolling update from the highest
ordinal with ``kubectl rollout status|history|undo statefulset``, ``kubectl scale``, the
retention policy, and the 422 for changing an immutable field.

No kubelet runs: :class:`Readier` plays its status half for the pods it is told to.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from controllers.statefulset import StatefulSetController
from minik8s import errors
from minik8s.api.resources import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from tests.integration.controller_harness import running
from tests.integration.job_helpers import namespace
from tests.integration.workload_helpers import ready_status
from tests.waiting import eventually


@pytest.fixture
async def ns(apiserver_process):
    async with namespace(apiserver_process) as pair:
        yield pair


def sts(name: str, replicas: int = 3, image: str = "minik8s/busybox:v1", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "db", "image": image,
                                                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}],
                     **spec}}


async def live_pods(client, n: str, app: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in (await client.list(PODS, namespace=n, label_selector=f"app={app}"))["items"]
            if not p["metadata"].get("deletionTimestamp")}


async def ready(client, pod: dict) -> None:
    with contextlib.suppress(errors.NotFound):
        await client.patch(PODS, pod["metadata"]["name"], {"status": ready_status()}, namespace=pod["metadata"]["namespace"],
                           subresource="status", patch_type="merge")


def _is_ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])


class Readier:
    """Makes every pod of ``app`` Running and Ready, in a loop, while ``enabled``."""

    def __init__(self, client, n: str, app: str) -> None:
        self.client, self.n, self.app, self.enabled = client, n, app, True
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Readier:
        async def loop() -> None:
            while True:
                if self.enabled:
                    for p in (await live_pods(self.client, self.n, self.app)).values():
                        if not _is_ready(p):
                            await ready(self.client, p)
                await asyncio.sleep(0.05)
        self.task = asyncio.create_task(loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def names_are(client, n, app, want: set[str]):
    pods = await live_pods(client, n, app)
    return pods if set(pods) == want else None


async def test_ordered_start_stable_identity_and_claims(ns):
    client, n = ns
    async with running(client, lambda f: StatefulSetController(client, f)):
        await client.create(STATEFULSETS, sts("web"), namespace=n)
        first = await eventually(lambda: names_are(client, n, "web", {"web-0"}), what="web-0 alone")
        await asyncio.sleep(0.5)
        assert set(await live_pods(client, n, "web")) == {"web-0"}, "web-1 waits for web-0 to be ready"
        pod = first["web-0"]
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-0", "web")
        assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
        assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in pod["spec"]["volumes"]
        claim = await client.get(PERSISTENTVOLUMECLAIMS, "data-web-0", namespace=n)
        assert claim["metadata"]["labels"] == {"app": "web"} and "ownerReferences" not in claim["metadata"]
        # Each pod in turn, as the previous one becomes ready.
        await ready(client, pod)
        pods = await eventually(lambda: names_are(client, n, "web", {"web-0", "web-1"}), what="web-1")
        await ready(client, pods["web-1"])
        pods = await eventually(lambda: names_are(client, n, "web", {"web-0", "web-1", "web-2"}), what="web-2")
        await ready(client, pods["web-2"])

        async def status():
            s = (await client.get(STATEFULSETS, "web", namespace=n)).get("status") or {}
            return s if s.get("readyReplicas") == 3 and s.get("replicas") == 3 else None
        st = await eventually(status, what="3 ready")
        assert st["currentRevision"] == st["updateRevision"] and st["updatedReplicas"] == 3

        # A deleted pod comes back with the same name and the same claim.
        uid = pods["web-1"]["metadata"]["uid"]
        claim_uid = (await client.get(PERSISTENTVOLUMECLAIMS, "data-web-1", namespace=n))["metadata"]["uid"]
        await client.delete(PODS, "web-1", namespace=n)

        async def back():
            p = (await live_pods(client, n, "web")).get("web-1")
            return p if p is not None and p["metadata"]["uid"] != uid else None
        again = await eventually(back, what="web-1 again")
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in again["spec"]["volumes"]
        assert (await client.get(PERSISTENTVOLUMECLAIMS, "data-web-1", namespace=n))["metadata"]["uid"] == claim_uid
        await ready(client, again)

        # Scale down: highest ordinal first (the order the watch sees the deletions), claims kept.
        from minik8s.client.informer import Informer
        gone: list[str] = []
        inf = Informer(client, PODS, namespace=n)
        inf.add_handler(on_delete=lambda p: gone.append(p["metadata"]["name"]))
        task = asyncio.create_task(inf.run())
        try:
            await inf.wait_synced()
            await client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, namespace=n, patch_type="merge")
            await eventually(lambda: names_are(client, n, "web", {"web-0"}), what="scaled down to web-0")
            await eventually(lambda: _len_at_least(gone, 2), what="both deletions seen")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert gone == ["web-2", "web-1"]
        claims = {c["metadata"]["name"] for c in (await client.list(PERSISTENTVOLUMECLAIMS, namespace=n))["items"]}
        assert claims == {"data-web-0", "data-web-1", "data-web-2"}


async def _len_at_least(xs: list, n: int) -> bool:
    return len(xs) >= n


async def test_parallel_creates_every_pod_at_once(ns):
    client, n = ns
    async with running(client, lambda f: StatefulSetController(client, f)):
        await client.create(STATEFULSETS, sts("par", 3, podManagementPolicy="Parallel", ordinals={"start": 5}),
                            namespace=n)
        await eventually(lambda: names_are(client, n, "par", {"par-5", "par-6", "par-7"}), what="3 pods unready")


async def test_rolling_update_from_the_highest_ordinal_and_kubectl_rollout(ns, kubectl):
    client, n = ns

    async def k(*a):
        return await asyncio.to_thread(kubectl, "-n", n, *a, timeout=60)

    order: list[str] = []
    async with running(client, lambda f: StatefulSetController(client, f)), Readier(client, n, "roll"):
        await client.create(STATEFULSETS, sts("roll"), namespace=n)
        r = await k("rollout", "status", "statefulset/roll", "--timeout=40s")
        assert "partitioned roll out complete: 3 new pods have been updated" in r.stdout, r.stdout + r.stderr
        before = {name: p["metadata"]["uid"] for name, p in (await live_pods(client, n, "roll")).items()}

        seen: set[str] = set()

        async def watch_order():
            while True:
                for name, p in (await live_pods(client, n, "roll")).items():
                    if p["metadata"]["uid"] != before.get(name) and name not in seen:
                        seen.add(name)
                        order.append(name)
                await asyncio.sleep(0.02)
        watcher = asyncio.create_task(watch_order())
        try:
            r = await k("set", "image", "statefulset/roll", "db=minik8s/busybox:v2")
            assert r.returncode == 0, r.stderr
            r = await k("rollout", "status", "statefulset/roll", "--timeout=40s")
            assert "partitioned roll out complete: 3 new pods have been updated" in r.stdout, r.stdout + r.stderr
            await eventually(lambda: _all_image(client, n, "roll", "minik8s/busybox:v2"), what="all v2")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        assert order == ["roll-2", "roll-1", "roll-0"], order

        r = await k("rollout", "history", "statefulset/roll")
        assert [ln.split()[0] for ln in r.stdout.splitlines()[2:] if ln.strip()] == ["1", "2"], r.stdout
        r = await k("rollout", "undo", "statefulset/roll")
        assert "rolled back" in r.stdout, r.stdout + r.stderr
        await eventually(lambda: _all_image(client, n, "roll", "minik8s/busybox:v1"), what="all v1 again")
        revs = sorted(r["revision"] for r in (await client.list(CONTROLLERREVISIONS, namespace=n))["items"])
        assert revs == [2, 3]

        r = await k("scale", "statefulset", "roll", "--replicas=1")
        assert "statefulset.apps/roll scaled" in r.stdout, r.stderr
        await eventually(lambda: names_are(client, n, "roll", {"roll-0"}), what="scaled to 1")
        r = await k("get", "sts", "roll", "-o", "wide")
        assert r.stdout.splitlines()[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]


async def _all_image(client, n, app, image):
    pods = await live_pods(client, n, app)
    return len(pods) == 3 and all(p["spec"]["containers"][0]["image"] == image and _is_ready(p)
                                  for p in pods.values())


async def test_claims_deleted_with_the_set_when_asked(ns):
    client, n = ns
    async with running(client, lambda f: StatefulSetController(client, f)):
        created = await client.create(STATEFULSETS, sts("tmp", 1, persistentVolumeClaimRetentionPolicy={
            "whenDeleted": "Delete", "whenScaled": "Retain"}), namespace=n)
        claim = await eventually(lambda: _claim(client, n, "data-tmp-0"), what="claim")
        ref = claim["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"]) == ("StatefulSet", created["metadata"]["uid"])


async def _claim(client, n, name):
    with contextlib.suppress(errors.NotFound):
        return await client.get(PERSISTENTVOLUMECLAIMS, name, namespace=n)
    return None


async def test_immutable_fields_and_validation(ns):
    client, n = ns
    created = await client.create(STATEFULSETS, sts("imm", 1), namespace=n)
    created["spec"]["serviceName"] = "other"
    with pytest.raises(errors.Invalid) as e:
        await client.update(STATEFULSETS, created)
    assert any(c["field"] == "spec" and "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
               "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
               "forbidden" in c["message"] for c in e.value.causes), e.value.causes
    bad = sts("bad", 1, podManagementPolicy="Random")
    with pytest.raises(errors.Invalid) as e:
        await client.create(STATEFULSETS, bad, namespace=n)
    assert any(c["field"] == "spec.podManagementPolicy" for c in e.value.causes)
