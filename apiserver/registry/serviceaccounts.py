"""API behaviour of ServiceAccounts (Kubernetes' ``pkg/registry/core/serviceaccount``): no
spec/status split; each ``imagePullSecrets`` reference names its Secret. The ``token``
subresource (a TokenRequest answered, nothing stored) is ``apiserver/serviceaccount_token.py``.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError


class ServiceAccountStrategy(Strategy):
    status_field = None
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, ref in enumerate(obj.get("imagePullSecrets") or []):
            if not ref.get("name"):
                errs.append(v.required(f"imagePullSecrets[{i}].name"))
        return errs
