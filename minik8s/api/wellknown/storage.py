"""storage.k8s.io/v1 StorageClass: the default-class annotations and the volume binding modes
(the models: :mod:`minik8s.api.storage`).
"""

from __future__ import annotations

from typing import Any

ANN_IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_IS_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"

BINDING_IMMEDIATE = "Immediate"
BINDING_WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"


def is_default_class(sc: dict[str, Any]) -> bool:
    """Whether a StorageClass (JSON) is marked default (``storageutil.IsDefaultAnnotation``)."""
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return ann.get(ANN_IS_DEFAULT_CLASS) == "true" or ann.get(ANN_BETA_IS_DEFAULT_CLASS) == "true"
