"""PodSecurity admission through the real kubectl against the real apiserver: the 403 text of
enforce, the ``Warning:`` lines of warn (pods and workloads), the 422 naming a bad label, the
warning about existing pods when enforce gets stricter, and a server whose
``--admission-control-config-file`` makes baseline the default and exempts a namespace."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest


@pytest.fixture
def ns(kubectl: Any) -> str:
    name = f"psa-{uuid.uuid4().hex[:8]}"
    assert kubectl("create", "namespace", name).returncode == 0
    return name


def _host_pod(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"hostNetwork": True, "containers": [
                           {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}})


def test_enforce_refuses_with_kubernetes_text_and_warn_prints_warnings(kubectl: Any, ns: str) -> None:
    assert kubectl("label", "ns", ns, "pod-security.kubernetes.io/enforce=baseline",
                   "pod-security.kubernetes.io/warn=restricted").returncode == 0
    proc = kubectl("-n", ns, "create", "-f", "-", input=_host_pod("bad"))
    assert proc.returncode == 1
    assert 'pods "bad" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), ' \
           'privileged (container "c" must not set securityContext.privileged=true)' in proc.stderr
    assert "Error from server (Forbidden)" in proc.stderr
    assert kubectl("-n", ns, "get", "pod", "bad").returncode == 1  # nothing stored

    proc = kubectl("-n", ns, "run", "web", "--image=busybox", "--restart=Never")
    assert proc.returncode == 0, proc.stderr
    assert ('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
            '(container "web" must set securityContext.allowPrivilegeEscalation=false)') in proc.stderr

    proc = kubectl("-n", ns, "create", "deployment", "dep", "--image=busybox")
    assert proc.returncode == 0, proc.stderr
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation' in proc.stderr


def test_bad_label_is_422_and_stricter_enforce_warns_about_existing_pods(kubectl: Any, ns: str) -> None:
    proc = kubectl("label", "ns", ns, "pod-security.kubernetes.io/enforce=strict")
    assert proc.returncode == 1
    assert (f'Namespace "{ns}" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
            'Invalid value: "strict": must be one of privileged, baseline, restricted') in proc.stderr
    assert kubectl("-n", ns, "create", "-f", "-", input=_host_pod("h1")).returncode == 0
    proc = kubectl("label", "ns", ns, "pod-security.kubernetes.io/enforce=baseline")
    assert proc.returncode == 0, proc.stderr
    assert (f'Warning: existing pods in namespace "{ns}" violate the new PodSecurity enforce level '
            '"baseline:latest"') in proc.stderr
    assert "Warning: h1: host namespaces, privileged" in proc.stderr


def test_configured_default_and_exempt_namespace(apiserver_factory: Any, kubectl: Any, tmp_path: Any) -> None:
    cfg = tmp_path / "admission.yaml"
    cfg.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "enforce-version": "latest"},
            "exemptions": {"namespaces": ["sys"]}}}]}))
    server = apiserver_factory(extra_args=("--admission-control-config-file", str(cfg)))
    for name in ("plain", "sys", "opened"):
        assert kubectl("create", "namespace", name, server=server).returncode == 0
    proc = kubectl("-n", "plain", "create", "-f", "-", input=_host_pod("p"), server=server)
    assert 'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)' in proc.stderr
    assert kubectl("-n", "sys", "create", "-f", "-", input=_host_pod("p"), server=server).returncode == 0
    # the user opens a namespace of their own, as the README says
    assert kubectl("label", "ns", "opened", "pod-security.kubernetes.io/enforce=privileged",
                   server=server).returncode == 0
    assert kubectl("-n", "opened", "create", "-f", "-", input=_host_pod("p"), server=server).returncode == 0
