"""Every manifest in ``examples/`` is accepted by the apiserver as it is: the real kubectl
applies each with ``--dry-run=server`` (full admission and validation, nothing stored), and
the set covers what the README promises (a Pod, a RollingUpdate Deployment, a ReplicaSet,
Services of every type, a ConfigMap, a Secret, a Namespace).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def namespace(kubectl) -> str:
    """A namespace of this module's own, so an example's fixed name meets nothing of another test."""
    name = f"examples-{uuid.uuid4().hex[:8]}"
    r = kubectl("create", "namespace", name)
    assert r.returncode == 0, r.stderr
    return name


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_accepted_by_the_server_and_stores_nothing(path, kubectl, namespace):
    r = kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(path), "-o", "json")
    assert r.returncode == 0, f"{path.name}: {r.stderr}"
    out = json.loads(r.stdout)
    returned = out["items"] if out.get("kind") == "List" else [out]
    sent = documents(path)
    assert [(o["kind"], o["metadata"]["name"]) for o in returned] == \
        [(d["kind"], d["metadata"]["name"]) for d in sent]
    for obj in returned:
        # The server filled in what it owns: proof the object went through its strategy.
        assert obj["metadata"].get("uid") and obj["metadata"].get("creationTimestamp"), obj["metadata"]
        r = kubectl("get", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace)
        assert r.returncode != 0 and "NotFound" in r.stderr, f"dry run stored {obj['kind']}: {r.stdout}"


def test_the_examples_cover_what_the_readme_promises():
    by_kind: dict[str, list[dict]] = {}
    for path in EXAMPLES:
        for d in documents(path):
            by_kind.setdefault(d["kind"], []).append(d)
    assert {"Pod", "Deployment", "ReplicaSet", "Service", "ConfigMap", "Secret", "Namespace"} <= set(by_kind)
    deployment = by_kind["Deployment"][0]["spec"]
    assert deployment["strategy"]["type"] == "RollingUpdate"
    assert {"maxSurge", "maxUnavailable"} <= set(deployment["strategy"]["rollingUpdate"])
    assert deployment["minReadySeconds"] > 0
    kinds = {s["spec"].get("type", "ClusterIP") + ("/headless" if s["spec"].get("clusterIP") == "None" else "")
             for s in by_kind["Service"]}
    assert kinds == {"ClusterIP", "ClusterIP/headless", "NodePort", "LoadBalancer", "ExternalName"}
    # Nothing can be pulled here: every container must use a local image without pulling it.
    for kind in ("Pod", "Deployment", "ReplicaSet"):
        for obj in by_kind[kind]:
            spec = obj["spec"] if kind == "Pod" else obj["spec"]["template"]["spec"]
            for c in spec["containers"]:
                assert c["image"].startswith("minik8s/") and c["imagePullPolicy"] == "IfNotPresent", c
