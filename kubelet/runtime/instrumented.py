"""The container runtime, measured: each CRI-like call counts in
``kubelet_runtime_operations_total``, is timed in ``kubelet_runtime_operations_duration_seconds``
and, when it raises, counts in ``kubelet_runtime_operations_errors_total``, labelled by
``operation_type`` with the CRI operation names Kubernetes' instrumented runtime service uses
(``run_podsandbox``, ``create_container``, ``pull_image``, ...).

A transparent proxy: what is not measured (log streams, networks, probes' hints) passes
straight through to the runtime it wraps, whatever that runtime adds.
"""

from __future__ import annotations

import time
from typing import Any, cast

from kubelet import metrics
from kubelet.runtime.interface import ContainerRuntime

__all__ = ["InstrumentedRuntime", "OPERATIONS", "instrument"]

#: runtime method -> Kubernetes' operation_type.
OPERATIONS = {"version": "version", "run_pod_sandbox": "run_podsandbox",
              # The sync makes a sandbox in two steps (its containers are created while it
              # starts): the first counts as CRI's RunPodSandbox, one per sandbox as on
              # Kubernetes; the start has no CRI name of its own.
              "create_pod_sandbox": "run_podsandbox", "start_pod_sandbox": "start_podsandbox",
              "stop_pod_sandbox": "stop_podsandbox",
              "remove_pod_sandbox": "remove_podsandbox", "list_pod_sandboxes": "list_podsandbox",
              "sandbox_status": "podsandbox_status", "pull_image": "pull_image",
              "create_container": "create_container", "start_container": "start_container",
              "stop_container": "stop_container", "remove_container": "remove_container",
              "list_containers": "list_containers", "container_status": "container_status",
              "exec_sync": "exec_sync", "exec": "exec", "attach": "attach", "port_forward": "port_forward"}


class _Op:
    __slots__ = ("total", "duration", "errors")

    def __init__(self, operation_type: str) -> None:
        self.total = metrics.RUNTIME_OPERATIONS.labels(operation_type)
        self.duration = metrics.RUNTIME_DURATION.labels(operation_type)
        self.errors = metrics.RUNTIME_ERRORS.labels(operation_type)


class InstrumentedRuntime:
    """``runtime`` with its operations measured."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        for method, op_type in OPERATIONS.items():
            setattr(self, method, self._measured(getattr(runtime, method), _Op(op_type)))

    @staticmethod
    def _measured(call: Any, op: _Op) -> Any:
        async def measured(*args: Any, **kwargs: Any) -> Any:
            op.total.inc()
            start = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            except Exception:
                op.errors.inc()
                raise
            finally:
                op.duration.observe(time.perf_counter() - start)

        measured.__name__ = call.__name__
        measured.__doc__ = call.__doc__
        return measured

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


def instrument(runtime: ContainerRuntime) -> ContainerRuntime:
    """``runtime`` measured, typed as what it stands in for: the proxy answers every attribute of
    the runtime it wraps (the measured methods set in ``__init__``, the rest by ``__getattr__``)."""
    return cast(ContainerRuntime, InstrumentedRuntime(runtime))
