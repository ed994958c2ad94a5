"""CustomResourceDefinitions the CRD tests share: a namespaced ``Sprocket`` with a schema that
exercises types, required, enum, pattern, bounds, formats, defaults and the ``x-kubernetes-*``
extensions, the status and scale subresources and printer columns; helpers to wait for a CRD
to be served. Each test names its own group so tests never meet each other's resources."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.waiting import wait_until

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def unique_group(prefix: str = "sprockets") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}.example.com"


def sprocket_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "minLength": 1, "pattern": "^[a-z0-9./:-]+$"},
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                    "size": {"type": "string", "enum": ["small", "medium", "large"], "default": "small"},
                    "email": {"type": "string", "format": "email"},
                    "port": {"x-kubernetes-int-or-string": True},
                    "selector": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
                             "maxItems": 3},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                              "x-kubernetes-list-map-keys": ["name"],
                              "items": {"type": "object", "required": ["name"],
                                        "properties": {"name": {"type": "string"},
                                                       "port": {"type": "integer"}}}},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                                 "x-kubernetes-preserve-unknown-fields": True},
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "phase": {"type": "string"},
                    "selector": {"type": "string"},
                },
            },
        },
    }


def sprocket_crd(group: str, *, scope: str = "Namespaced", versions: list[dict[str, Any]] | None = None,
               short_names: tuple[str, ...] = ("spr",), categories: tuple[str, ...] = ("all",)) -> dict[str, Any]:
    if versions is None:
        versions = [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": sprocket_schema()},
            "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                     "statusReplicasPath": ".status.replicas",
                                                     "labelSelectorPath": ".status.selector"}},
            "additionalPrinterColumns": [
                {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
                {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "priority": 1},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
        }]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"sprockets.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": "sprockets", "singular": "sprocket", "kind": "Sprocket", "listKind": "SprocketList",
                      "shortNames": list(short_names), "categories": list(categories)},
            "versions": versions,
        },
    }


def wait_established(http: httpx.Client, name: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The CRD once its Established condition is True (bounded wait)."""
    crd: dict[str, Any] = {}

    def established() -> dict[str, Any] | None:
        nonlocal crd
        crd = http.get(f"{CRDS}/{name}").json()
        conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
        return crd if conds.get("Established", {}).get("status") == "True" else None
    return wait_until(established, f"CRD {name} established", timeout=timeout, interval=0.05, diag=lambda: crd)


def create_crd(http: httpx.Client, crd: dict[str, Any]) -> dict[str, Any]:
    r = http.post(CRDS, json=crd)
    assert r.status_code == 201, r.text
    return wait_established(http, crd["metadata"]["name"])


def wait_gone(http: httpx.Client, path: str, *, timeout: float = 15.0) -> None:
    wait_until(lambda: http.get(path).status_code == 404, f"{path} gone", timeout=timeout, interval=0.05)
