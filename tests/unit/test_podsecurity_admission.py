"""PodSecurity admission evaluation: namespace label parsing, the configuration file, the plugin's
enforce/warn/audit decisions, significant pod updates and the namespace-wide warnings, with a
real WatchCache-shaped lookup (objects keyed as the apiserver stores them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver import errors
from apiserver.admission.interface import CREATE, UPDATE, Attributes
from apiserver.admission.podsecurity import PodSecurity, _significant_update
from apiserver.admission.podsecurity_config import (
    Config,
    ConfigError,
    LevelVersion,
    Policy,
    load_admission_config,
    policy_of,
)
from apiserver.audit import context as audit_context
from minik8s.api import resources as rs


class _Resource:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}


class _Cache:
    """The two WatchCache calls the plugin makes, over plain dicts."""

    def __init__(self) -> None:
        self.res = {"namespaces": _Resource(), "pods": _Resource()}

    def resource(self, name: str) -> _Resource:
        return self.res[name]

    def snapshot(self, resource: str, prefix: str) -> tuple[list[dict[str, Any]], int]:
        items = sorted((k, o) for k, o in self.res[resource].objects.items() if k.startswith(prefix))
        return [o for _, o in items], 1

    def ns(self, name: str, **labels: str) -> None:
        self.res["namespaces"].objects[f"/registry/namespaces/{name}"] = {
            "metadata": {"name": name, "labels": {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v
                                                  for k, v in labels.items()}}}

    def pod(self, ns: str, p: dict[str, Any]) -> None:
        self.res["pods"].objects[f"/registry/pods/{ns}/{p['metadata']['name']}"] = p


def _pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def _run(plugin: PodSecurity, attrs: Attributes) -> Attributes:
    asyncio.run(plugin.validate(attrs))
    return attrs


def test_labels_parse_with_defaults_and_errors_name_the_label() -> None:
    pol, errs = policy_of({"pod-security.kubernetes.io/enforce": "baseline",
                           "pod-security.kubernetes.io/warn-version": "v1.29"}, Policy())
    assert errs == []
    assert pol.enforce == LevelVersion("baseline", "latest") and str(pol.warn) == "privileged:v1.29"
    pol, errs = policy_of({"pod-security.kubernetes.io/enforce": "strict",
                           "pod-security.kubernetes.io/warn": "nope",
                           "pod-security.kubernetes.io/audit-version": "1.29"}, Policy())
    # enforce fails closed, warn open
    assert pol.enforce.level == "restricted" and pol.warn.level == "privileged"
    assert errs == [
        ("metadata.labels[pod-security.kubernetes.io/enforce]", "strict", "must be one of privileged, baseline, restricted"),
        ("metadata.labels[pod-security.kubernetes.io/audit-version]", "1.29", 'must be "latest" or "v1.x"'),
        ("metadata.labels[pod-security.kubernetes.io/warn]", "nope", "must be one of privileged, baseline, restricted")]


def test_enforce_refuses_with_kubernetes_message_and_warn_warns() -> None:
    cache = _Cache()
    cache.ns("a", enforce="baseline", warn="restricted")
    plugin = PodSecurity(cache)
    with pytest.raises(errors.Forbidden) as e:
        _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True, hostPID=True)))
    assert e.value.message == ('pods "p" is forbidden: violates PodSecurity "baseline:latest": '
                               "host namespaces (hostNetwork=true, hostPID=true)")
    got = _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod()))
    assert got.warnings == [
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true '
        '(pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile '
        '(pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")']


def test_workloads_warn_but_are_never_enforced() -> None:
    cache = _Cache()
    cache.ns("a", enforce="baseline", warn="baseline")
    dep = {"metadata": {"name": "d"}, "spec": {"template": _pod(hostNetwork=True)}}
    got = _run(PodSecurity(cache), Attributes(CREATE, rs.DEPLOYMENTS, "a", dep))
    assert got.warnings == ['would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)']
    cj = {"metadata": {"name": "j"}, "spec": {"jobTemplate": {"spec": {"template": _pod(hostIPC=True)}}}}
    assert _run(PodSecurity(cache), Attributes(CREATE, rs.CRONJOBS, "a", cj)).warnings == [
        'would violate PodSecurity "baseline:latest": host namespaces (hostIPC=true)']


def test_audit_annotation_goes_to_the_request_audit_context() -> None:
    cache = _Cache()
    cache.ns("a", audit="baseline")
    ctx = audit_context.AuditContext("x", 0.0)
    audit_context.set_current(ctx)
    try:
        got = _run(PodSecurity(cache), Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))
    finally:
        audit_context.set_current(None)
    assert got.warnings == []
    assert ctx.annotations["pod-security.kubernetes.io/audit-violations"] == (
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)')
    assert ctx.annotations["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"


def test_only_significant_pod_updates_are_evaluated() -> None:
    old = _pod(hostNetwork=True)
    relabelled = {**old, "metadata": {"name": "p", "labels": {"x": "y"}}}
    assert not _significant_update(relabelled, old)
    new_image = _pod(hostNetwork=True)
    new_image["spec"]["containers"][0]["image"] = "busybox:2"
    assert _significant_update(new_image, old)
    cache = _Cache()
    cache.ns("a", enforce="baseline")
    _run(PodSecurity(cache), Attributes(UPDATE, rs.PODS, "a", relabelled, old=old))
    with pytest.raises(errors.Forbidden):
        _run(PodSecurity(cache), Attributes(UPDATE, rs.PODS, "a", new_image, old=old))


def test_exemptions_and_defaults_from_config() -> None:
    cache = _Cache()
    cache.ns("kube-system")
    cache.ns("b")
    cfg = Config(defaults=Policy(enforce=LevelVersion("baseline")), exempt_namespaces=frozenset({"kube-system"}),
                 exempt_runtime_classes=frozenset({"kata"}))
    plugin = PodSecurity(cache, cfg)
    _run(plugin, Attributes(CREATE, rs.PODS, "kube-system", _pod(hostNetwork=True)))
    _run(plugin, Attributes(CREATE, rs.PODS, "b", _pod(hostNetwork=True, runtimeClassName="kata")))
    with pytest.raises(errors.Forbidden):
        _run(plugin, Attributes(CREATE, rs.PODS, "b", _pod(hostNetwork=True)))
    cache.ns("c", enforce="privileged")  # a label overrides the default
    _run(plugin, Attributes(CREATE, rs.PODS, "c", _pod(hostNetwork=True)))


def test_namespace_labels_invalid_422_and_stricter_enforce_warns_about_pods() -> None:
    cache = _Cache()
    plugin = PodSecurity(cache)
    bad = {"metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": "strict"}}}
    with pytest.raises(errors.Invalid) as e:
        _run(plugin, Attributes(CREATE, rs.NAMESPACES, None, bad))
    assert e.value.code == 422
    assert "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\"" in e.value.message
    # unchanged bad labels do not block other updates
    _run(plugin, Attributes(UPDATE, rs.NAMESPACES, None, bad, old=bad))
    for name in ("h1", "h2", "h3"):
        cache.pod("n", _pod(name, hostNetwork=True))
    cache.pod("n", _pod("priv", hostPID=True, volumes=[{"name": "v", "hostPath": {"path": "/"}}]))
    cache.pod("n", _pod("fine"))
    old = {"metadata": {"name": "n"}}
    new = {"metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    got = _run(plugin, Attributes(UPDATE, rs.NAMESPACES, None, new, old=old))
    assert got.warnings == [
        'existing pods in namespace "n" violate the new PodSecurity enforce level "baseline:latest"',
        "h1 (and 2 other pods): host namespaces",
        "priv: host namespaces, hostPath volumes"]
    # relaxing (same version) warns about nothing
    assert _run(plugin, Attributes(UPDATE, rs.NAMESPACES, None, old, old=new)).warnings == []


def test_admission_config_file(tmp_path: Any) -> None:
    f = tmp_path / "admission.yaml"
    f.write_text("""
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, warn: restricted, warn-version: v1.30}
    exemptions: {usernames: [admin], namespaces: [kube-system]}
