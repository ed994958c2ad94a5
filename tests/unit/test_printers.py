"""The printed columns of every kind, checked against what kubectl prints for real objects."""

from __future__ import annotations

import datetime

from apiserver import printers

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.UTC).timestamp()


def ago(seconds: float) -> str:
    t = datetime.datetime.fromtimestamp(NOW - seconds, tz=datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, *, age: float = 3600, **kw) -> dict:
    return {"name": name, "namespace": "default", "uid": "u-" + name, "creationTimestamp": ago(age), **kw}


def names(printer: printers.Printer, *, wide: bool = False) -> list[str]:
    return [c.name for c in printer.columns if wide or c.priority == 0]


def test_columns_match_kubernetes() -> None:
    assert names(printers.POD, wide=True) == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                              "Nominated Node", "Readiness Gates"]
    assert names(printers.NODE, wide=True) == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP",
                                               "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert names(printers.SERVICE, wide=True) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)",
                                                  "Age", "Selector"]
    assert names(printers.EVENT) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert names(printers.DEPLOYMENT) == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert names(printers.REPLICASET, wide=True) == ["Name", "Desired", "Current", "Ready", "Age",
                                                     "Containers", "Images", "Selector"]
    assert names(printers.NAMESPACE) == ["Name", "Status", "Age"]
    assert names(printers.ENDPOINTS) == ["Name", "Endpoints", "Age"]
    assert names(printers.CONFIGMAP) == ["Name", "Data", "Age"]
    assert names(printers.SECRET) == ["Name", "Type", "Data", "Age"]
    assert names(printers.LEASE) == ["Name", "Holder", "Age"]
    for p in (printers.POD, printers.NODE, printers.SERVICE, printers.DEPLOYMENT, printers.REPLICASET,
              printers.NAMESPACE, printers.ENDPOINTS, printers.CONFIGMAP, printers.SECRET, printers.LEASE):
        assert p.columns[0].format == "name"
        assert all(c.description for c in p.columns)
    # events name their object instead; the event's own name is a wide column
    assert [c.name for c in printers.EVENT.columns if c.format == "name"] == ["Name"]
    assert printers.REPLICASET.columns[1].type == "integer"


def test_every_row_has_one_cell_per_column() -> None:
    objs = {
        printers.POD: {"metadata": meta("p")}, printers.NODE: {"metadata": meta("n")},
        printers.SERVICE: {"metadata": meta("s")}, printers.EVENT: {"metadata": meta("e")},
        printers.DEPLOYMENT: {"metadata": meta("d")}, printers.REPLICASET: {"metadata": meta("r")},
        printers.NAMESPACE: {"metadata": meta("ns")}, printers.ENDPOINTS: {"metadata": meta("ep")},
        printers.CONFIGMAP: {"metadata": meta("cm")}, printers.SECRET: {"metadata": meta("sc")},
        printers.LEASE: {"metadata": meta("l")},
    }
    for printer, obj in objs.items():
        assert len(printer.row(obj, NOW)) == len(printer.columns)


# --- pods -------------------------------------------------------------------------------------

def pod(*, phase: str = "Running", statuses=(), init_statuses=None, init_containers=None,
        containers=("app",), conditions=(), **md) -> dict:
    spec: dict = {"containers": [{"name": c, "image": "busybox"} for c in containers], "nodeName": "node-1"}
    if init_containers is not None:
        spec["initContainers"] = init_containers
    status: dict = {"phase": phase, "containerStatuses": list(statuses), "conditions": list(conditions)}
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta("web", age=600, **md), "spec": spec,
            "status": status}


