"""``minik8s-scheduler``: the scheduler process's entry point.

Flags become one :class:`SchedulerConfig` (defaults filled here only, the effective config
logged). Then, as kube-scheduler: the informers start and sync first, so a replica waiting for
leadership has a warm cache; with ``--leader-elect`` (the default, as in Kubernetes) scheduling
runs only while this process holds the Lease ``kube-system/kube-scheduler``, and losing it ends
the process (exit 1) so its supervisor restarts it as a follower. SIGTERM/SIGINT stop it
cleanly and give the Lease up at once. ``/metrics`` is served on the secure port
(``--secure-port``, 10259; :mod:`minik8s.secure_serving`), leader or not.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import socket
import sys
import uuid

from minik8s import process, secure_serving
from minik8s.client.rest import ApiClient
from minik8s.leaderelection import LeaderElector
from scheduler.algorithm import default_algorithm
from scheduler.scheduler import DEFAULT_BIND_WORKERS, DEFAULT_SCHEDULER_NAME, Scheduler

__all__ = ["SchedulerConfig", "parse_args", "run", "main"]

log = logging.getLogger("scheduler")

#: kube-scheduler's secure port: /metrics and the health checks over HTTPS.
SECURE_PORT = 10259


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    apiserver: str | None
    kubeconfig: str | None
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int = 0  # 0 = adaptive, as Kubernetes
    bind_workers: int = DEFAULT_BIND_WORKERS
    leader_elect: bool = True
    lease_name: str = "kube-scheduler"
    lease_namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    log_level: str = "info"
    secure: secure_serving.Options = secure_serving.Options()


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1", "yes", "t"):
        return True
    if low in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def parse_args(argv: list[str] | None = None) -> SchedulerConfig:
    p = argparse.ArgumentParser(prog="minik8s-scheduler", description="Places pending pods on nodes.")
    p.add_argument("--apiserver", help="the apiserver's URL, e.g. http://127.0.0.1:6443")
    p.add_argument("--kubeconfig", help="a kubeconfig file naming the apiserver and credentials")
    p.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER_NAME,
                   help="schedule pods whose spec.schedulerName is this (default: %(default)s)")
    p.add_argument("--percentage-of-nodes-to-score", type=int, default=0,
                   help="stop filtering once this %% of nodes were found feasible; 0 = adaptive (default)")
    p.add_argument("--bind-workers", type=int, default=DEFAULT_BIND_WORKERS,
                   help="bindings in flight at once (default: %(default)s)")
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True,
                   help="schedule only while holding the leader Lease (default: true)")
    p.add_argument("--leader-elect-resource-name", default="kube-scheduler")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0, help="seconds")
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0, help="seconds")
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0, help="seconds")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    secure_serving.add_flags(p, default_port=SECURE_PORT)
    a = p.parse_args(argv)
    if not a.apiserver and not a.kubeconfig:
        p.error("one of --apiserver or --kubeconfig is required")
    if a.apiserver and a.kubeconfig:
        p.error("--apiserver and --kubeconfig conflict: give one")
    if not 0 <= a.percentage_of_nodes_to_score <= 100:
        p.error("--percentage-of-nodes-to-score must be between 0 and 100")
    if a.bind_workers < 1:
        p.error("--bind-workers must be at least 1")
    if a.leader_elect:
        if a.leader_elect_lease_duration <= a.leader_elect_renew_deadline:
            p.error("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline")
        if a.leader_elect_renew_deadline <= 1.2 * a.leader_elect_retry_period:
            p.error("--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period")
    return SchedulerConfig(
        apiserver=a.apiserver, kubeconfig=a.kubeconfig, scheduler_name=a.scheduler_name,
        percentage_of_nodes_to_score=a.percentage_of_nodes_to_score, bind_workers=a.bind_workers,
        leader_elect=a.leader_elect, lease_name=a.leader_elect_resource_name,
        lease_namespace=a.leader_elect_resource_namespace, lease_duration=a.leader_elect_lease_duration,
        renew_deadline=a.leader_elect_renew_deadline, retry_period=a.leader_elect_retry_period,
        # client-go's resourcelock identity: hostname plus a uuid, unique per process.
        identity=f"{socket.gethostname()}_{uuid.uuid4()}", log_level=a.log_level,
        secure=secure_serving.from_args(a, p),
    )


def _client(cfg: SchedulerConfig) -> ApiClient:
    if cfg.kubeconfig:
        return ApiClient.from_kubeconfig(cfg.kubeconfig, user_agent="minik8s-scheduler")
    assert cfg.apiserver
    return ApiClient(cfg.apiserver, user_agent="minik8s-scheduler")


async def _schedule(cfg: SchedulerConfig, sched: Scheduler) -> int:
    if not cfg.leader_elect:
        await sched.run()
        return 0
    elector = LeaderElector(
        sched.client, name=cfg.lease_name, namespace=cfg.lease_namespace, identity=cfg.identity,
        lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline, retry_period=cfg.retry_period,
    )
    log.info("%s: waiting to lead lease %s/%s", cfg.identity, cfg.lease_namespace, cfg.lease_name)
    await elector.run(sched.run)
    # run() returns only when leadership was lost (sched.run never ends by itself).
    log.error("leader election lost; exiting")
    return 1


async def run(cfg: SchedulerConfig) -> int:
    client = _client(cfg)
    sched = Scheduler(
        client, algorithm=default_algorithm(percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score),
        scheduler_name=cfg.scheduler_name, bind_workers=cfg.bind_workers,
    )
    process.tune_gc(process.INFORMER_GC_GEN0_THRESHOLD)  # the pod and node informer caches: a large heap of acyclic JSON
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        main_task.cancel()

    process.add_stop_handler(stop, loop)  # SIGTERM/SIGINT, or minik8s up's host
    code = 0
    secure = secure_serving.SecureServer(cfg.secure, client, name="kube-scheduler")
    serving = asyncio.create_task(secure.serve(), name="secure port")
    try:
        await sched.start_informers()
        log.info("caches synced: %d node(s)", len(sched.cache.nodes()))
        code = await _schedule(cfg, sched)
    except asyncio.CancelledError:
        if not stopping:
            raise
        log.info("stopping")
    finally:
        await secure.shutdown()
        await asyncio.gather(serving, return_exceptions=True)
        await sched.close()
        await client.close()
    return code


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    process.setup_logging(cfg.log_level)
    log.info("starting with %s", cfg)
    sys.exit(process.run(run(cfg)))


if __name__ == "__main__":
    main()
