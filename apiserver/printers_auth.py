"""Printed columns of the identity kinds, as Kubernetes' ``pkg/printers/internalversion``
prints them: ServiceAccount (``NAME SECRETS AGE``: SECRETS counts ``secrets``)."""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer, since

_NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
_AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
              "this object was created.")


def _service_account_row(sa: dict[str, Any], now: float) -> list[Any]:
    md = sa.get("metadata") or {}
    return [md.get("name", ""), len(sa.get("secrets") or []), since(md.get("creationTimestamp"), now)]


SERVICE_ACCOUNT = Printer(
    (_NAME, Column("Secrets", type="integer", description="Secrets is a list of the secrets in the same namespace "
                   "that pods running using this ServiceAccount are allowed to use."), _AGE),
    _service_account_row,
)
