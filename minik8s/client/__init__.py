"""The client side of minik8s: REST client, kubeconfig, informers, cache and event recorder.

Only re-exports; the modules are ``rest``, ``kubeconfig``, ``informer``, ``cache``, ``events``.
The names are resolved on first use (PEP 562), so importing one submodule (``mkctl`` reads
only ``kubeconfig``) does not import the others and aiohttp with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minik8s.client.cache import Store
    from minik8s.client.events import EventRecorder
    from minik8s.client.informer import Informer, SharedInformerFactory
    from minik8s.client.rest import ApiClient, WatchEvent

__all__ = [
    "ApiClient",
    "EventRecorder",
    "Informer",
    "SharedInformerFactory",
    "Store",
    "WatchEvent",
]

_HOMES = {
    "ApiClient": "rest",
    "EventRecorder": "events",
    "Informer": "informer",
    "SharedInformerFactory": "informer",
    "Store": "cache",
    "WatchEvent": "rest",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
