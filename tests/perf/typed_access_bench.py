"""What typed access to the objects a controller reads would cost (issue #16): the reads the
ReplicaSet, endpoints and node controllers make of every pod they are told about, done four ways
on the same pods, in the same run.

* ``dict``: today's code, ``controllers/controller_utils.py``'s helpers over the informer's dicts
  (the baseline);
* ``TypedDict``: the same reads through functions annotated with TypedDicts of Pod — what the
  type checker sees changes, the objects and the code that runs do not;
* ``view``: a slotted wrapper class built per pod whose properties read the dict;
* ``pydantic``: ``minik8s.api.core.Pod.model_validate`` of each pod (what handing the
  controllers the API models would cost per informer event) and attribute reads.

Prints microseconds per pod and each as a ratio to ``dict``. Run:

    .venv/bin/python tests/perf/typed_access_bench.py [--pods 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controllers import controller_utils as cu
from minik8s.api import core


def make_pod(i: int) -> dict[str, Any]:
    """A running ReplicaSet replica as the informer holds it (defaults and status filled)."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"web-7d4b9c-{i:05}", "namespace": "default", "uid": f"uid-{i}",
            "resourceVersion": str(1000 + i), "creationTimestamp": "2026-12-04T18:00:00Z",
            "generateName": "web-7d4b9c-", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
                                 "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "containers": [{"name": "web", "image": "minik8s/busybox:latest", "command": ["httpd", "-f"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "nodeName": f"node-{i % 100:03}",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running", "podIP": f"10.244.{i // 250}.{i % 250 + 2}", "hostIP": "172.17.0.1",
            "startTime": "2026-12-04T18:00:01Z", "qosClass": "Burstable",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-12-04T18:00:02Z"}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": "web", "ready": True, "restartCount": 0, "started": True,
                                   "image": "minik8s/busybox:latest", "imageID": "sha256:abc",
                                   "containerID": f"docker://{i:064x}",
                                   "state": {"running": {"startedAt": "2026-12-04T18:00:02Z"}}}],
        },
    }


# -- dict: today's helpers ------------------------------------------------------------------

def read_dict(pod: dict[str, Any]) -> tuple[Any, ...]:
    ref = cu.controller_ref(pod)
    return (cu.is_pod_active(pod), cu.is_pod_ready(pod), ref["uid"] if ref else None,
            cu.meta(pod).get("labels", {}).get("app"), (pod.get("spec") or {}).get("nodeName"),
            (pod.get("status") or {}).get("podIP"))


# -- TypedDict: the same reads, typed --------------------------------------------------------

class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    deletionTimestamp: str
    ownerReferences: list[OwnerReference]


class PodCondition(TypedDict, total=False):
    type: str
    status: str


class PodSpec(TypedDict, total=False):
    nodeName: str


class PodStatus(TypedDict, total=False):
    phase: str
    podIP: str
    conditions: list[PodCondition]


class Pod(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


def _controller_ref(pod: Pod) -> OwnerReference | None:
    for ref in pod.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def _ready(pod: Pod) -> bool:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def _active(pod: Pod) -> bool:
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed") and \
        not pod.get("metadata", {}).get("deletionTimestamp")


def read_typeddict(pod: Pod) -> tuple[Any, ...]:
    ref = _controller_ref(pod)
    return (_active(pod), _ready(pod), ref["uid"] if ref else None,
            pod.get("metadata", {}).get("labels", {}).get("app"), pod.get("spec", {}).get("nodeName"),
            pod.get("status", {}).get("podIP"))


# -- view: a wrapper class -------------------------------------------------------------------

class PodView:
    __slots__ = ("_o",)

    def __init__(self, obj: dict[str, Any]) -> None:
        self._o = obj

    @property
    def active(self) -> bool:
        return cu.is_pod_active(self._o)

    @property
    def ready(self) -> bool:
        return cu.is_pod_ready(self._o)

    @property
    def controller_uid(self) -> str | None:
        ref = cu.controller_ref(self._o)
        return ref["uid"] if ref else None

    @property
    def labels(self) -> dict[str, str]:
        return cu.meta(self._o).get("labels", {})

    @property
    def node_name(self) -> str | None:
        return (self._o.get("spec") or {}).get("nodeName")

    @property
    def pod_ip(self) -> str | None:
        return (self._o.get("status") or {}).get("podIP")


def read_view(pod: dict[str, Any]) -> tuple[Any, ...]:
    v = PodView(pod)
    return v.active, v.ready, v.controller_uid, v.labels.get("app"), v.node_name, v.pod_ip


# -- pydantic: the API model -----------------------------------------------------------------

def read_pydantic(pod: dict[str, Any]) -> tuple[Any, ...]:
    m = core.Pod.model_validate(pod)
    md, st = m.metadata, m.status
    ref = next((r for r in md.owner_references or [] if r.controller), None)
    ready = any(c.type == "Ready" and c.status == "True" for c in st.conditions or [])
    return (st.phase not in ("Succeeded", "Failed") and not md.deletion_timestamp, ready,
            ref.uid if ref else None, (md.labels or {}).get("app"), m.spec.node_name, st.pod_ip)


def timed(fn: Callable[[Any], tuple[Any, ...]], pods: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for p in pods:
        fn(p)
    return (time.perf_counter() - start) / len(pods) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pods = [make_pod(i) for i in range(args.pods)]
    expected = [read_dict(p) for p in pods[:50]]
    variants: dict[str, Callable[[Any], tuple[Any, ...]]] = {
        "dict": read_dict, "TypedDict": read_typeddict, "view": read_view, "pydantic": read_pydantic}
    for name, fn in variants.items():  # every way reads the same answers
        got = [fn(copy.deepcopy(p)) for p in pods[:50]]
        assert got == expected, (name, got[0], expected[0])
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):  # alternating, so drift in the machine's load hits each alike
        for name, fn in variants.items():
            results[name].append(timed(fn, pods if name != "pydantic" else pods[: max(1, args.pods // 10)]))
    base = statistics.median(results["dict"])
    print(f"{args.pods} pods, {args.rounds} rounds (median per pod; pydantic on a tenth of them)")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"  {name:<10} {med:8.2f} us/pod   {med / base:6.2f}x dict")


if __name__ == "__main__":
    main()
