"""Printed columns of the identity kinds, as Kubernetes' ``pkg/printers/internalversion``
prints them: ServiceAccount (``NAME SECRETS AGE``: SECRETS counts ``secrets``) and
CertificateSigningRequest (``NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION``)."""

from __future__ import annotations

from typing import Any

from apiserver.printers import Column, Printer
from minik8s.duration import human_duration, since

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


def csr_condition(csr: dict[str, Any]) -> str:
    """``Approved,Issued``: Denied over Approved over Pending, then Failed, then Issued
    (Kubernetes' ``extractCSRStatus``)."""
    types = {c.get("type") for c in (csr.get("status") or {}).get("conditions") or []}
    out = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        out += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        out += ",Issued"
    return out


def _csr_row(csr: dict[str, Any], now: float) -> list[Any]:
    md, spec = csr.get("metadata") or {}, csr.get("spec") or {}
    exp = spec.get("expirationSeconds")
    return [md.get("name", ""), since(md.get("creationTimestamp"), now), spec.get("signerName") or "",
            spec.get("username") or "", human_duration(exp) if exp is not None else "<none>", csr_condition(csr)]


CERTIFICATE_SIGNING_REQUEST = Printer(
    (_NAME, _AGE, Column("SignerName", description="Name of the signer the request asks for."),
     Column("Requestor", description="Name of the user which submitted this request."),
     Column("RequestedDuration", description="The duration the requestor asked the certificate be valid for."),
     Column("Condition", description="State of this request (Pending, Approved, Denied, Failed, Issued).")),
    _csr_row,
)