def cs(name: str = "app", *, ready: bool = False, restarts: int = 0, last_finished: float | None = None,
       **state) -> dict:
    out = {"name": name, "ready": ready, "restartCount": restarts, "image": "busybox", "imageID": "",
           "state": state}
    if last_finished is not None:
        out["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(last_finished)}}
    return out


READY = [{"type": "Ready", "status": "True"}]


def status_of(p: dict) -> tuple[str, str, str]:
    return printers.pod_status_cells(p, NOW)


def test_pod_running() -> None:
    p = pod(statuses=[cs(ready=True, running={"startedAt": ago(500)})], conditions=READY)
    p["status"]["podIPs"] = [{"ip": "10.244.0.5"}]
    assert printers.POD.row(p, NOW) == ["web", "1/1", "Running", "0", "10m", "10.244.0.5", "node-1",
                                        "<none>", "<none>"]


def test_pod_pending_unscheduled_prints_none_for_wide_cells() -> None:
    p = pod(phase="Pending")
    del p["spec"]["nodeName"]
    assert printers.POD.row(p, NOW)[1:] == ["0/1", "Pending", "0", "10m", "<none>", "<none>", "<none>", "<none>"]


def test_pod_container_creating() -> None:
    p = pod(phase="Pending", statuses=[cs(waiting={"reason": "ContainerCreating"})])
    assert status_of(p) == ("0/1", "ContainerCreating", "0")


def test_pod_crash_loop_back_off_shows_last_restart() -> None:
    p = pod(statuses=[cs(restarts=5, last_finished=300, waiting={"reason": "CrashLoopBackOff",
                                                                  "message": "back-off 5m0s"})])
    assert status_of(p) == ("0/1", "CrashLoopBackOff", "5 (5m ago)")


def test_pod_init_containers() -> None:
    init = [{"name": "setup", "image": "busybox"}]
    waiting_main = [cs(waiting={"reason": "PodInitializing"})]
    running = pod(phase="Pending", init_containers=init, statuses=waiting_main,
                  init_statuses=[cs("setup", running={"startedAt": ago(5)})])
    assert status_of(running) == ("0/1", "Init:0/1", "0")
    crashing = pod(phase="Pending", init_containers=init, statuses=waiting_main,
                   init_statuses=[cs("setup", restarts=3, last_finished=30, waiting={"reason": "CrashLoopBackOff"})])
    assert status_of(crashing) == ("0/1", "Init:CrashLoopBackOff", "3 (30s ago)")
    failed = pod(phase="Pending", init_containers=init, statuses=waiting_main,
                 init_statuses=[cs("setup", terminated={"exitCode": 2})])
    assert status_of(failed)[1] == "Init:ExitCode:2"
    done = pod(init_containers=init, conditions=READY, statuses=[cs(ready=True, running={})],
               init_statuses=[cs("setup", terminated={"exitCode": 0, "reason": "Completed"})])
    assert status_of(done) == ("1/1", "Running", "0")


def test_pod_sidecar_counts_as_a_container() -> None:
    init = [{"name": "proxy", "image": "busybox", "restartPolicy": "Always"}]
    p = pod(init_containers=init, conditions=READY + [{"type": "Initialized", "status": "True"}],
            statuses=[cs(ready=True, running={})],
            init_statuses=[{**cs("proxy", ready=True, restarts=1, last_finished=60, running={}), "started": True}])
    assert status_of(p) == ("2/2", "Running", "1 (60s ago)")


def test_pod_completed_and_its_row_condition() -> None:
    p = pod(phase="Succeeded", statuses=[cs(terminated={"exitCode": 0, "reason": "Completed"})])
    assert status_of(p) == ("0/1", "Completed", "0")
    row = printers.table_row(printers.POD, p, now=NOW)
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]


def test_pod_one_container_failed_is_not_completed() -> None:
    p = pod(phase="Failed", containers=("a", "b"),
            statuses=[cs("a", terminated={"exitCode": 0, "reason": "Completed"}),
                      cs("b", terminated={"exitCode": 1, "reason": "Error"})])
    assert status_of(p) == ("0/2", "Error", "0")


def test_pod_completed_container_beside_running_one() -> None:
    p = pod(containers=("a", "b"), conditions=[{"type": "Ready", "status": "False"}],
            statuses=[cs("a", terminated={"exitCode": 0, "reason": "Completed"}),
                      cs("b", ready=True, running={})])
    assert status_of(p) == ("1/2", "NotReady", "0")


def test_pod_terminated_without_reason() -> None:
    assert status_of(pod(statuses=[cs(terminated={"exitCode": 137})]))[1] == "ExitCode:137"
    assert status_of(pod(statuses=[cs(terminated={"exitCode": 0, "signal": 9})]))[1] == "Signal:9"


