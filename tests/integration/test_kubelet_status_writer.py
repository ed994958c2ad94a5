"""The kubelet's pod status writes against a real apiserver: a write meant for one pod never
lands on another pod that took its name (a StatefulSet's ``db-0`` made again while the old one's
teardown still reports), as Kubernetes' status manager sends the pod's uid as a precondition."""

from __future__ import annotations

import uuid

from kubelet.status import StatusWriter
from minik8s.api.resources import PODS
from tests.kubelet_harness import pod_manifest


async def test_a_status_for_a_deleted_pod_never_lands_on_the_new_pod_of_its_name(client) -> None:
    name = f"db-{uuid.uuid4().hex[:6]}"
    manifest = pod_manifest(name, "node-a", [{"name": "db", "command": ["sleep", "3600"]}])
    old = await client.create(PODS, manifest, namespace="default")
    await client.delete(PODS, name, namespace="default", grace_period_seconds=0)
    new = await client.create(PODS, manifest, namespace="default")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]

    writer = StatusWriter(client)
    failed = {"phase": "Failed", "reason": "Terminated", "message": "the old pod's last word"}
    assert await writer.write(old, failed) is False
    now = await client.get(PODS, name, namespace="default")
    assert now["metadata"]["uid"] == new["metadata"]["uid"]
    assert (now.get("status") or {}).get("phase") != "Failed", now.get("status")

    # The pod it was meant for still gets its status.
    assert await writer.write(new, failed) is True
    now = await client.get(PODS, name, namespace="default")
    assert now["status"]["phase"] == "Failed" and now["status"]["message"] == "the old pod's last word"
    await client.delete(PODS, name, namespace="default", grace_period_seconds=0)
