"""API types: Kubernetes' defaults, round trips of real manifests, unknown-field paths, the scheme."""

import copy

import pytest
from pydantic import ValidationError

from minik8s.api import apps, autoscaling, coordination, core, resources, schema
from minik8s.api.base import to_dict


def roundtrip(model, manifest: dict) -> dict:
    return to_dict(model.model_validate(copy.deepcopy(manifest)))


def assert_kept(given, got, path="") -> None:
    """Every field of ``given`` comes back with the same value (defaults may add more)."""
    if isinstance(given, dict):
        assert isinstance(got, dict), path
        for k, v in given.items():
            assert k in got, f"{path}.{k} lost"
            assert_kept(v, got[k], f"{path}.{k}")
    elif isinstance(given, list):
        assert isinstance(got, list) and len(got) == len(given), path
        for i, (a, b) in enumerate(zip(given, got)):
            assert_kept(a, b, f"{path}[{i}]")
    else:
        assert given == got, f"{path}: {given!r} became {got!r}"


# --- pods -----------------------------------------------------------------------------------

def test_bare_pod_gets_kubernetes_defaults():
    pod = roundtrip(core.Pod, {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}})
    spec = pod["spec"]
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["resources"] == {}
    assert pod["status"] == {}
    assert "nodeName" not in spec and "hostNetwork" not in spec  # unset optionals stay out


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx", "Always"),
        ("localhost:5000/nginx", "Always"),  # the colon is the registry's port, not a tag
        ("localhost:5000/nginx:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image, policy):
    c = core.Container.model_validate({"name": "c", "image": image})
    assert c.image_pull_policy == policy


def test_explicit_pull_policy_is_kept():
    c = core.Container.model_validate({"name": "c", "image": "nginx", "imagePullPolicy": "Never"})
    assert c.image_pull_policy == "Never"


def test_probe_defaults_apply_only_to_a_present_probe():
    c = to_dict(core.Container.model_validate({
        "name": "c", "image": "x:1",
        "livenessProbe": {"httpGet": {"port": 8080}},
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 2},
    }))
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3,
    }
    assert c["readinessProbe"]["periodSeconds"] == 2
    assert c["readinessProbe"]["failureThreshold"] == 3
    assert "startupProbe" not in c and "lifecycle" not in c


def test_pod_requests_default_to_limits_but_templates_do_not():
    container = {"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                                             "requests": {"cpu": "100m"}}}
    pod = core.Pod.model_validate({"spec": {"containers": [container], "initContainers": [
        {"name": "i", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]}})
    assert pod.spec.containers[0].resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert pod.spec.init_containers[0].resources.requests == {"cpu": "1"}
    deploy = apps.Deployment.model_validate({"spec": {"template": {"spec": {"containers": [container]}}}})
    tmpl = deploy.spec.template.spec
    assert tmpl.containers[0].resources.requests == {"cpu": "100m"}
    assert tmpl.enable_service_links is None  # SetDefaults_Pod, not SetDefaults_PodSpec
    assert tmpl.restart_policy == "Always" and tmpl.containers[0].image_pull_policy == "IfNotPresent"


def test_host_network_makes_container_ports_host_ports():
    pod = core.Pod.model_validate({"spec": {"hostNetwork": True, "containers": [
        {"name": "c", "ports": [{"containerPort": 53}, {"containerPort": 80, "hostPort": 8080}]}]}})
    assert [p.host_port for p in pod.spec.containers[0].ports] == [53, 8080]
    pod = core.Pod.model_validate({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 53}]}]}})
    assert pod.spec.containers[0].ports[0].host_port is None


def test_quantities_are_canonicalized_and_checked():
    pod = core.Pod.model_validate({"spec": {"containers": [{"name": "c", "resources": {
        "requests": {"cpu": 0.5, "memory": "1024Mi", "ephemeral-storage": 2}}}]}})
    assert pod.spec.containers[0].resources.requests == {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2"}
    with pytest.raises(ValidationError) as e:
        core.Pod.model_validate({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "two"}}}]}})
    err = e.value.errors()[0]
    assert err["loc"][:4] == ("spec", "containers", 0, "resources")
    assert "quantities must match" in err["msg"]