""")
    cfg = load_admission_config(str(f))
    assert str(cfg.defaults.enforce) == "baseline:latest" and str(cfg.defaults.warn) == "restricted:v1.30"
    assert cfg.defaults.audit == LevelVersion() and cfg.exempt_namespaces == {"kube-system"}
    f.write_text(f.read_text().replace("enforce: baseline", "enforce: strict"))
    with pytest.raises(ConfigError, match=r"defaults.enforce: Invalid value: \"strict\""):
        load_admission_config(str(f))


def test_the_label_version_selects_the_checks() -> None:
    cache = _Cache()
    cache.ns("a", enforce="restricted", enforce_version="v1.21")
    pod = _pod(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
    pod["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False}
    _run(PodSecurity(cache), Attributes(CREATE, rs.PODS, "a", pod))  # no capabilities check before 1.22
    cache.ns("a", enforce="restricted", enforce_version="v1.22")
    with pytest.raises(errors.Forbidden, match='violates PodSecurity "restricted:v1.22": unrestricted capabilities'):
        _run(PodSecurity(cache), Attributes(CREATE, rs.PODS, "a", pod))


def test_a_relabelled_namespace_is_read_again() -> None:
    """The plugin keeps each namespace's policy while the watch cache holds the same namespace
    object; a change (a new object, as every watch event brings) is read again at once, and a
    namespace gone from the cache gets the defaults, not its last policy."""
    cache = _Cache()
    cache.ns("a", enforce="privileged")
    plugin = PodSecurity(cache, Config(defaults=Policy(enforce=LevelVersion("baseline", "latest"))))
    _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))  # allowed
    _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))  # allowed, from the kept policy
    cache.ns("a", enforce="baseline")
    with pytest.raises(errors.Forbidden):
        _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))
    cache.ns("a", enforce="privileged")
    _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))
    del cache.res["namespaces"].objects["/registry/namespaces/a"]
    with pytest.raises(errors.Forbidden):
        _run(plugin, Attributes(CREATE, rs.PODS, "a", _pod(hostNetwork=True)))