def test_pod_terminating_and_node_lost() -> None:
    deleting = {"deletionTimestamp": ago(1)}
    assert status_of(pod(statuses=[cs(ready=True, running={})], conditions=READY, **deleting))[1] == "Terminating"
    lost = pod(statuses=[cs(ready=True, running={})], **deleting)
    lost["status"]["reason"] = "NodeLost"
    assert status_of(lost)[1] == "Unknown"
    # A finished pod awaiting deletion keeps its final status.
    done = pod(phase="Succeeded", statuses=[cs(terminated={"exitCode": 0, "reason": "Completed"})], **deleting)
    assert status_of(done)[1] == "Completed"


def test_pod_scheduling_gated_and_evicted() -> None:
    gated = pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}])
    assert status_of(gated)[1] == "SchedulingGated"
    evicted = pod(phase="Failed")
    evicted["status"]["reason"] = "Evicted"
    assert status_of(evicted)[1] == "Evicted"


def test_pod_readiness_gates() -> None:
    p = pod(statuses=[cs(ready=True, running={})],
            conditions=READY + [{"type": "example.com/a", "status": "True"},
                                {"type": "example.com/b", "status": "False"}])
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]
    assert printers.POD.row(p, NOW)[-1] == "1/2"


# --- other kinds ----------------------------------------------------------------------------

def test_node() -> None:
    node = {"metadata": meta("node-1", age=2 * 86400,
                             labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "db"}),
            "spec": {},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "node-1"},
                                     {"type": "InternalIP", "address": "172.17.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0-minik8s", "osImage": "Debian GNU/Linux 12",
                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "docker://24.0.7"}}}
    assert printers.NODE.row(node, NOW) == ["node-1", "Ready", "control-plane,db", "2d", "v1.32.0-minik8s",
                                            "172.17.0.2", "<none>", "Debian GNU/Linux 12", "6.1.0",
                                            "docker://24.0.7"]
    node["spec"]["unschedulable"] = True
    node["status"]["conditions"][1]["status"] = "Unknown"
    assert printers.NODE.row(node, NOW)[1] == "NotReady,SchedulingDisabled"
    bare = {"metadata": meta("node-2"), "status": {}}
    assert printers.NODE.row(bare, NOW)[1:3] == ["Unknown", "<none>"]
    assert printers.NODE.row(bare, NOW)[7:] == ["<unknown>", "<unknown>", "<unknown>"]


def test_service() -> None:
    svc = {"metadata": meta("web", age=90),
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                    "selector": {"app": "web", "tier": "front"}}}
    assert printers.SERVICE.row(svc, NOW) == ["web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP",
                                              "90s", "app=web,tier=front"]
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11",
                                           "ports": [{"port": 443}]}}
    assert printers.SERVICE.row(lb, NOW)[1:5] == ["LoadBalancer", "10.96.0.11", "<pending>", "443/TCP"]
    headless = {"metadata": meta("db"), "spec": {"clusterIP": "None"}}
    assert printers.SERVICE.row(headless, NOW)[1:5] == ["ClusterIP", "None", "<none>", "<none>"]
    assert printers.SERVICE.row(headless, NOW)[6] == "<none>"
    ext = {"metadata": meta("x"), "spec": {"type": "ExternalName", "externalName": "example.com"}}
    assert printers.SERVICE.row(ext, NOW)[3] == "example.com"


