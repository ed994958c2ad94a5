"""``mkctl describe`` beside the real kubectl on the same objects: pods (with containers,
probes, env, volumes, conditions, events), deployments with their ReplicaSets, replica sets,
services, nodes (lease, conditions, capacity, pods on it) and namespaces must print the same
bytes; other kinds get kubectl's generic layout."""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest

from minik8s.api.resources import EVENTS, NODES, PODS
from tests.conftest import ApiServer
from tests.integration.mkctl_harness import mk, ns, same  # noqa: F401 - fixtures

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: fe}
  annotations: {note: hello, long: "%s"}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    command: [sh, -c]
    args: ["echo hi\\nsleep 1"]
    ports: [{containerPort: 80}, {containerPort: 443, hostPort: 8443}]
    env: [{name: A, value: "1"}, {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}},
          {name: S, valueFrom: {secretKeyRef: {name: s, key: k}}}]
    resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
    readinessProbe: {httpGet: {path: /healthz, port: 80}, periodSeconds: 5}
    livenessProbe: {exec: {command: [cat, /tmp/ok]}}
    volumeMounts: [{name: data, mountPath: /data}, {name: cfg, mountPath: /etc/cfg, readOnly: true}]
  - name: side
    image: busybox
  volumes: [{name: data, emptyDir: {}}, {name: cfg, configMap: {name: cfg}}]
  nodeSelector: {disk: ssd}
  tolerations: [{key: k, operator: Exists, effect: NoSchedule}, {operator: Exists}]
""" % ("x" * 150)

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: metrics, port: 9090}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
"""


def _now(minus_minutes: int = 0) -> str:
    t = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minus_minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


async def _events_for(server: ApiServer, ns: str, kind: str, name: str, uid: str) -> None:
    async with server.client() as c:
        for i, (etype, reason, message) in enumerate((("Normal", "Scheduled", "assigned to node-1"),
                                                      ("Warning", "BackOff", "Back-off restarting failed container"))):
            await c.create(EVENTS, {
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{name}.{i}", "namespace": ns},
                "involvedObject": {"kind": kind, "name": name, "namespace": ns, "uid": uid, "apiVersion": "v1"},
                "type": etype, "reason": reason, "message": message, "count": 1 + i * 3,
                # minutes ago, so both CLIs print the same ages even across a second boundary
                "firstTimestamp": _now(90), "lastTimestamp": _now(30), "source": {"component": "kubelet"},
            }, namespace=ns)


def test_pod_with_events(apiserver_process, mk, kubectl, ns: str) -> None:
    assert kubectl("apply", "-n", ns, "-f", "-", input=POD).returncode == 0
    uid = json.loads(kubectl("get", "pod", "web", "-n", ns, "-o", "json").stdout)["metadata"]["uid"]
    same(mk, kubectl, "describe", "pod", "web", "-n", ns)
    asyncio.run(_events_for(apiserver_process, ns, "Pod", "web", uid))
    r = same(mk, kubectl, "describe", "pod", "web", "-n", ns)
    assert "Warning  BackOff    30m (x4 over 90m)  kubelet  Back-off restarting failed container" in r.out
    same(mk, kubectl, "describe", "pods", "-n", ns)  # every pod
    same(mk, kubectl, "describe", "pod", "we", "-n", ns)  # a name prefix
    same(mk, kubectl, "describe", "pod", "web", "-n", ns, "--show-events=false")
    r = same(mk, kubectl, "describe", "pod", "nope", "-n", ns)
    assert r.err == 'Error from server (NotFound): pods "nope" not found\n'


def test_workloads_services_namespaces(mk, kubectl, ns: str) -> None:
    assert kubectl("apply", "-n", ns, "-f", "-", input=DEPLOY).returncode == 0
    for args in (["deployment", "api"], ["svc", "api"], ["namespace", ns], ["deploy"], ["svc/api", "deploy/api"]):
        same(mk, kubectl, "describe", *args, "-n", ns)


def test_replicaset_and_generic(mk, kubectl, ns: str) -> None:
    rs = DEPLOY.split("---")[0].replace("kind: Deployment", "kind: ReplicaSet").replace("name: api", "name: rs")
    assert kubectl("apply", "-n", ns, "-f", "-", input=rs).returncode == 0
    same(mk, kubectl, "describe", "rs", "rs", "-n", ns)
    assert kubectl("create", "secret", "generic", "s", "--from-literal=k=v", "-n", ns).returncode == 0
    out = mk("describe", "lease", "-n", "kube-node-lease").out + mk("describe", "endpointslices", "-n", ns).out
    assert isinstance(out, str)
    gen = mk("describe", "endpoints", "-n", ns)
    assert gen.code == 0


@pytest.fixture
def node(apiserver_process) -> str:
    name = "mk-describe-node"

    async def make() -> None:
        async with apiserver_process.client() as c:
            try:
                await c.delete(NODES, name)
            except Exception:
                pass
            await c.create(NODES, {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                      "node-role.kubernetes.io/worker": ""}},
                "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
                         "podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]},
            })
            node = await c.get(NODES, name)
            node["status"] = {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "addresses": [{"type": "InternalIP", "address": "10.1.2.3"}, {"type": "Hostname", "address": name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status", "lastHeartbeatTime": _now(),
                                "lastTransitionTime": _now()}],
                "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1",
                             "osImage": "Debian", "operatingSystem": "linux", "architecture": "amd64",
                             "containerRuntimeVersion": "docker://28", "kubeletVersion": "v1.32.0",
                             "kubeProxyVersion": "v1.32.0"},
            }
            await c.update_status(NODES, node)

    asyncio.run(make())
    return name


def test_node(mk, kubectl, node: str, ns: str, apiserver_process) -> None:
    async def bound_pod() -> None:
        async with apiserver_process.client() as c:
            await c.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-node", "namespace": ns},
                                  "spec": {"nodeName": node, "containers": [{
                                      "name": "c", "image": "busybox",
                                      "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                                                    "limits": {"cpu": "1", "memory": "2Gi"}}}]}}, namespace=ns)

    asyncio.run(bound_pod())
    r = same(mk, kubectl, "describe", "node", node)
    # a controller records a node's events against its uid, a kubelet against its name: kubectl
    # shows both (mkctl once asked only for the name's)
    uid = json.loads(kubectl("get", "node", node, "-o", "json").stdout)["metadata"]["uid"]

    async def node_events() -> None:
        async with apiserver_process.client() as c:
            for i, (ref_uid, reason, component) in enumerate(((uid, "RegisteredNode", "node-controller"),
                                                              (node, "Starting", "kubelet"))):
                await c.create(EVENTS, {
                    "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{node}.{i}", "namespace": "default"},
                    "involvedObject": {"kind": "Node", "name": node, "uid": ref_uid, "apiVersion": "v1"},
                    "type": "Normal", "reason": reason, "message": f"{reason} {node}", "count": 1,
                    "firstTimestamp": _now(50 - i), "lastTimestamp": _now(40 - i), "source": {"component": component},
                }, namespace="default")

    asyncio.run(node_events())
    r = same(mk, kubectl, "describe", "node", node)
    assert "RegisteredNode" in r.out and "Starting" in r.out
    assert "cpu                250m (6%)  1 (25%)" in r.out
