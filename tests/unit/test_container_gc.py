"""The kubelet's container GC: what stopped of a pod that is gone is removed, nothing else; and the
PLEG wakes no pod for those removals."""

from __future__ import annotations

from kubelet.container_gc import ContainerGC
from kubelet.pleg import Pleg
from kubelet.runtime import interface as ri
from kubelet.runtime.fake import FakeRuntime
from tests.unit.test_runtime_fake import networked, pod


async def _pod_with_app(rt: FakeRuntime, node: str, name: str) -> tuple[ri.PodSandboxConfig, str, str]:
    config = pod(node, name=name)
    sid = await rt.run_pod_sandbox(config)
    cid = await rt.create_container(sid, ri.ContainerConfig(name="app", image="i"))
    await rt.start_container(cid)
    return config, sid, cid


async def test_removes_what_stopped_of_gone_pods_and_keeps_the_rest() -> None:
    rt = await networked(FakeRuntime(), "node-a", "node-b")
    stopped, s_sid, _ = await _pod_with_app(rt, "node-a", "stopped")  # deleted, torn down
    await rt.stop_pod_sandbox(s_sid)
    stopping, _, stopping_cid = await _pod_with_app(rt, "node-a", "stopping")  # deleted, a container still runs
    known, k_sid, k_cid = await _pod_with_app(rt, "node-a", "known")  # exists, its app exited
    await rt.stop_container(k_cid, timeout=0)
    elsewhere, e_sid, _ = await _pod_with_app(rt, "node-b", "elsewhere")  # another node's
    await rt.stop_pod_sandbox(e_sid)

    gc = ContainerGC(rt, node="node-a", in_use={known.pod_uid}.__contains__)
    assert await gc.collect() == 2  # the stopped pod's container and sandbox
    assert await rt.list_pod_resources(pod_uid=stopped.pod_uid) == ([], [])
    sandboxes, containers = await rt.list_pod_resources(pod_uid=stopping.pod_uid)
    assert [c.id for c in containers] == [stopping_cid] and [s.state for s in sandboxes] == [ri.SandboxState.READY]
    sandboxes, containers = await rt.list_pod_resources(pod_uid=known.pod_uid)
    assert [c.id for c in containers] == [k_cid] and [s.id for s in sandboxes] == [k_sid]
    assert len((await rt.list_pod_resources(pod_uid=elsewhere.pod_uid))[1]) == 1

    # Once the last one stops, the next pass takes it and its sandbox; then nothing is left to do.
    (stopping_sandbox,) = await rt.list_pod_sandboxes(pod_uid=stopping.pod_uid)
    await rt.stop_pod_sandbox(stopping_sandbox.id)
    assert await gc.collect() == 2
    assert await rt.list_pod_resources(pod_uid=stopping.pod_uid) == ([], [])
    assert await gc.collect() == 0
    assert gc.removed == 4



async def test_the_pleg_wakes_no_pod_for_the_removal_of_what_had_stopped() -> None:
    """Kubernetes' isSyncPodWorthy: a removal is news only for what was still running."""
    rt = await networked(FakeRuntime(), "node-a")
    woken: list[str] = []
    pleg = Pleg(rt, node="node-a", on_change=woken.append, relist_period=1.0, evented=False)
    gone, g_sid, g_cid = await _pod_with_app(rt, "node-a", "gone")
    vanished, _, v_cid = await _pod_with_app(rt, "node-a", "vanished")
    await rt.stop_container(g_cid, timeout=0)
    await rt.stop_pod_sandbox(g_sid)
    await pleg.relist()
    assert sorted(woken) == sorted({gone.pod_uid, vanished.pod_uid})
    woken.clear()

    await rt.remove_container(g_cid)  # the container GC's work: nobody is woken for it
    await rt.remove_pod_sandbox(g_sid)
    await rt.remove_container(v_cid)  # gone while it ran (removed by force): its pod must know
    await pleg.relist()
    assert woken == [vanished.pod_uid]