def test_volume_defaults():
    spec = core.PodSpec.model_validate({"containers": [], "volumes": [
        {"name": "scratch"},
        {"name": "cfg", "configMap": {"name": "c"}},
        {"name": "sec", "secret": {"secretName": "s"}},
        {"name": "host", "hostPath": {"path": "/var/log"}},
        {"name": "dapi", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/x"}},
    ]})
    v = to_dict(spec)["volumes"]
    assert v[0] == {"name": "scratch", "emptyDir": {}}
    assert v[1]["configMap"] == {"name": "c", "defaultMode": 420}
    assert v[2]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert v[3]["hostPath"] == {"path": "/var/log", "type": ""}
    assert v[4]["downwardAPI"] == {"defaultMode": 420, "items": [
        {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}]}
    assert v[5] == {"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/x"}}


def test_env_field_ref_gets_api_version():
    c = to_dict(core.Container.model_validate({"name": "c", "env": [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}))
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"apiVersion": "v1", "fieldPath": "metadata.name"}


def test_defaults_are_not_shared_between_objects():
    a, b = core.Pod(), core.Pod()
    a.spec.containers.append(core.Container(name="x"))
    a.metadata.labels = {"a": "b"}
    a.status.phase = "Running"
    assert b.spec.containers == [] and b.metadata.labels is None and b.status.phase is None


def test_irregular_json_names():
    status = to_dict(core.PodStatus(pod_ip="10.0.0.5", pod_ips=[core.PodIP(ip="10.0.0.5")], host_ip="1.2.3.4",
                                    host_ips=[core.HostIP(ip="1.2.3.4")], container_statuses=[core.ContainerStatus(
                                        name="c", image_id="sha256:1", container_id="docker://a")]))
    assert set(status) == {"podIP", "podIPs", "hostIP", "hostIPs", "containerStatuses"}
    cs = status["containerStatuses"][0]
    assert cs["imageID"] == "sha256:1" and cs["containerID"] == "docker://a"
    # Go writes these without omitempty, and clients require them.
    assert cs["ready"] is False and cs["restartCount"] == 0 and cs["image"] == ""
    assert cs["state"] == {} and cs["lastState"] == {}
    spec = to_dict(core.PodSpec.model_validate({"hostPID": True, "hostIPC": True, "setHostnameAsFQDN": True}))
    assert spec["hostPID"] and spec["hostIPC"] and spec["setHostnameAsFQDN"]


# --- deployments and replica sets -----------------------------------------------------------

def test_deployment_defaults():
    d = roundtrip(apps.Deployment, {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "a"}},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    spec = d["spec"]
    assert d["apiVersion"] == "apps/v1"
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert d["status"] == {}


def test_recreate_strategy_gets_no_rolling_update():
    d = apps.Deployment.model_validate({"spec": {"strategy": {"type": "Recreate"}}})
    assert to_dict(d)["spec"]["strategy"] == {"type": "Recreate"}


