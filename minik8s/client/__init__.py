"""The client side of minik8s: REST client, kubeconfig, informers, cache and event recorder.

Only re-exports; the modules are ``rest``, ``kubeconfig``, ``informer``, ``cache``, ``events``.
"""

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
