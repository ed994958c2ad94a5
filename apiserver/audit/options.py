"""The audit flags, as kube-apiserver names them, and the filter they make.

``--audit-policy-file`` (an audit.k8s.io/v1 Policy) and ``--audit-log-path`` (``-`` for
standard output) together turn the audit log on; ``--audit-log-maxsize`` (MB before a
rotation; 0 means lumberjack's 100), ``--audit-log-maxbackup`` and ``--audit-log-maxage``
(0: keep every backup, of any age), ``--audit-log-compress``, ``--audit-log-format``
(``json``, or Kubernetes' one-line ``legacy``) shape it. The log is always written by a
background thread (Kubernetes' batch mode; the ``--audit-log-batch-*`` flags size its buffer
and batches), so the request path never waits for the disk.
"""

from __future__ import annotations

import argparse
import atexit
import dataclasses
import logging
from typing import Any

from apiserver.audit import event, policy
from apiserver.audit.backend import BufferedBackend
from apiserver.audit.filter import AuditFilter

__all__ = ["Options", "add_flags", "from_args", "wrap"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    policy_file: str | None = None
    log_path: str | None = None
    max_size: int = 0
    max_backup: int = 0
    max_age: int = 0
    compress: bool = False
    log_format: str = "json"
    buffer_size: int = 10_000
    max_batch: int = 400
    max_wait: float = 0.2


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("auditing")
    g.add_argument("--audit-policy-file", default=None, metavar="FILE",
                   help="the audit.k8s.io/v1 Policy saying which requests are audited at which level")
    g.add_argument("--audit-log-path", default=None, metavar="PATH",
                   help="write audit events to this file ('-' for standard output); with --audit-policy-file")
    g.add_argument("--audit-log-maxsize", type=int, default=0,
                   help="megabytes of the audit log before it is rotated (default 0: 100)")
    g.add_argument("--audit-log-maxbackup", type=int, default=0,
                   help="rotated audit logs kept (default 0: all)")
    g.add_argument("--audit-log-maxage", type=int, default=0,
                   help="days rotated audit logs are kept, by the time in their names (default 0: no limit)")
    g.add_argument("--audit-log-compress", action="store_true", help="gzip rotated audit logs")
    g.add_argument("--audit-log-format", default="json", choices=("json", "legacy"),
                   help="json (one audit.k8s.io/v1 Event per line, default) or legacy (one text line)")
    g.add_argument("--audit-log-batch-buffer-size", type=int, default=10_000,
                   help="events held for the writer before new ones are dropped (default 10000)")
    g.add_argument("--audit-log-batch-max-size", type=int, default=400,
                   help="events that wake the writer before --audit-log-batch-max-wait (default 400)")
    g.add_argument("--audit-log-batch-max-wait", type=float, default=0.2,
                   help="seconds the writer waits between writes (default 0.2)")


def from_args(a: argparse.Namespace, p: argparse.ArgumentParser) -> Options:
    for flag, value in (("--audit-log-maxsize", a.audit_log_maxsize), ("--audit-log-maxbackup", a.audit_log_maxbackup),
                        ("--audit-log-maxage", a.audit_log_maxage)):
        if value < 0:
            p.error(f"{flag} must be 0 or more, not {value}")
    if a.audit_log_batch_buffer_size < 1 or a.audit_log_batch_max_size < 1 or a.audit_log_batch_max_wait <= 0:
        p.error("--audit-log-batch-buffer-size and --audit-log-batch-max-size must be at least 1, "
                "--audit-log-batch-max-wait more than 0")
    opts = Options(a.audit_policy_file, a.audit_log_path, a.audit_log_maxsize, a.audit_log_maxbackup,
                   a.audit_log_maxage, a.audit_log_compress, a.audit_log_format, a.audit_log_batch_buffer_size,
                   a.audit_log_batch_max_size, a.audit_log_batch_max_wait)
    if opts.policy_file:
        try:
            policy.load(opts.policy_file)  # refuse a bad file now, naming the field
        except (OSError, policy.PolicyError) as e:
            p.error(f"--audit-policy-file {opts.policy_file}: {e}")
    return opts


#: The process's audit metrics collector (registered once).
_metrics: AuditMetrics | None = None


class AuditMetrics:
    """``apiserver_audit_event_total`` and ``apiserver_audit_error_total{plugin="log"}`` (events
    dropped by a full buffer or not written), read from the backend when scraped."""

    def __init__(self, backend: BufferedBackend) -> None:
        self.backend = backend

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        b = self.backend
        events = CounterMetricFamily("apiserver_audit_event",
                                     "Counter of audit events generated and sent to the audit backend.")
        events.add_metric([], b.written + b.dropped + b.errors)
        errors = CounterMetricFamily("apiserver_audit_error", "Counter of audit events that failed to be audited "
                                     "properly. Plugin identifies the plugin affected by the error.", labels=["plugin"])
        errors.add_metric(["log"], b.dropped + b.errors)
        yield from (events, errors)


def wrap(app: Any, opts: Options, *, on_written: Any = None) -> AuditFilter:
    """``app`` behind the audit filter: Audit-ID always; events when both the policy and the
    log path are given. The writer thread starts here and is flushed at exit."""
    if not (opts.policy_file and opts.log_path):
        if opts.policy_file or opts.log_path:
            log.warning("auditing needs both --audit-policy-file and --audit-log-path; no audit log is written")
        return AuditFilter(app)
    pol = policy.load(opts.policy_file)
    backend = BufferedBackend(opts.log_path, event.build, log_format=opts.log_format, max_size_mb=opts.max_size,
                              max_backups=opts.max_backup, max_age_days=opts.max_age, compress=opts.compress,
                              buffer_size=opts.buffer_size, max_batch=opts.max_batch, max_wait=opts.max_wait,
                              on_written=on_written)
    backend.start()
    atexit.register(backend.stop)
    global _metrics
    if _metrics is None:
        from prometheus_client import REGISTRY

        _metrics = AuditMetrics(backend)
        REGISTRY.register(_metrics)
    # one collector per process: an apiserver started again in the same process (minik8s up
    # runs it in a thread and restarts it there) reports its new backend
    _metrics.backend = backend
    log.info("audit log: %s (%d policy rules, format %s)", opts.log_path, len(pol.rules), opts.log_format)
    return AuditFilter(app, pol, backend)