def test_partial_rolling_update_is_completed():
    d = apps.Deployment.model_validate({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}})
    assert to_dict(d)["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}}


def test_replica_set_defaults_and_status_zero():
    rs = roundtrip(apps.ReplicaSet, {"spec": {"selector": {"matchLabels": {"a": "b"}}}})
    assert rs["spec"]["replicas"] == 1
    assert rs["status"] == {"replicas": 0}


def test_replicas_zero_is_kept():
    assert apps.Deployment.model_validate({"spec": {"replicas": 0}}).spec.replicas == 0


# --- services, endpoints, nodes, namespaces, config -----------------------------------------

def test_service_defaults():
    svc = roundtrip(core.Service, {"metadata": {"name": "s"}, "spec": {"selector": {"app": "a"}, "ports": [
        {"port": 80}, {"name": "named", "port": 443, "targetPort": "https"}, {"port": 53, "protocol": "UDP", "targetPort": 0}]}})
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv4"]
    assert "externalTrafficPolicy" not in spec and "allocateLoadBalancerNodePorts" not in spec
    assert spec["ports"] == [
        {"protocol": "TCP", "port": 80, "targetPort": 80},
        {"name": "named", "protocol": "TCP", "port": 443, "targetPort": "https"},
        {"protocol": "UDP", "port": 53, "targetPort": 53},
    ]
    assert svc["status"] == {"loadBalancer": {}}


def test_service_type_dependent_defaults():
    node_port = core.Service.model_validate({"spec": {"type": "NodePort", "ports": [{"port": 80}]}}).spec
    assert node_port.external_traffic_policy == "Cluster" and node_port.allocate_load_balancer_node_ports is None
    lb = core.Service.model_validate({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [
        {"ip": "1.2.3.4"}, {"hostname": "lb.example.com"}]}}})
    assert lb.spec.allocate_load_balancer_node_ports is True and lb.spec.external_traffic_policy == "Cluster"
    assert [i.ip_mode for i in lb.status.load_balancer.ingress] == ["VIP", None]
    ext = core.Service.model_validate({"spec": {"type": "ExternalName", "externalName": "example.com"}}).spec
    assert ext.internal_traffic_policy is None and ext.ip_family_policy is None and ext.external_traffic_policy is None
    with_ips = core.Service.model_validate({"spec": {"externalIPs": ["1.2.3.4"]}}).spec
    assert with_ips.external_traffic_policy == "Cluster"
    headless = core.Service.model_validate({"spec": {"clusterIP": "None", "selector": {"a": "b"}}}).spec
    assert headless.ip_family_policy == "SingleStack" and headless.ip_families == ["IPv4"]
    selectorless = core.Service.model_validate({"spec": {"clusterIP": "None"}}).spec
    assert selectorless.ip_family_policy == "RequireDualStack" and selectorless.ip_families == ["IPv4"]


