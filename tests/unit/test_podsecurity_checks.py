"""The Pod Security Standards checks: levels, Kubernetes' reasons and texts, restricted's overrides."""

from apiserver.admission.podsecurity_checks import evaluate, pod_of


def _pod(**spec):
    return {"name": "x"}, {"containers": [{"name": "c", "image": "busybox"}], **spec}


def test_privileged_level_allows_anything():
    meta, spec = _pod(hostNetwork=True)
    assert evaluate("privileged", meta, spec) == []


def test_baseline_host_namespaces_and_privileged_in_kubernetes_order():
    meta, spec = _pod(hostNetwork=True)
    spec["containers"][0]["securityContext"] = {"privileged": True}
    assert evaluate("baseline", meta, spec) == [
        ("host namespaces", "hostNetwork=true"),
        ("privileged", 'container "c" must not set securityContext.privileged=true')]


def test_baseline_hostpath_ports_caps_sysctls():
    meta, spec = _pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}],
                      securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                                   {"name": "net.ipv4.tcp_syncookies", "value": "1"}]})
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    spec["containers"][0]["securityContext"] = {"capabilities": {"add": ["NET_ADMIN", "CHOWN"]}}
    # Kubernetes' order: the baseline checks restricted keeps (by file name), then the three it
    # replaces (capabilities_baseline, hostPathVolumes, seccompProfile_baseline)
    assert evaluate("baseline", meta, spec) == [
        ("hostPort", 'container "c" uses hostPort 8080'),
        ("forbidden sysctls", "kernel.msgmax"),
        ("non-default capabilities", 'container "c" must not include "NET_ADMIN" in securityContext.capabilities.add'),
        ("hostPath volumes", 'volume "root"')]


def test_policy_versions_run_the_checks_of_their_time():
    meta, spec = _pod(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                       "runAsUser": 0,
                                       "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]})
    spec["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False}
    latest = [r for r, _ in evaluate("restricted", meta, spec)]
    assert latest == ["unrestricted capabilities", "runAsUser=0"]
    # before 1.29 the sysctl is not safe; runAsUser came in 1.23, capabilities_restricted in 1.22
    sysctl = "forbidden sysctls"
    assert [r for r, _ in evaluate("restricted", meta, spec, "v1.23")] == [sysctl, "unrestricted capabilities",
                                                                         "runAsUser=0"]
    assert [r for r, _ in evaluate("restricted", meta, spec, "v1.22")] == [sysctl, "unrestricted capabilities"]
    assert [r for r, _ in evaluate("restricted", meta, spec, "v1.21")] == [sysctl]
    # tcp_keepalive_time became a safe sysctl in 1.29
    assert evaluate("baseline", meta, spec, "v1.28") == [("forbidden sysctls", "net.ipv4.tcp_keepalive_time")]
    assert evaluate("baseline", meta, spec, "v1.29") == []


def test_windows_host_process_is_baseline():
    meta, spec = _pod(securityContext={"windowsOptions": {"hostProcess": True}})
    spec["containers"][0]["securityContext"] = {"windowsOptions": {"hostProcess": True}}
    assert evaluate("baseline", meta, spec) == [
        ("hostProcess", 'pod and container "c" must not set securityContext.windowsOptions.hostProcess=true')]


def test_baseline_allows_a_plain_pod_and_restricted_names_what_it_lacks():
    meta, spec = _pod()
    assert evaluate("baseline", meta, spec) == []
    assert evaluate("restricted", meta, spec) == [
        ("allowPrivilegeEscalation != false", 'container "c" must set securityContext.allowPrivilegeEscalation=false'),
        ("unrestricted capabilities", 'container "c" must set securityContext.capabilities.drop=["ALL"]'),
        ("runAsNonRoot != true", 'pod or container "c" must set securityContext.runAsNonRoot=true'),
        ("seccompProfile", 'pod or container "c" must set securityContext.seccompProfile.type to '
                           '"RuntimeDefault" or "Localhost"')]


def test_restricted_compliant_pod_passes_and_hostpath_is_a_restricted_volume_type():
    meta, spec = _pod(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
    spec["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    assert evaluate("restricted", meta, spec) == []
    spec["volumes"] = [{"name": "h", "hostPath": {"path": "/tmp"}}]
    assert evaluate("restricted", meta, spec) == [
        ("restricted volume types", 'volume "h" uses restricted volume type "hostPath"')]


def test_pod_of_workloads():
    dep = {"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}}
    assert pod_of("Deployment", dep) == ({"labels": {"a": "b"}}, {"containers": []})
    cj = {"spec": {"jobTemplate": {"spec": dep["spec"]}}}
    assert pod_of("CronJob", cj) == ({"labels": {"a": "b"}}, {"containers": []})
