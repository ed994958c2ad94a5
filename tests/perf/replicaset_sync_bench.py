"""What the ReplicaSet controller computes on each sync and pod event, without the apiserver: the
reads of ``controllers/controller_utils.py`` and ``controllers/replicaset_utils.py`` over one
ReplicaSet and its pods, timed from one or more source trees in the same run, so a restructuring
(issue #16's typed views) is measured against the tree before it.

One "sync" is what a scale-down sync reads before it writes: every pod filed by the
``controllerUID`` index function and checked for its controller reference (what each pod event
costs), the active pods filtered, the ``--delete`` pods to delete ranked among ``--pods`` (with
three times as many related pods of sibling ReplicaSets), and the status calculated and compared
with the ReplicaSet's.

    .venv/bin/python tests/perf/replicaset_sync_bench.py [--pods 100] [--delete 10] [--syncs 2000]
        [--rounds 5] [--tree DIR ...]

``--tree`` (repeatable) runs the syncs from each given tree in turn (a subprocess with that tree
first on ``sys.path``), alternating round by round; the first tree is the baseline of the ratios.
Default: this tree alone. Not a test: numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
NOW = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.UTC)


def pod(rs_uid: str, i: int) -> dict[str, Any]:
    """A pod of the ReplicaSet ``rs_uid``: most running and ready, some pending, on 5 nodes."""
    ready = i % 7 != 0
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{rs_uid}-{i:05}", "namespace": "default", "uid": f"{rs_uid}-p{i}",
                         "resourceVersion": str(1000 + i), "labels": {"app": "web", "pod-template-hash": "h1"},
                         "creationTimestamp": f"2026-12-05T11:{i % 60:02}:00Z",
                         "annotations": ({"controller.kubernetes.io/pod-deletion-cost": str(i % 3)} if i % 4 == 0
                                         else {}),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_uid,
                                              "uid": rs_uid, "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"nodeName": f"node-{i % 5}" if i % 11 else "",
                     "containers": [{"name": "web", "image": "web:v1"}]},
            "status": {"phase": "Running" if ready else "Pending",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": f"2026-12-05T11:{(i * 7) % 60:02}:00Z"}],
                       "containerStatuses": [{"name": "web", "restartCount": i % 3}]}}


def objects(n_pods: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "web-h1", "namespace": "default", "uid": "rs-1", "generation": 3},
          "spec": {"replicas": n_pods, "minReadySeconds": 5, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "h1"}},
                                "spec": {"containers": [{"name": "web", "image": "web:v1"}]}}},
          "status": {"replicas": n_pods, "fullyLabeledReplicas": n_pods, "readyReplicas": n_pods,
                     "availableReplicas": n_pods, "observedGeneration": 3}}
    pods = [pod("rs-1", i) for i in range(n_pods)]
    related = pods + [pod(f"rs-{s}", i) for s in (2, 3) for i in range(n_pods)]
    return rs, pods, related


def run_syncs(n_pods: int, n_delete: int, syncs: int) -> float:
    """Microseconds per sync, from the tree first on sys.path."""
    from controllers import controller_utils as cu
    from controllers import replicaset_utils as rsutil

    rs, pods, related = objects(n_pods)
    start = time.perf_counter()
    for _ in range(syncs):
        for p in pods:
            cu.controller_uid_index(p)
            cu.controller_ref(p)
        active = cu.filter_active_pods(pods)
        rsutil.pods_to_delete(active, related, n_delete, at=NOW)
        st = rsutil.calculate_status(rs, active, None, at=NOW)
        rsutil.status_unchanged(rs, st)
    return (time.perf_counter() - start) / syncs * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--delete", type=int, default=10)
    ap.add_argument("--syncs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tree", action="append", type=Path, default=[])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_syncs(args.pods, args.delete, args.syncs)))
        return
    trees = [t.resolve() for t in args.tree] or [HERE.parents[2]]
    times: dict[Path, list[float]] = {t: [] for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, str(HERE), "--child", "--pods", str(args.pods),
                                  "--delete", str(args.delete), "--syncs", str(args.syncs)],
                                 env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
            times[tree].append(json.loads(out))
    base = statistics.median(times[trees[0]])
    print(f"{args.pods} pods, {args.delete} to delete, {args.syncs} syncs x {args.rounds} rounds "
          f"(median us/sync, min-max)")
    for tree in trees:
        med = statistics.median(times[tree])
        print(f"  {tree}: {med:.1f} us/sync ({min(times[tree]):.1f}-{max(times[tree]):.1f}), "
              f"ratio to the first tree {med / base:.2f}")


if __name__ == "__main__":
    main()