def test_session_affinity_config():
    client_ip = core.Service.model_validate({"spec": {"sessionAffinity": "ClientIP"}}).spec
    assert client_ip.session_affinity_config.client_ip.timeout_seconds == 10800
    kept = core.Service.model_validate({"spec": {"sessionAffinity": "ClientIP",
                                                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}}).spec
    assert kept.session_affinity_config.client_ip.timeout_seconds == 60
    dropped = core.Service.model_validate({"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}}).spec
    assert dropped.session_affinity_config is None


def test_endpoints_port_protocol():
    ep = roundtrip(core.Endpoints, {"metadata": {"name": "s"}, "subsets": [
        {"addresses": [{"ip": "10.1.0.4", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p", "namespace": "default"}}],
         "ports": [{"port": 80, "name": "http"}]}]})
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]


def test_namespace_defaults():
    ns = roundtrip(core.Namespace, {"metadata": {"name": "team-a", "labels": {"x": "y"}}})
    assert ns["metadata"]["labels"] == {"x": "y", "kubernetes.io/metadata.name": "team-a"}
    assert ns["status"] == {"phase": "Active"}
    unnamed = core.Namespace.model_validate({"metadata": {"generateName": "t-"}})
    assert unnamed.metadata.labels is None


def test_node_defaults():
    node = roundtrip(core.Node, {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}})
    st = node["status"]
    assert st["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert st["nodeInfo"]["machineID"] == "" and st["nodeInfo"]["kubeletVersion"] == ""
    kept = core.Node.model_validate({"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}}})
    assert kept.status.allocatable == {"cpu": "3500m"}


def test_secret_and_configmap():
    assert roundtrip(core.Secret, {"metadata": {"name": "s"}, "data": {"k": "dg=="}})["type"] == "Opaque"
    assert roundtrip(core.Secret, {"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    assert roundtrip(core.ConfigMap, {"metadata": {"name": "c"}}) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_event_lease_scale_shapes():
    ev = roundtrip(core.Event, {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Scheduled"})
    assert ev["reportingComponent"] == "" and ev["reportingInstance"] == "" and ev["source"] == {}
    assert roundtrip(coordination.Lease, {"metadata": {"name": "n1"}})["spec"] == {}
    scale = roundtrip(autoscaling.Scale, {"metadata": {"name": "d"}, "spec": {"replicas": 3}})
    assert scale == {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d"},
                     "spec": {"replicas": 3}, "status": {"replicas": 0}}


# --- realistic manifests keep every field -----------------------------------------------------

NGINX_DEPLOYMENT = {  # the Deployment concept page's example
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
             "template": {"metadata": {"labels": {"app": "nginx"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]}}},
}

FULL_POD = {  # what `kubectl get pod -o json` shows for a busy pod
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-7d4b9c-x2x9z", "namespace": "default", "uid": "0b6f3c84-1f2e-4c1a-9a57-6b8f1f0d2a11",
                 "resourceVersion": "12345", "generation": 1, "creationTimestamp": "2026-11-23T15:38:36Z",
                 "generateName": "web-7d4b9c-", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
                 "annotations": {"note": "x"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
                                      "uid": "9f0c", "controller": True, "blockOwnerDeletion": True}]},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi"],
                            "imagePullPolicy": "IfNotPresent", "resources": {},
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
        "containers": [{
            "name": "web", "image": "registry.local:5000/web:2.1", "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/web"], "args": ["--port=8080"], "workingDir": "/srv",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "prod"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"containerName": "web", "resource": "limits.cpu", "divisor": "1m"}}},
                    {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color", "optional": True}}},
                    {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "db"}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP",
                                          "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                              "initialDelaySeconds": 3, "timeoutSeconds": 1, "periodSeconds": 3,
                              "successThreshold": 1, "failureThreshold": 3},
            "readinessProbe": {"tcpSocket": {"port": "http"}, "timeoutSeconds": 1, "periodSeconds": 10,
                               "successThreshold": 1, "failureThreshold": 3},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "timeoutSeconds": 1, "periodSeconds": 10,
                             "successThreshold": 1, "failureThreshold": 30},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}, "postStart": {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}}},
            "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "privileged": False,
                                "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "stdin": False, "tty": False}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420, "items": [{"key": "a", "path": "a.conf"}]}},
                    {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "proj", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 3600,
        "dnsPolicy": "ClusterFirst", "nodeSelector": {"disktype": "ssd"}, "serviceAccountName": "default",
        "serviceAccount": "default", "nodeName": "node-1", "hostname": "web", "subdomain": "web-svc",
        "securityContext": {"fsGroup": 2000, "runAsUser": 1000, "supplementalGroups": [3000]},
        "imagePullSecrets": [{"name": "regcred"}], "schedulerName": "default-scheduler",
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["antarctica-east1"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "preference": {"matchExpressions": [{"key": "another-node-label-key", "operator": "In", "values": ["another-node-label-value"]}]}}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                                                    "topologyKey": "kubernetes.io/hostname"}}]},
            "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}]}},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                        {"key": "example", "operator": "Equal", "value": "x", "effect": "NoSchedule"}],
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]}],
        "priorityClassName": "high", "priority": 1000, "preemptionPolicy": "PreemptLowerPriority",
        "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["ns1.svc.cluster-domain.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
        "readinessGates": [{"conditionType": "www.example.com/feature-1"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                       "labelSelector": {"matchLabels": {"app": "web"}}}],
        "overhead": {"cpu": "250m"}, "enableServiceLinks": True, "hostNetwork": False,
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": "2026-11-23T15:38:40Z"},
                       {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-23T15:38:36Z"}],
        "hostIP": "192.168.1.10", "hostIPs": [{"ip": "192.168.1.10"}],
        "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
        "startTime": "2026-11-23T15:38:36Z", "qosClass": "Burstable", "nominatedNodeName": "node-1",
        "initContainerStatuses": [{"name": "init", "ready": True, "restartCount": 0, "image": "busybox:1.36", "imageID": "docker-pullable://busybox@sha256:ab",
                                   "containerID": "docker://1111", "started": False,
                                   "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-23T15:38:37Z",
                                                            "finishedAt": "2026-11-23T15:38:37Z", "containerID": "docker://1111"}},
                                   "lastState": {}}],
        "containerStatuses": [{"name": "web", "ready": True, "restartCount": 2, "image": "registry.local:5000/web:2.1", "imageID": "sha256:cd",
                               "containerID": "docker://2222", "started": True,
                               "state": {"running": {"startedAt": "2026-11-23T15:38:39Z"}},
                               "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "message": "killed",
                                                            "startedAt": "2026-11-23T15:30:00Z", "finishedAt": "2026-11-23T15:38:38Z"}}}],
    },
}

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-service"},
           "spec": {"type": "NodePort", "selector": {"app.kubernetes.io/name": "MyApp"},
                    "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9376, "nodePort": 30007, "appProtocol": "http"}],
                    "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"], "externalTrafficPolicy": "Local",
                    "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}},
                    "publishNotReadyAddresses": True, "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "internalTrafficPolicy": "Local"},
           "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.127", "ports": [{"port": 80, "protocol": "TCP"}]}]}}}

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "providerID": "minik8s://node-1", "unschedulable": True,
                 "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2026-11-23T15:00:00Z"},
                            {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]},
        "status": {"capacity": {"cpu": "4", "memory": "8029888Ki", "pods": "110", "ephemeral-storage": "100Gi"},
                   "allocatable": {"cpu": "3500m", "memory": "7Gi", "pods": "110", "ephemeral-storage": "90Gi"},
                   "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-11-23T15:38:00Z",
                                   "lastTransitionTime": "2026-11-23T15:00:00Z", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
                   "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "node-1"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                   "nodeInfo": {"machineID": "m", "systemUUID": "u", "bootID": "b", "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12",
                                "containerRuntimeVersion": "docker://24.0.5", "kubeletVersion": "v1.30.0-minik8s", "kubeProxyVersion": "v1.30.0-minik8s",
                                "operatingSystem": "linux", "architecture": "amd64"},
                   "images": [{"names": ["busybox:1.36"], "sizeBytes": 4261574}], "phase": "Running"}}