def test_endpoints() -> None:
    ep = {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)], "ports": [{"port": 80}]}]}
    assert printers.ENDPOINTS.row(ep, NOW)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
    assert printers.ENDPOINTS.row({"metadata": meta("none")}, NOW)[1] == "<none>"
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}]}
    assert printers.ENDPOINTS.row(headless, NOW)[1] == "10.0.0.1,fd00::1"
    v6 = {"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert printers.ENDPOINTS.row(v6, NOW)[1] == "[fd00::1]:80"


def test_event() -> None:
    ev = {"metadata": meta("web.1"), "type": "Warning", "reason": "BackOff",
          "message": "Back-off restarting failed container\n",
          "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node-1"},
          "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 7}
    assert printers.EVENT.row(ev, NOW) == ["30s", "Warning", "BackOff", "pod/web", "spec.containers{app}",
                                           "kubelet, node-1", "Back-off restarting failed container", "10m", 7,
                                           "web.1"]
    new_api = {"metadata": meta("n.1"), "type": "Normal", "reason": "Scheduled", "message": "ok",
               "involvedObject": {"kind": "Pod", "name": "web"}, "eventTime": "2025-06-01T11:59:00.000000Z",
               "reportingComponent": "default-scheduler"}
    row = printers.EVENT.row(new_api, NOW)
    assert (row[0], row[5], row[7], row[8]) == ("60s", "default-scheduler", "60s", 1)


def test_deployment_and_replicaset() -> None:
    template = {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"},
                                        {"name": "log", "image": "busybox"}]}}
    d = {"metadata": meta("web", age=86400),
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert printers.DEPLOYMENT.row(d, NOW) == ["web", "2/3", 3, 2, "24h", "web,log", "nginx:1.26,busybox", "app=web"]
    rs = {"metadata": meta("web-5d8f"),
          "spec": {"replicas": 3, "template": template,
                   "selector": {"matchLabels": {"app": "web"},
                                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                                                     {"key": "canary", "operator": "DoesNotExist"}]}},
          "status": {"replicas": 3}}
    assert printers.REPLICASET.row(rs, NOW) == ["web-5d8f", 3, 3, 0, "60m", "web,log", "nginx:1.26,busybox",
                                                "app=web,!canary,tier in (a,b)"]
    fresh = {"metadata": meta("new"), "spec": {}}
    assert printers.DEPLOYMENT.row(fresh, NOW)[1:4] == ["0/1", 0, 0]
    assert printers.REPLICASET.row(fresh, NOW)[-1] == "<none>"


def test_small_kinds() -> None:
    assert printers.NAMESPACE.row({"metadata": meta("dev", age=5), "status": {"phase": "Active"}}, NOW) == \
        ["dev", "Active", "5s"]
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert printers.CONFIGMAP.row(cm, NOW) == ["cfg", 3, "60m"]
    secret = {"metadata": meta("tok"), "type": "kubernetes.io/service-account-token", "data": {"token": "eA=="}}
    assert printers.SECRET.row(secret, NOW) == ["tok", "kubernetes.io/service-account-token", 1, "60m"]
    assert printers.SECRET.row({"metadata": meta("o")}, NOW)[1:3] == ["Opaque", 0]
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "sched-1_abc"}}
    assert printers.LEASE.row(lease, NOW) == ["kube-scheduler", "sched-1_abc", "60m"]
    assert printers.LEASE.row({"metadata": meta("free")}, NOW)[1] == ""
    assert printers.NAMESPACE.row({"metadata": {"name": "x"}}, NOW)[2] == "<unknown>"


# --- the Table ------------------------------------------------------------------------------

def test_table_shape() -> None:
    objs = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(n), "data": {"k": "v"}} for n in ("a", "b")]
    t = printers.table(printers.CONFIGMAP, objs, resource_version="42", continue_="tok", now=NOW)
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "42", "continue": "tok"}
    assert t["columnDefinitions"][0] == {"name": "Name", "type": "string", "format": "name",
                                         "description": printers.CONFIGMAP.columns[0].description, "priority": 0}
    assert [r["cells"] for r in t["rows"]] == [["a", 1, "60m"], ["b", 1, "60m"]]
    assert t["rows"][0]["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                      "metadata": objs[0]["metadata"]}
    assert "conditions" not in t["rows"][0]


def test_table_include_object_and_watch_rows() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("a")}
    assert printers.table(printers.CONFIGMAP, [obj], include_object="Object")["rows"][0]["object"] is obj
    assert "object" not in printers.table(printers.CONFIGMAP, [obj], include_object="None")["rows"][0]
    later = printers.table(printers.CONFIGMAP, [obj], with_columns=False)
    assert later["columnDefinitions"] is None and len(later["rows"]) == 1
    assert printers.table(printers.CONFIGMAP, [])["rows"] == []
