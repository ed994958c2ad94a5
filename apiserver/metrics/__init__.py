"""The apiserver's Prometheus metrics, served at ``/metrics`` (non-resource URL, authorized as
on Kubernetes: the ``system:monitoring`` ClusterRole, bound to the group of that name).

* :mod:`~apiserver.metrics.requests` — ``apiserver_request_total``,
  ``apiserver_request_duration_seconds``, ``apiserver_longrunning_requests`` (an ASGI filter);
* :mod:`~apiserver.metrics.storage` — ``etcd_request_duration_seconds`` around the Storage
  interface, so every backend is measured;
* :mod:`~apiserver.metrics.cache` — ``apiserver_storage_objects``,
  ``apiserver_registered_watchers`` and ``apiserver_watch_events_total`` from the watch cache;
* :mod:`~apiserver.metrics.endpoint` — the ``/metrics`` route;
* the audit backend's ``apiserver_audit_event_total`` and ``apiserver_audit_level_total``.
"""

__all__: list[str] = []
