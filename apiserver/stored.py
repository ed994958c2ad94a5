"""How the REST storage keeps an object in the store: its key
(``/registry/<resource>/[<namespace>/]<name>``), its bytes (checked before anything is written),
and the Conflict message of a write whose resourceVersion lost the race (Kubernetes'
``OptimisticLockErrorMsg``). Shared by the REST storage (``apiserver/rest.py``) and the writers
beside it that write with the same guarantees: the subresources, server-side apply, and the
ResourceQuota admission's usage updates, which the REST storage itself runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from apiserver import bodies, errors, memory

if TYPE_CHECKING:
    from apiserver.registry.table import Entry

__all__ = ["CONFLICT_MSG", "encode_stored", "storage_key"]

CONFLICT_MSG = "the object has been modified; please apply your changes to the latest version and try again"


def storage_key(entry: Entry, namespace: str | None, name: str | None = None) -> str:
    t = entry.type
    base = f"/registry/{entry.resource}/"
    if t.namespaced and namespace:
        base += f"{namespace}/"
    return base + name if name else base


def encode_stored(obj: dict[str, Any]) -> bytes:
    """The bytes an object is stored as, checked before anything is written: a value JSON
    cannot hold (an integer past 64 bits) is a 400, an object past the stored-size limit a 413."""
    try:
        data = orjson.dumps(obj)
    except orjson.JSONEncodeError as e:
        raise errors.BadRequest(f"the object cannot be stored: {e}") from None
    bodies.check_stored_size(data)
    return memory.exact(data)  # kept by the watch cache as long as the object lives
