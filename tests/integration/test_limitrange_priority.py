"""LimitRange and Priority admission, and the PriorityClass API, against the real apiserver
with the real kubectl (``kubectl create priorityclass`` sends protobuf)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest


@pytest.fixture
def ns(kubectl: Any) -> str:
    name = f"lr-{uuid.uuid4().hex[:8]}"
    assert kubectl("create", "namespace", name).returncode == 0
    return name


def _apply(kubectl: Any, ns: str, obj: dict) -> Any:
    return kubectl("-n", ns, "create", "-f", "-", input=json.dumps(obj))


LIMITS = {
    "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
    "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                         "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}, "min": {"cpu": "50m"},
                         "maxLimitRequestRatio": {"cpu": "10"}}]},
}


def _pod(name: str, resources: dict | None = None) -> dict:
    c: dict[str, Any] = {"name": "app", "image": "busybox"}
    if resources is not None:
        c["resources"] = resources
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [c]}}


def test_limitrange_defaults_show_in_the_pod(kubectl: Any, ns: str) -> None:
    assert _apply(kubectl, ns, LIMITS).returncode == 0
    stored = json.loads(kubectl("-n", ns, "get", "limits", "limits", "-o", "json").stdout)
    # Kubernetes' defaulting: the default request of memory falls back to its default limit.
    assert stored["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    got = kubectl("-n", ns, "get", "limits")
    assert got.stdout.split()[:4] == ["NAME", "CREATED", "AT", "limits"]

    proc = kubectl("-n", ns, "run", "web", "--image=busybox", "--restart=Never")
    assert proc.returncode == 0, proc.stderr
    pod = json.loads(kubectl("-n", ns, "get", "pod", "web", "-o", "json").stdout)
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web")
    # What the pod states itself is kept.
    assert _apply(kubectl, ns, _pod("own", {"limits": {"cpu": "200m"}})).returncode == 0
    own = json.loads(kubectl("-n", ns, "get", "pod", "own", "-o", "json").stdout)
    assert own["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert own["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "200m"


def test_limitrange_min_max_ratio_refused(kubectl: Any, ns: str) -> None:
    assert _apply(kubectl, ns, LIMITS).returncode == 0
    proc = _apply(kubectl, ns, _pod("big", {"limits": {"cpu": "2"}, "requests": {"cpu": "20m"}}))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "big" is forbidden: '
        '[minimum cpu usage per Container is 50m, but request is 20m, maximum cpu usage per Container is 1, '
        'but limit is 2, cpu max limit to request ratio per Container is 10, but provided ratio is 100.000000]')
    assert kubectl("-n", ns, "get", "pod", "big").returncode == 1  # nothing half-written


def test_limitrange_validation(kubectl: Any, ns: str) -> None:
    bad = {**LIMITS, "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}
    proc = _apply(kubectl, ns, bad)
    assert proc.returncode == 1
    assert 'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1' in proc.stderr


def test_priority_classes(kubectl: Any, ns: str) -> None:
    system = json.loads(kubectl("get", "pc", "-o", "json").stdout)["items"]
    values = {pc["metadata"]["name"]: pc["value"] for pc in system}
    assert values["system-cluster-critical"] == 2000000000
    assert values["system-node-critical"] == 2000001000

    name = f"high-{uuid.uuid4().hex[:6]}"
    proc = kubectl("create", "priorityclass", name, "--value=1000", "--description=important",
                   "--preemption-policy=Never")
    assert proc.returncode == 0, proc.stderr
    pc = json.loads(kubectl("get", "pc", name, "-o", "json").stdout)
    assert (pc["value"], pc["description"], pc["preemptionPolicy"]) == (1000, "important", "Never")
    got = kubectl("get", "pc", name)
    header, row = got.stdout.splitlines()
    assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert row.split()[:3] == [name, "1000", "false"] and row.split()[-1] == "Never"

    pod = _pod("prio")
    pod["spec"]["priorityClassName"] = name
    assert _apply(kubectl, ns, pod).returncode == 0
    spec = json.loads(kubectl("-n", ns, "get", "pod", "prio", "-o", "json").stdout)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")

    plain = _apply(kubectl, ns, _pod("plain"))
    assert plain.returncode == 0, plain.stderr
    spec = json.loads(kubectl("-n", ns, "get", "pod", "plain", "-o", "json").stdout)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")

    unknown = _pod("lost")
    unknown["spec"]["priorityClassName"] = "nope"
    proc = _apply(kubectl, ns, unknown)
    assert proc.returncode == 1
    assert 'pods "lost" is forbidden: no PriorityClass with name nope was found' in proc.stderr

    proc = kubectl("create", "priorityclass", "system-mine", "--value=5")
    assert proc.returncode == 1
    assert "priority class names with 'system-' prefix are reserved" in proc.stderr
    proc = kubectl("create", "priorityclass", f"huge-{uuid.uuid4().hex[:6]}", "--value=1000000001")
    assert proc.returncode == 1 and "maximum allowed value of a user defined priority is 1000000000" in proc.stderr
    proc = kubectl("patch", "pc", name, "-p", '{"value": 7}')
    assert proc.returncode == 1 and "value: Forbidden: may not be changed in an update." in proc.stderr
    assert kubectl("delete", "pc", name).returncode == 0


def test_one_global_default(kubectl: Any, ns: str) -> None:
    first, second = f"d1-{uuid.uuid4().hex[:6]}", f"d2-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "priorityclass", first, "--value=10", "--global-default").returncode == 0
    try:
        proc = kubectl("create", "priorityclass", second, "--value=20", "--global-default")
        assert proc.returncode == 1
        assert f"PriorityClass {first} is already marked as default. Only one default can exist" in proc.stderr
        assert _apply(kubectl, ns, _pod("defaulted")).returncode == 0
        spec = json.loads(kubectl("-n", ns, "get", "pod", "defaulted", "-o", "json").stdout)["spec"]
        assert (spec["priorityClassName"], spec["priority"]) == (first, 10)
    finally:
        kubectl("delete", "pc", first)