OTHERS = [
    (core.Namespace, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev"}},
                      "spec": {"finalizers": ["kubernetes"]},
                      "status": {"phase": "Terminating", "conditions": [{"type": "NamespaceDeletionContentFailure", "status": "False", "reason": "ContentDeleted"}]}}),
    (core.ConfigMap, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "game-demo"}, "immutable": True,
                      "data": {"player_initial_lives": "3", "game.properties": "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n"},
                      "binaryData": {"blob": "AAEC"}}),
    (core.Secret, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "secret-basic-auth"}, "type": "kubernetes.io/basic-auth",
                   "data": {"username": "YWRtaW4="}, "stringData": {"password": "t0p-Secret"}, "immutable": False}),
    (core.Event, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.17a", "namespace": "default"},
                  "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "default", "uid": "u", "resourceVersion": "5", "fieldPath": "spec.containers{web}"},
                  "reason": "Pulled", "message": "Container image already present on machine", "source": {"component": "kubelet", "host": "node-1"},
                  "firstTimestamp": "2026-11-23T15:38:37Z", "lastTimestamp": "2026-11-23T15:38:39Z", "count": 2, "type": "Normal",
                  "eventTime": "2026-11-23T15:38:37.123456Z", "series": {"count": 2, "lastObservedTime": "2026-11-23T15:38:39.000000Z"},
                  "action": "Pulling", "related": {"kind": "Node", "name": "node-1"}, "reportingComponent": "kubelet", "reportingInstance": "node-1"}),
    (core.Binding, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web", "namespace": "default"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}),
    (core.Endpoints, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "my-service"},
                      "subsets": [{"addresses": [{"ip": "10.244.1.7", "hostname": "web", "nodeName": "node-1",
                                                  "targetRef": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u"}}],
                                   "notReadyAddresses": [{"ip": "10.244.2.3"}],
                                   "ports": [{"name": "http", "port": 9376, "protocol": "TCP", "appProtocol": "http"}]}]}),
    (coordination.Lease, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
                          "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "acquireTime": "2026-11-23T15:00:00.000000Z",
                                   "renewTime": "2026-11-23T15:38:30.123456Z", "leaseTransitions": 3}}),
    (autoscaling.Scale, {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
                         "spec": {"replicas": 5}, "status": {"replicas": 3, "selector": "app=web"}}),
    (apps.ReplicaSet, {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "frontend", "labels": {"app": "guestbook", "tier": "frontend"}},
                       "spec": {"replicas": 3, "minReadySeconds": 5, "selector": {"matchLabels": {"tier": "frontend"}},
                                "template": {"metadata": {"labels": {"tier": "frontend"}},
                                             "spec": {"containers": [{"name": "php-redis", "image": "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5"}]}}},
                       "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1,
                                  "conditions": [{"type": "ReplicaFailure", "status": "False", "reason": "x", "message": "y", "lastTransitionTime": "2026-11-23T15:38:36Z"}]}}),
    (apps.Deployment, {**NGINX_DEPLOYMENT, "spec": {**NGINX_DEPLOYMENT["spec"], "minReadySeconds": 2, "paused": True,
                                                     "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 3, "progressDeadlineSeconds": 60},
                       "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                                  "unavailableReplicas": 0, "collisionCount": 1,
                                  "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2026-11-23T15:38:36Z",
                                                  "lastTransitionTime": "2026-11-23T15:38:36Z", "reason": "MinimumReplicasAvailable",
                                                  "message": "Deployment has minimum availability."}]}}),
]


