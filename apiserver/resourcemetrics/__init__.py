"""metrics.k8s.io/v1beta1 served by the apiserver itself, as metrics-server serves it.

* :mod:`.store` — the last two readings of each node and container, and the metrics a rate
  between them makes (pure);
* :mod:`.scraper` — every ``--metric-resolution`` (15 s) each Node's kubelet is asked for its
  ``/stats/summary`` over the apiserver's TLS kubelet client, all nodes at once;
* :mod:`.api` — ``GET`` of ``nodes`` and ``pods`` (one, or a list with label and field
  selectors), plain or as a Table, whose columns are ``apiserver/printers_metrics.py``'s
  (beside the other kinds' printers, as the registry table reads them).

Why in the apiserver and not a metrics-server process behind an APIService: the figures live
only in memory (metrics-server stores nothing either), the apiserver already holds the one
TLS client kubelets accept and the Node objects in its watch cache, and it already serves
discovery, OpenAPI and authorization for every group; an aggregated server would add a
process, a serving certificate and a proxy hop for the same answers. The group is still
registered as an APIService (``v1beta1.metrics.k8s.io``), Local, as every group served here.
"""

__all__: list[str] = []
