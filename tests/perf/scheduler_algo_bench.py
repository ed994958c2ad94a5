"""Micro-benchmark of the scheduling algorithm alone: 1,000 nodes, 10,000 pods, no I/O.

Per pod it does what the scheduler process does between receiving a pod and sending its binding:
parse the pod (PodInfo), run one scheduling cycle over the cache's nodes, assume the pod onto the
chosen node. Prints pods/s, and the same for a baseline measured in the same run — a bare
first-fit loop over the same NodeInfos (cpu/memory/pod-count only, no scoring) — as a ratio.

The pods are a mix: ReplicaSet replicas (spread scoring), pods with a nodeSelector, pods with
tolerations for a tainted tenth of the cluster, best-effort pods. Run:

    .venv/bin/python tests/perf/scheduler_algo_bench.py [--nodes 1000] [--pods 10000]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scheduler.algorithm import default_algorithm
from scheduler.cache import SchedulerCache
from scheduler.framework import NodeInfo, PodInfo


def make_nodes(n: int) -> list[dict[str, Any]]:
    nodes = []
    for i in range(n):
        node: dict[str, Any] = {
            "metadata": {"name": f"node-{i:04}", "labels": {
                "kubernetes.io/hostname": f"node-{i:04}",
                "topology.kubernetes.io/zone": f"zone-{i % 3}",
                "disk": "ssd" if i % 2 else "hdd",
            }},
            "spec": {},
            "status": {
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
        if i % 10 == 0:
            node["spec"]["taints"] = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
        nodes.append(node)
    return nodes


def make_pods(n: int, rng: random.Random) -> list[dict[str, Any]]:
    pods = []
    for i in range(n):
        kind = i % 10
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "pause"}]}
        md: dict[str, Any] = {"name": f"pod-{i}", "namespace": "bench", "uid": f"uid-{i}"}
        if kind < 6:  # ReplicaSet replicas, 50 per set
            md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"rs-{i // 500}",
                                      "uid": f"rs-{(i // 10) % 20}", "controller": True}]
            spec["containers"][0]["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"}}
        elif kind < 8:
            spec["nodeSelector"] = {"disk": "ssd"}
            spec["containers"][0]["resources"] = {"requests": {"cpu": f"{rng.choice((50, 200, 250))}m",
                                                               "memory": "256Mi"}}
        elif kind == 8:
            spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "batch",
                                    "effect": "NoSchedule"}]
            spec["containers"][0]["resources"] = {"requests": {"cpu": "500m", "memory": "1Gi"}}
        # kind 9: best-effort, no requests
        pods.append({"metadata": md, "spec": spec, "status": {"phase": "Pending"}})
    return pods


def first_fit(pod: PodInfo, nodes: list[NodeInfo]) -> str:
    r = pod.requests
    for node in nodes:
        if (len(node.pods) < node.alloc_pods and node.req_cpu + r.milli_cpu <= node.alloc_cpu
                and node.req_mem + r.memory <= node.alloc_mem):
            return node.name
    raise RuntimeError("no fit")


def run(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], *, baseline: bool) -> tuple[float, SchedulerCache]:
    cache = SchedulerCache()
    for node in nodes:
        cache.add_node(node)
    algo = default_algorithm(rng=random.Random(42))
    gc.collect()
    start = time.perf_counter()
    for pod in pods:
        info = PodInfo(pod)
        name = first_fit(info, cache.nodes()) if baseline else algo.schedule(info, cache.nodes()).node_name
        cache.assume_pod(info, name)
    return time.perf_counter() - start, cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    args = ap.parse_args()
    rng = random.Random(0)
    nodes = make_nodes(args.nodes)
    pods = make_pods(args.pods, rng)

    t_base, _ = run(nodes, pods, baseline=True)
    t_algo, cache = run(nodes, pods, baseline=False)
    per_node = sorted(len(n.pods) for n in cache.nodes())
    print(f"scheduler algorithm: {args.nodes} nodes, {args.pods} pods")
    print(f"  default profile : {args.pods / t_algo:8.0f} pods/s  ({t_algo * 1e3 / args.pods:.3f} ms/pod)")
    print(f"  first-fit loop  : {args.pods / t_base:8.0f} pods/s  (baseline, same run)")
    print(f"  ratio           : {t_algo / t_base:.2f}x the baseline's time per pod")
    print(f"  pods per node   : min {per_node[0]}, median {per_node[len(per_node) // 2]}, max {per_node[-1]}")


if __name__ == "__main__":
    main()
