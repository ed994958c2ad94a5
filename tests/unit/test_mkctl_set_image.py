"""``mkctl set image`` finds the PodSpec where each kind keeps it: a Pod's ``spec``, a
workload's ``spec.template.spec``, a CronJob's ``spec.jobTemplate.spec.template.spec``."""

from __future__ import annotations

from minik8s.cli.set_image import pod_spec_of

_POD_SPEC = {"containers": [{"name": "c", "image": "busybox"}]}


def test_pod_spec_of_each_kind() -> None:
    assert pod_spec_of({"kind": "Pod", "spec": _POD_SPEC}) is _POD_SPEC
    assert pod_spec_of({"kind": "Deployment", "spec": {"template": {"spec": _POD_SPEC}}}) is _POD_SPEC
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": _POD_SPEC}}}}}
    assert pod_spec_of(cron) is _POD_SPEC


def test_pod_spec_of_an_object_without_a_template_is_none() -> None:
    assert pod_spec_of({"kind": "ConfigMap", "data": {}}) is None
    assert pod_spec_of({"kind": "Deployment", "spec": {}}) is None
    assert pod_spec_of({"kind": "CronJob", "spec": {"jobTemplate": {}}}) is None