@pytest.mark.parametrize(
    ("model", "manifest"),
    [(apps.Deployment, NGINX_DEPLOYMENT), (core.Pod, FULL_POD), (core.Service, SERVICE), (core.Node, NODE), *OTHERS],
    ids=lambda x: x.__name__ if isinstance(x, type) else "",
)
def test_round_trip_keeps_every_field(model, manifest):
    # None-valued fields (lastProbeTime: null) are dropped on output, as omitempty does.
    got = roundtrip(model, manifest)
    assert_kept(_without_nulls(manifest), got)
    assert schema.unknown_fields(model, manifest) == []
    # A defaulted object is a fixed point: validating it again changes nothing.
    assert roundtrip(model, got) == got


def _without_nulls(x):
    if isinstance(x, dict):
        return {k: _without_nulls(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_without_nulls(v) for v in x]
    return x


def test_lists():
    pods = core.PodList.model_validate({"metadata": {"resourceVersion": "7", "continue": "abc"}, "items": [FULL_POD]})
    d = to_dict(pods)
    assert d["kind"] == "PodList" and d["metadata"] == {"resourceVersion": "7", "continue": "abc"}
    assert_kept(_without_nulls(FULL_POD), d["items"][0])
    assert to_dict(apps.DeploymentList()) == {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": []}


# --- unknown fields -------------------------------------------------------------------------

def test_unknown_field_paths():
    manifest = copy.deepcopy(NGINX_DEPLOYMENT)
    manifest["spc"] = {}
    manifest["metadata"]["nmae"] = "x"
    c = manifest["spec"]["template"]["spec"]["containers"][0]
    c["imagePullPolcy"] = "Always"
    c["ports"][0]["containerport"] = 81
    c["image_pull_policy"] = "Never"  # Kubernetes knows only the JSON names
    manifest["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1, "maxSurges": 2}}
    assert schema.unknown_fields(apps.Deployment, manifest) == [
        "metadata.nmae",  # in document order
        "spec.template.spec.containers[0].ports[0].containerport",
        "spec.template.spec.containers[0].imagePullPolcy",
        "spec.template.spec.containers[0].image_pull_policy",
        "spec.strategy.rollingUpdate.maxSurges",
        "spc",
    ]


def test_unknown_fields_accepts_maps_and_untyped_parts():
    pod = {"metadata": {"labels": {"anything": "goes"}, "annotations": {"x/y": "z"}},
           "spec": {"nodeSelector": {"any": "key"}, "topologySpreadConstraints": [{"whatever": 1}],
                    "volumes": [{"name": "v", "csi": {"driver": "d", "volumeAttributes": {"k": "v"}}}],
                    "containers": [{"name": "c", "resources": {"limits": {"example.com/gpu": "1"}}}]},
           "status": {"conditions": [{"type": "Ready", "status": "True", "bogus": 1}]}}
    assert schema.unknown_fields(core.Pod, pod) == ["status.conditions[0].bogus"]


def test_unknown_fields_leaves_wrong_types_to_validation():
    assert schema.unknown_fields(core.Pod, {"spec": {"containers": "nope"}, "metadata": None}) == []
    assert schema.unknown_fields(core.Pod, {"spec": {"containers": ["nope", {"name": "c", "x": 1}]}}) == ["spec.containers[1].x"]


def test_unknown_fields_in_lists_of_kinds():
    assert schema.unknown_fields(core.PodList, {"items": [{"spec": {"nodeNmae": "n"}}]}) == ["items[0].spec.nodeNmae"]


# --- the scheme and merge keys --------------------------------------------------------------

def test_models_cover_every_resource_and_its_list():
    for r in resources.ALL:
        model = schema.MODELS[(r.group, r.kind)]
        assert model.model_fields["kind"].default == r.kind
        assert model.model_fields["api_version"].default == r.api_version
        lst = schema.MODELS[(r.group, r.kind + "List")]
        assert lst.model_fields["api_version"].default == r.api_version
    assert schema.MODELS[("autoscaling", "Scale")] is autoscaling.Scale
    assert schema.model_for("apps/v1", "Deployment") is apps.Deployment
    assert schema.model_for("v1", "Binding") is core.Binding
    with pytest.raises(KeyError):
        schema.model_for("v1", "Nope")


def _merge(model, field):
    extra = model.model_fields[field].json_schema_extra or {}
    return extra.get("x-kubernetes-patch-merge-key"), extra.get("x-kubernetes-patch-strategy")


@pytest.mark.parametrize(
    ("model", "field", "key", "strategy"),
    [
        (core.PodSpec, "containers", "name", "merge"),
        (core.PodSpec, "init_containers", "name", "merge"),
        (core.PodSpec, "volumes", "name", "merge,retainKeys"),
        (core.PodSpec, "image_pull_secrets", "name", "merge"),
        (core.PodSpec, "host_aliases", "ip", "merge"),
        (core.PodSpec, "topology_spread_constraints", "topologyKey", "merge"),
        (core.Container, "ports", "containerPort", "merge"),
        (core.Container, "env", "name", "merge"),
        (core.Container, "volume_mounts", "mountPath", "merge"),
        (core.PodStatus, "conditions", "type", "merge"),
        (core.PodStatus, "pod_ips", "ip", "merge"),
        (core.NodeStatus, "conditions", "type", "merge"),
        (core.NodeStatus, "addresses", "type", "merge"),
        (core.NodeSpec, "pod_cidrs", None, "merge"),
        (core.ServiceSpec, "ports", "port", "merge"),
        (apps.DeploymentStatus, "conditions", "type", "merge"),
        (apps.ReplicaSetStatus, "conditions", "type", "merge"),
        (core.PodSpec, "tolerations", None, None),
        (core.EndpointSubset, "addresses", None, None),
    ],
)
def test_merge_keys_match_kubernetes(model, field, key, strategy):
    assert _merge(model, field) == (key, strategy)
