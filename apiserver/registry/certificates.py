"""API behaviour of CertificateSigningRequests (Kubernetes' ``pkg/registry/certificates/
certificates/strategy.go`` and ``pkg/apis/certificates/validation``).

* create: the requestor (``spec.username``, ``uid``, ``groups``, ``extra``) is the request's
  user, whatever the body says; the status starts empty. ``spec.request`` must be a PEM
  ``CERTIFICATE REQUEST`` whose signature checks out, ``spec.signerName`` a qualified
  ``domain/path``, ``spec.usages`` known and unique, ``spec.expirationSeconds`` at least 600.
* update: the spec and status never change through the main resource.
* ``/status`` (signers): the certificate and other conditions; Approved/Denied are kept as
  they were; an issued certificate never changes.
* ``/approval`` (approvers): only the Approved and Denied conditions, mutually exclusive, and
  never removed once added.

Condition timestamps are filled by the server when a condition appears or changes status.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from cryptography import x509

from apiserver import validation as v
from apiserver.auth import request_user
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s.api.wellknown import certificates as csr_api
from minik8s.timestamps import now_rfc3339

_SIGNER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[-A-Za-z0-9_.]+$")
_APPROVAL = (csr_api.APPROVED, csr_api.DENIED)
_FINAL = (csr_api.APPROVED, csr_api.DENIED, csr_api.FAILED)


def _pem(b64: str | None) -> bytes | None:
    try:
        return base64.b64decode(b64 or "", validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_request(csr: dict[str, Any]) -> x509.CertificateSigningRequest:
    """The x509 request of a CSR object (ValueError when it is not one)."""
    raw = _pem((csr.get("spec") or {}).get("request"))
    if not raw or b"-----BEGIN CERTIFICATE REQUEST-----" not in raw:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    req = x509.load_pem_x509_csr(raw)
    if not req.is_signature_valid:
        raise ValueError("the request's signature is invalid")
    return req


def _validate_spec(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    try:
        parse_request(obj)
    except ValueError as e:
        errs.append(v.invalid("spec.request", "<request data>", str(e)))
    signer = spec.get("signerName") or ""
    if not signer:
        errs.append(v.required("spec.signerName"))
    elif not _SIGNER.match(signer) or len(signer) > 571:
        errs.append(v.invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form "
                                                          "'example.com/signer-name'"))
    usages = spec.get("usages")
    if not usages:
        errs.append(v.required("spec.usages"))
    seen: set[str] = set()
    for i, u in enumerate(usages or []):
        if u not in csr_api.USAGES:
            errs.append(v.not_supported(f"spec.usages[{i}]", u, list(csr_api.USAGES)))
        elif u in seen:
            errs.append(v.duplicate(f"spec.usages[{i}]", u))
        seen.add(u)
    exp = spec.get("expirationSeconds")
    if exp is not None and exp < 600:
        errs.append(v.invalid("spec.expirationSeconds", exp, "may not specify a duration less than 600 seconds "
                                                              "(10 minutes)"))
    return errs


def _validate_conditions(obj: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate((obj.get("status") or {}).get("conditions") or []):
        path = f"status.conditions[{i}]"
        ctype = c.get("type") or ""
        if not ctype:
            errs.append(v.required(f"{path}.type"))
        if ctype in seen:
            errs.append(v.duplicate(f"{path}.type", ctype))
        seen.add(ctype)
        if ctype in _FINAL and c.get("status") != "True":
            errs.append(v.not_supported(f"{path}.status", c.get("status") or "", ["True"]))
        elif c.get("status") not in ("True", "False", "Unknown"):
            errs.append(v.not_supported(f"{path}.status", c.get("status") or "", ["False", "True", "Unknown"]))
        if ctype == csr_api.DENIED and csr_api.APPROVED in seen or ctype == csr_api.APPROVED and csr_api.DENIED in seen:
            errs.append(v.invalid(f"{path}.type", ctype, "Approved and Denied conditions are mutually exclusive"))
    return errs


def _removed(new: dict[str, Any], old: dict[str, Any], types: tuple[str, ...]) -> list[FieldError]:
    return [v.forbidden("status.conditions", f'updates may not remove a condition of type "{t}"')
            for t in types if csr_api.condition(old, t) is not None and csr_api.condition(new, t) is None]


def _keep_conditions(new: dict[str, Any], old: dict[str, Any], types: tuple[str, ...]) -> None:
    """The conditions of ``types`` as ``old`` has them; the others as ``new`` has them."""
    kept = [c for c in (old.get("status") or {}).get("conditions") or [] if c.get("type") in types]
    mine = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") not in types]
    status = dict(new.get("status") or {})
    conds = kept + mine
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
    new["status"] = status


def _stamp(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Kubernetes' populateConditionTimestamps: lastUpdateTime now when unset; lastTransitionTime
    the old one while the status holds, now when it changed or the condition is new."""
    now = now_rfc3339()
    for c in (new.get("status") or {}).get("conditions") or []:
        c.setdefault("lastUpdateTime", now)
        if not c.get("lastTransitionTime"):
            prev = csr_api.condition(old, c.get("type") or "")
            same = prev is not None and prev.get("status") == c.get("status") and prev.get("lastTransitionTime")
            c["lastTransitionTime"] = prev["lastTransitionTime"] if same and prev is not None else now


class CertificateSigningRequestStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        for f in ("username", "uid", "groups", "extra"):
            spec.pop(f, None)
        user = request_user.get()
        if user is not None:
            spec.update(user.api_dict())

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = old.get("spec") or {}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return super().validate(obj) + _validate_spec(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return v.validate_object_meta(new) + v.validate_object_meta_update(new, old)

    # /status: what signers write
    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        _keep_conditions(new, old, _APPROVAL)
        _stamp(new, old)

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = _validate_conditions(new) + _removed(new, old, (csr_api.FAILED,))
        cert_old, cert_new = (old.get("status") or {}).get("certificate"), (new.get("status") or {}).get("certificate")
        if cert_old and cert_new != cert_old:
            errs.append(v.forbidden("status.certificate", "updates may not modify existing certificate content"))
        elif cert_new:
            raw = _pem(cert_new) or b""
            try:
                x509.load_pem_x509_certificates(raw)
            except ValueError:
                errs.append(v.invalid("status.certificate", "<certificate data>",
                                      "must contain at least one CERTIFICATE PEM block"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["spec.signerName"] = (obj.get("spec") or {}).get("signerName", "")
        return out


class ApprovalStrategy(CertificateSigningRequestStrategy):
    """``PUT .../approval``: only the Approved and Denied conditions change."""

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        md = dict(old["metadata"])
        md["resourceVersion"] = new["metadata"].get("resourceVersion")
        for k in ("labels", "annotations"):
            if k in new["metadata"]:
                md[k] = new["metadata"][k]
        new["metadata"] = md
        new["spec"] = old.get("spec") or {}
        _keep_conditions(new, old, tuple(
            t for t in {c.get("type") for c in (old.get("status") or {}).get("conditions") or []}
            if t not in _APPROVAL))
        # keep only approval conditions from the request; the certificate stays the signer's
        mine = [c for c in (new.get("status") or {}).get("conditions") or []
                if c.get("type") in _APPROVAL or csr_api.condition(old, c.get("type") or "") is not None]
        status: dict[str, Any] = {"conditions": mine} if mine else {}
        if (old.get("status") or {}).get("certificate"):
            status["certificate"] = old["status"]["certificate"]
        new["status"] = status
        _stamp(new, old)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return _validate_conditions(new) + _removed(new, old, _APPROVAL)
