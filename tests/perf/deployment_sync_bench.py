"""What the Deployment controller computes on each sync, without the apiserver: the reads and
arithmetic of ``controllers/deployment_utils.py`` (and ``deployment._with_kind``) over a
Deployment in the middle of a rolling update, timed from one or more source trees in the same
run, so a restructuring (issue #16's typed views) is measured against the tree before it.

One "sync" is what a RollingUpdate sync reads before it writes: the ReplicaSets given their kind,
the new and old ReplicaSets found (the template compared ignoring the hash), the next revision,
whether it is a scaling event, the new ReplicaSet's allowed size, the scale-down budget of the old
ones, and the status they imply compared with the Deployment's (``calculate_status``,
``status_equal``). ``--rss`` ReplicaSets: the new one and old ones of other templates.

    .venv/bin/python tests/perf/deployment_sync_bench.py [--rss 10] [--syncs 20000] [--rounds 5]
        [--tree DIR ...]

``--tree`` (repeatable) runs the syncs from each given tree in turn (a subprocess with that tree
first on ``sys.path``), alternating round by round; the first tree is the baseline of the ratios.
Default: this tree alone. Not a test: numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import copy
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


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}],
                                     "resources": {"requests": {"cpu": "100m"}}}],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 30}}


def objects(n_rss: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Deployment of 30 replicas rolling to ``web:v{n_rss}``, and its ``n_rss`` ReplicaSets."""
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 7,
                      "annotations": {"deployment.kubernetes.io/revision": str(n_rss)}},
         "spec": {"replicas": 30, "selector": {"matchLabels": {"app": "web"}}, "template": template(f"web:v{n_rss}"),
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                  "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
         "status": {"observedGeneration": 7, "replicas": 38, "updatedReplicas": 8, "readyReplicas": 30,
                    "availableReplicas": 30, "unavailableReplicas": 8,
                    "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                    "message": "Deployment has minimum availability.",
                                    "lastUpdateTime": "2026-12-05T11:59:00Z",
                                    "lastTransitionTime": "2026-12-05T11:59:00Z"}]}}
    rss = []
    for i in range(1, n_rss + 1):
        size = 8 if i == n_rss else (30 if i == n_rss - 1 else 0)
        rss.append({"metadata": {"name": f"web-{i:05}", "namespace": "default", "uid": f"rs-{i}",
                                 "creationTimestamp": f"2026-12-05T11:{i:02}:00Z", "generation": 2,
                                 "labels": {"app": "web", "pod-template-hash": f"h{i}"},
                                 "annotations": {"deployment.kubernetes.io/revision": str(i),
                                                 "deployment.kubernetes.io/desired-replicas": "30",
                                                 "deployment.kubernetes.io/max-replicas": "38"}},
                    "spec": {"replicas": size, "template": template(f"web:v{i}")},
                    "status": {"replicas": size, "readyReplicas": size, "availableReplicas": size,
                               "observedGeneration": 2}})
    return d, rss


def run_syncs(n_rss: int, syncs: int) -> float:
    """Microseconds per sync, from the tree first on sys.path."""
    from controllers import deployment as dc
    from controllers import deployment_utils as du

    d0, rss0 = objects(n_rss)
    d = copy.deepcopy(d0)
    start = time.perf_counter()
    for _ in range(syncs):
        rss = [dc._with_kind(rs, "ReplicaSet", "apps/v1") for rs in rss0]
        _, old = du.find_old_replica_sets(d, rss)
        new = du.find_new_replica_set(d, rss)
        str(du.max_revision(old) + 1)
        for rs in du.filter_active([*old, new]):
            du.desired_replicas_annotation(rs)
        du.new_rs_new_replicas(d, [*old, new], new)
        min_available = du.replicas(d) - du.max_unavailable(d)
        du.replica_count(old)
        du.available_replica_count([*old, new]) - min_available
        du.sort_by_creation(du.filter_active(old))
        st = du.calculate_status([*old, new], new, d, at=NOW)
        du.status_equal(du.status(d), st)
    return (time.perf_counter() - start) / syncs * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rss", type=int, default=10)
    ap.add_argument("--syncs", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tree", action="append", type=Path, default=[])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_syncs(args.rss, args.syncs)))
        return
    trees = [t.resolve() for t in args.tree] or [HERE.parents[2]]
    times: dict[Path, list[float]] = {t: [] for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, str(HERE), "--child", "--rss", str(args.rss),
                                  "--syncs", str(args.syncs)], env=env, cwd=tree, check=True,
                                 capture_output=True, text=True).stdout
            times[tree].append(json.loads(out))
    base = statistics.median(times[trees[0]])
    print(f"{args.rss} ReplicaSets, {args.syncs} syncs x {args.rounds} rounds (median us/sync, min-max)")
    for tree in trees:
        med = statistics.median(times[tree])
        print(f"  {tree}: {med:.1f} us/sync ({min(times[tree]):.1f}-{max(times[tree]):.1f}), "
              f"ratio to the first tree {med / base:.2f}")


if __name__ == "__main__":
    main()
