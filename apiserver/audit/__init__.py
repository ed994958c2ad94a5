"""Kubernetes' audit log for the apiserver (``--audit-policy-file``, ``--audit-log-path``).

* :mod:`~apiserver.audit.context` — the audit context of the request being served, where
  authorization and admission add annotations (``add_annotation``);
* :mod:`~apiserver.audit.policy` — the audit.k8s.io/v1 Policy: which level a request is
  audited at;
* :mod:`~apiserver.audit.event` — audit.k8s.io/v1 Event documents built from a context;
* :mod:`~apiserver.audit.backend` — the buffered background writer and its size rotation;
* :mod:`~apiserver.audit.filter` — the ASGI filter giving every request its Audit-ID and
  emitting the stage events;
* :mod:`~apiserver.audit.options` — the flags.
"""

__all__: list[str] = []
