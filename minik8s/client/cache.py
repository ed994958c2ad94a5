"""The informer's local cache: objects by ``namespace/name`` key, plus secondary indexes.

As client-go's ``cache.Indexer``: a controller reads the world from here instead of the
apiserver (``store.get("ns/name")``, ``store.by_index("namespace", "ns")``). An index is a
function from an object to the values it is filed under. Built-in index functions:
``namespace`` and ``nodeName`` (``spec.nodeName``, ``""`` for an unscheduled pod); a label
index comes from :func:`label_index`. Objects are the dicts the watch delivered: shared, so
callers copy (``copy.deepcopy``) before changing one. Not thread-safe, by design: one asyncio
loop owns it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from minik8s.api.resources import object_key

IndexFunc = Callable[[dict[str, Any]], list[str]]

NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "nodeName"


def namespace_index(obj: dict[str, Any]) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def node_name_index(obj: dict[str, Any]) -> list[str]:
    return [(obj.get("spec") or {}).get("nodeName") or ""]


def label_index(label: str) -> IndexFunc:
    """An index of objects by the value of one label (objects without it are not filed)."""
    def index(obj: dict[str, Any]) -> list[str]:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return [labels[label]] if label in labels else []
    return index


DEFAULT_INDEXERS: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}


class Store:
    """Objects keyed by :func:`~minik8s.api.resources.object_key`, with indexes kept in step."""

    def __init__(self, *, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self.add_indexers(indexers if indexers is not None else DEFAULT_INDEXERS)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Register more indexes; existing objects are filed under them at once."""
        for name, fn in indexers.items():
            if name in self._indexers:
                if self._indexers[name] is fn:
                    continue
                raise ValueError(f"indexer {name!r} already registered")
            self._indexers[name] = fn
            index: dict[str, set[str]] = {}
            self._indices[name] = index
            for key, obj in self._items.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)

    @property
    def indexers(self) -> dict[str, IndexFunc]:
        return dict(self._indexers)

    # reads

    def get(self, key: str) -> dict[str, Any] | None:
        return self._items.get(key)

    def get_by_name(self, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> builtins.list[dict[str, Any]]:
        return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def by_index(self, index: str, value: str) -> builtins.list[dict[str, Any]]:
        """Objects filed under ``value`` in ``index``; KeyError for an unknown index."""
        keys = self._indices[index].get(value, ())
        return [self._items[k] for k in keys]

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        return list(self._indices[index].get(value, ()))

    def list_index_values(self, index: str) -> builtins.list[str]:
        return [v for v, keys in self._indices[index].items() if keys]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # writes (the informer's)

    def add(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Insert or replace; returns the object it replaced, if any."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    update = add

    def delete(self, obj_or_key: dict[str, Any] | str) -> dict[str, Any] | None:
        """Remove by object or key; returns what was stored, if anything."""
        key = obj_or_key if isinstance(obj_or_key, str) else object_key(obj_or_key)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[dict[str, Any]]) -> None:
        """Swap the whole content for ``objs`` (a relist), rebuilding the indexes."""
        self._items = {object_key(o): o for o in objs}
        for name, fn in self._indexers.items():
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def _index(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
