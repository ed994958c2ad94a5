"""Which pods get their app containers created while their sandbox starts (kubelet/sync.py)."""

from __future__ import annotations

from typing import Any, cast

from kubelet import sync
from minik8s.api import typed


def pod(**spec: Any) -> typed.Pod:
    return cast(typed.Pod, {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
                            "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec}})


def test_a_plain_pod_is_created_early() -> None:
    assert sync._may_create_early(pod())
    env = [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}, {"name": "A", "value": "1"}]
    assert sync._may_create_early(pod(containers=[{"name": "app", "image": "busybox", "env": env}]))


def test_init_containers_and_the_pod_ip_wait_for_the_sandbox() -> None:
    # App containers wait for the init containers; the pod's IP is known once the sandbox runs.
    assert not sync._may_create_early(pod(initContainers=[{"name": "init", "image": "busybox"}]))
    for path in ("status.podIP", "status.podIPs"):
        env = [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": path}}}]
        assert not sync._may_create_early(pod(containers=[{"name": "a", "image": "busybox"},
                                                          {"name": "b", "image": "busybox", "env": env}]))
