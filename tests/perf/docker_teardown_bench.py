"""What Docker itself costs for a pod's teardown, with and without removing its containers.

On the local engine, ``--count`` pods (the pause sandbox on ``network_mode=none`` with IPC
shareable, and a busybox joined to its network and IPC namespaces, whose command exits at once
on SIGTERM, as the rollout benchmark's replicas) are started, then torn down ``--concurrency``
at a time, one way per round, the ways alternating over ``--rounds``:

- ``stop-remove``: stop the app container, remove it, remove the sandbox forcibly -- what the
  kubelet's teardown did before a deleted pod's object could go;
- ``stop-only``: stop the app container, stop the sandbox -- Kubernetes' teardown (the
  KillPod/StopPodSandbox pair), leaving the removal to the container GC; the removal of those
  stopped containers afterwards is timed as ``later-remove``.

Prints seconds per way and round. Not a test: numbers only. Everything it makes carries the
label ``minik8s.bench=docker-teardown`` and is removed at the end.

    .venv/bin/python tests/perf/docker_teardown_bench.py [--count 16] [--concurrency 8] [--rounds 4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import time
import uuid

import docker

BUSYBOX = "minik8s/busybox:latest"
PAUSE = "minik8s/pause:latest"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
LABEL = {"minik8s.bench": "docker-teardown"}


def start_pod(api: docker.APIClient, tag: str) -> tuple[str, str]:
    sandbox = api.create_container(PAUSE, name=f"teardown-bench-{tag}-pod", labels=LABEL,
                                   host_config=api.create_host_config(network_mode="none", ipc_mode="shareable"))
    api.start(sandbox["Id"])
    joined = f"container:{sandbox['Id']}"
    app = api.create_container(BUSYBOX, COMMAND, name=f"teardown-bench-{tag}-app", labels=LABEL,
                               host_config=api.create_host_config(network_mode=joined, ipc_mode=joined))
    api.start(app["Id"])
    return sandbox["Id"], app["Id"]


def stop_remove(api: docker.APIClient, pod: tuple[str, str]) -> None:
    sandbox, app = pod
    api.stop(app, timeout=5)
    api.remove_container(app, force=True, v=True)
    api.remove_container(sandbox, force=True, v=True)


def stop_only(api: docker.APIClient, pod: tuple[str, str]) -> None:
    sandbox, app = pod
    api.stop(app, timeout=5)
    api.stop(sandbox, timeout=10)


def remove(api: docker.APIClient, pod: tuple[str, str]) -> None:
    sandbox, app = pod
    api.remove_container(app, force=True, v=True)
    api.remove_container(sandbox, force=True, v=True)


def cleanup(api: docker.APIClient) -> None:
    for c in api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in LABEL.items()]}):
        api.remove_container(c["Id"], force=True, v=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    api = docker.APIClient(timeout=300)
    took: dict[str, list[float]] = {"stop-remove": [], "stop-only": [], "later-remove": []}
    try:
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            for r in range(args.rounds):
                for way in (("stop-remove", "stop-only") if r % 2 == 0 else ("stop-only", "stop-remove")):
                    pods = list(pool.map(lambda _: start_pod(api, uuid.uuid4().hex[:8]), range(args.count)))
                    time.sleep(1)  # the starts' after-work settles
                    teardown = stop_remove if way == "stop-remove" else stop_only
                    t = time.perf_counter()
                    list(pool.map(lambda p, f=teardown: f(api, p), pods))
                    took[way].append(time.perf_counter() - t)
                    if way == "stop-only":
                        t = time.perf_counter()
                        list(pool.map(lambda p: remove(api, p), pods))
                        took["later-remove"].append(time.perf_counter() - t)
    finally:
        cleanup(api)
    print(f"{args.count} pods, {args.concurrency} in flight, {args.rounds} round(s)")
    for way, times in took.items():
        print(f"{way:13} mean {statistics.mean(times):5.2f} s  ({', '.join(f'{t:.2f}' for t in times)})")
    print(f"stop-only / stop-remove: {statistics.mean(took['stop-only']) / statistics.mean(took['stop-remove']):.2f}x")


if __name__ == "__main__":
    main()
