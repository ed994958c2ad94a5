"""The apiserver's REST semantics over real HTTP, on a real SQLite store: object metadata,
optimistic concurrency, the three patch formats, finalizers, graceful deletion, subresources,
selectors, pagination and errors as Kubernetes answers them."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest


@pytest.fixture
def api(apiserver_process):
    with apiserver_process.http(timeout=10) as c:
        yield c


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    r = api.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def pod(name: str, **spec_extra) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec_extra}}


def deployment(name: str, replicas: int = 2) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}


def test_create_fills_metadata_and_defaults(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("p"))
    assert r.status_code == 201
    obj = r.json()
    md = obj["metadata"]
    assert md["namespace"] == ns and md["uid"] and md["creationTimestamp"].endswith("Z")
    assert int(md["resourceVersion"]) > 0
    spec = obj["spec"]
    assert spec["restartPolicy"] == "Always" and spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30 and spec["schedulerName"] == "default-scheduler"
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent" and c["terminationMessagePath"] == "/dev/termination-log"
    assert obj["status"]["phase"] == "Pending"
    # what is read back is what was returned
    got = api.get(f"/api/v1/namespaces/{ns}/pods/p").json()
    assert got == obj


def test_deployment_defaults_and_generation(api, ns):
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("web"))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["metadata"]["generation"] == 1
    assert d["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10 and d["spec"]["progressDeadlineSeconds"] == 600
    # a metadata-only change keeps generation; a spec change bumps it
    r = api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/web", content=json.dumps({"metadata": {"labels": {"a": "b"}}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 1
    r = api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/web", content=json.dumps({"spec": {"replicas": 5}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 2


def test_generate_name(api, ns):
    body = pod("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"
    names = {api.post(f"/api/v1/namespaces/{ns}/pods", json=body).json()["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3 and all(n.startswith("web-") and len(n) == 9 for n in names)


def test_already_exists_and_not_found(api, ns):
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("dup")).status_code == 201
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("dup"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'pods "dup" already exists'
    r = api.get(f"/api/v1/namespaces/{ns}/pods/nope")
    assert r.status_code == 404
    assert r.json() | {} == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": 'pods "nope" not found', "reason": "NotFound",
                             "details": {"name": "nope", "kind": "pods"}, "code": 404}
    r = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/nope")
    assert r.json()["message"] == 'deployments.apps "nope" not found'


def test_optimistic_concurrency(api, ns):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    created = api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm).json()
    stale = dict(created)
    created["data"] = {"a": "2"}
    r = api.put(f"/api/v1/namespaces/{ns}/configmaps/c", json=created)
    assert r.status_code == 200 and r.json()["data"] == {"a": "2"}
    assert int(r.json()["metadata"]["resourceVersion"]) > int(stale["metadata"]["resourceVersion"])
    stale["data"] = {"a": "3"}
    r = api.put(f"/api/v1/namespaces/{ns}/configmaps/c", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert "the object has been modified" in r.json()["message"]


def test_a_uid_in_the_body_is_a_precondition(api, ns):
    """Kubernetes' answers: an update naming another uid is a 409 precondition failure, a patch
    that sets another uid a 422 (uid is immutable); both write nothing, to the object or its
    status. Without a uid the update goes to whatever holds the name."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "data": {"a": "1"}}
    created = api.post(base, json=cm).json()
    uid = created["metadata"]["uid"]
    other = str(uuid.uuid4())
    r = api.put(f"{base}/u", json={**created, "metadata": {**created["metadata"], "uid": other}, "data": {"a": "2"}})
    assert r.status_code == 409 and r.json()["reason"] == "Conflict", r.text
    assert r.json()["message"] == (f'Operation cannot be fulfilled on configmaps "u": Precondition failed: '
                                   f"UID in precondition: {other}, UID in object meta: {uid}")
    r = api.patch(f"{base}/u", json={"metadata": {"uid": other}, "data": {"a": "3"}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and r.json()["reason"] == "Invalid", r.text
    assert r.json()["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.uid",
                                              "message": f'Invalid value: "{other}": field is immutable'}]
    assert api.get(f"{base}/u").json() == created
    # The status subresource too (how the kubelet's pod status patches carry the pod's uid).
    p = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("s")).json()
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/s/status",
                  json={"metadata": {"uid": other}, "status": {"phase": "Failed"}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422, r.text
    assert api.get(f"/api/v1/namespaces/{ns}/pods/s").json() == p
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/s/status",
                  json={"metadata": {"uid": p["metadata"]["uid"]}, "status": {"phase": "Failed"}},
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Failed", r.text
    # The same uid, or none, is the ordinary update.
    r = api.put(f"{base}/u", json={**created, "data": {"a": "4"}})
    assert r.status_code == 200 and r.json()["data"] == {"a": "4"}
    fresh = r.json()
    del fresh["metadata"]["uid"]
    r = api.put(f"{base}/u", json={**fresh, "data": {"a": "5"}})
    assert r.status_code == 200 and r.json()["metadata"]["uid"] == uid


def test_noop_update_keeps_resource_version(api, ns):
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("same")).json()
    r = api.put(f"/api/v1/namespaces/{ns}/pods/same", json=created)
    assert r.status_code == 200
    assert r.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_and_spec_are_separate(api, ns):
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("s")).json()
    # a spec write cannot change status
    created["status"] = {"phase": "Running"}
    r = api.put(f"/api/v1/namespaces/{ns}/pods/s", json=created)
    assert r.json()["status"]["phase"] == "Pending"
    # a status write cannot change spec
    body = r.json()
    body["status"]["phase"] = "Running"
    body["spec"]["containers"][0]["image"] = "other"
    r = api.put(f"/api/v1/namespaces/{ns}/pods/s/status", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["phase"] == "Running" and r.json()["spec"]["containers"][0]["image"] == "busybox:1.36"
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/s/status", content=json.dumps({"status": {"podIP": "10.1.2.3"}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.json()["status"]["podIP"] == "10.1.2.3" and r.json()["status"]["phase"] == "Running"


def test_pod_spec_is_immutable_but_image(api, ns):
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("imm")).json()
    created["spec"]["containers"][0]["image"] = "busybox:1.37"
    assert api.put(f"/api/v1/namespaces/{ns}/pods/imm", json=created).status_code == 200
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/imm", content=json.dumps({"spec": {"restartPolicy": "Never"}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 422 and "pod updates may not change fields" in r.json()["message"]


def test_three_patch_formats(api, ns):
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("p3"))
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/p3"
    smp = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "side"}],
                                          "containers": [{"name": "c", "image": "nginx:1.26"},
                                                         {"name": "side", "image": "busybox"}]}}}}
    r = api.patch(url, content=json.dumps(smp), headers={"content-type": "application/strategic-merge-patch+json"})
    assert r.status_code == 200, r.text
    cs = r.json()["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in cs] == [("c", "nginx:1.26"), ("side", "busybox")]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 7}, {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}}]
    r = api.patch(url, content=json.dumps(ops), headers={"content-type": "application/json-patch+json"})
    assert r.json()["spec"]["replicas"] == 7 and r.json()["metadata"]["annotations"] == {"x": "y"}
    r = api.patch(url, content=json.dumps({"metadata": {"annotations": {"x": None}}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert "annotations" not in r.json()["metadata"] or r.json()["metadata"]["annotations"] == {}
    r = api.patch(url, content=json.dumps({"spec": {}}), headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_scale_subresource(api, ns):
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("sc", 2))
    r = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/sc/scale")
    s = r.json()
    assert s["kind"] == "Scale" and s["apiVersion"] == "autoscaling/v1" and s["spec"]["replicas"] == 2
    assert s["status"]["selector"] == "app=sc"
    r = api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/sc/scale", content=json.dumps({"spec": {"replicas": 4}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/sc").json()["spec"]["replicas"] == 4
    s = r.json()
    s["spec"]["replicas"] = 1
    r = api.put(f"/apis/apps/v1/namespaces/{ns}/deployments/sc/scale", json=s)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 1


def test_binding_and_graceful_pod_delete(api, ns):
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("b"))
    r = api.post(f"/api/v1/namespaces/{ns}/pods/b/binding",
                 json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": "n1"}})
    assert r.status_code == 201, r.text
    p = api.get(f"/api/v1/namespaces/{ns}/pods/b").json()
    assert p["spec"]["nodeName"] == "n1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in p["status"]["conditions"])
    r = api.post(f"/api/v1/namespaces/{ns}/pods/b/binding",
                 json={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": "n2"}})
    assert r.status_code == 409
    # a bound pod is deleted gracefully: it stays with a deletionTimestamp until grace 0
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/b")
    assert r.status_code == 200 and r.json()["metadata"]["deletionGracePeriodSeconds"] == 30
    assert api.get(f"/api/v1/namespaces/{ns}/pods/b").json()["metadata"]["deletionTimestamp"]
    r = api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/b", json={"gracePeriodSeconds": 0})
    assert r.status_code == 200
    assert api.get(f"/api/v1/namespaces/{ns}/pods/b").status_code == 404
    # an unscheduled pod goes at once
    api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("u"))
    api.delete(f"/api/v1/namespaces/{ns}/pods/u")
    assert api.get(f"/api/v1/namespaces/{ns}/pods/u").status_code == 404


def test_binding_writes_only_the_node_and_its_condition(api, ns):
    """pods/binding is a guaranteed update through the binding strategy (Kubernetes' BindingREST):
    spec.nodeName and PodScheduled change, nothing else; no field is attributed to the binder; a
    dry run writes nothing; the Binding's uid is a precondition; a pod being deleted or already
    bound is a Conflict in Kubernetes' words."""
    base = f"/api/v1/namespaces/{ns}/pods"

    def binding(name: str, node: str, **md: str) -> dict:
        return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, **md},
                "target": {"kind": "Node", "name": node}}
    body = pod("g")
    body["metadata"]["labels"] = {"app": "g"}
    before = api.post(base, json=body).json()
    r = api.post(f"{base}/g/binding?dryRun=All", json=binding("g", "n1"))
    assert r.status_code == 201, r.text
    assert api.get(f"{base}/g").json() == before
    r = api.post(f"{base}/g/binding", json=binding("g", "n1", uid="not-its-uid"))
    assert r.status_code == 409 and "Precondition failed: UID in precondition does not match" in r.json()["message"]
    r = api.post(f"{base}/g/binding", json=binding("g", "n1", uid=before["metadata"]["uid"]),
                 headers={"user-agent": "a-scheduler"})
    assert r.status_code == 201, r.text
    after = api.get(f"{base}/g").json()
    assert after["spec"] == {**before["spec"], "nodeName": "n1"}
    assert [c["type"] for c in after["status"]["conditions"]] == ["PodScheduled"]
    assert after["metadata"]["managedFields"] == before["metadata"]["managedFields"]
    assert {k: v for k, v in after["metadata"].items() if k != "resourceVersion"} == \
        {k: v for k, v in before["metadata"].items() if k != "resourceVersion"}
    assert {k: v for k, v in after["status"].items() if k != "conditions"} == \
        {k: v for k, v in before["status"].items() if k != "conditions"}
    r = api.post(f"{base}/g/binding", json=binding("g", "n2"))
    assert r.status_code == 409 and r.json()["message"].endswith('pod g is already assigned to node "n1"')
    held = pod("h")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.post(base, json=held)
    api.delete(f"{base}/h")
    r = api.post(f"{base}/h/binding", json=binding("h", "n1"))
    assert r.status_code == 409 and r.json()["message"].endswith("pod h is being deleted, cannot be assigned to a host")
    api.patch(f"{base}/h", content=json.dumps({"metadata": {"finalizers": None}}),
              headers={"content-type": "application/merge-patch+json"})


def test_finalizers_hold_deletion(api, ns):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "f", "finalizers": ["example.com/hold"]}}
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm)
    r = api.delete(f"/api/v1/namespaces/{ns}/configmaps/f")
    assert r.status_code == 200 and r.json()["metadata"]["deletionTimestamp"]
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/f").status_code == 200
    r = api.patch(f"/api/v1/namespaces/{ns}/configmaps/f", content=json.dumps({"metadata": {"finalizers": None}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/f").status_code == 404


def test_propagation_policy_finalizers(api, ns):
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("o"))
    r = api.request("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/o", json={"propagationPolicy": "Orphan"})
    assert r.json()["metadata"]["finalizers"] == ["orphan"]
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("fg"))
    r = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/fg", params={"propagationPolicy": "Foreground"})
    assert r.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("bg"))
    r = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/bg")
    assert r.json()["kind"] == "Status" and r.json()["status"] == "Success"


def test_namespace_admission(api, ns):
    r = api.post("/api/v1/namespaces/missing-ns/pods", json=pod("x"))
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "missing-ns" not found'
    r = api.delete(f"/api/v1/namespaces/{ns}")
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Terminating"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("late"))
    assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    assert "because it is being terminated" in r.json()["message"]


def test_system_namespaces_exist(api):
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_bad_input(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/pods", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    bad = pod("Bad_Name")
    bad["spec"]["containers"][0].pop("image")
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=bad)
    assert r.status_code == 422 and r.json()["reason"] == "Invalid"
    fields = {c["field"] for c in r.json()["details"]["causes"]}
    assert {"metadata.name", "spec.containers[0].image"} <= fields
    wrong_type = deployment("wt")
    wrong_type["spec"]["replicas"] = "many"
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=wrong_type)
    assert r.status_code == 422 and any(c["field"] == "spec.replicas" for c in r.json()["details"]["causes"])
    other_ns = pod("o")
    other_ns["metadata"]["namespace"] = "elsewhere"
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=other_ns).status_code == 400
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=big).status_code == 413
    assert api.get("/api/v1/namespaces/default/widgets").status_code == 404
    assert api.get("/apis/nope.io/v1/things").status_code == 404


def test_field_validation(api, ns):
    body = pod("fv")
    body["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body, params={"fieldValidation": "Strict"})
    assert r.status_code == 400
    assert 'unknown field "spec.containers[0].imagePullPolcy"' in r.json()["message"]
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body, params={"fieldValidation": "Warn"})
    assert r.status_code == 201 and "imagePullPolcy" in r.headers["warning"]


@pytest.mark.parametrize("ctype", ["application/merge-patch+json", "application/strategic-merge-patch+json",
                                   "application/json-patch+json"])
def test_field_validation_of_patches_finds_what_the_patch_adds(api, ns, ctype):
    """A patch's unknown fields are found wherever it puts them (the stored object's own fields,
    which the patched object mostly keeps, are not searched again: they have none)."""
    path = f"/api/v1/namespaces/{ns}/pods/pv"
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("pv")).status_code == 201

    def patch(sub: str, where: str, field: str, validation: str) -> httpx.Response:
        if ctype == "application/json-patch+json":
            target = "/spec/containers/0" if where == "spec" else "/status"
            body: object = [{"op": "add", "path": f"{target}/{field}", "value": "x"}]
        elif where == "spec":
            c = {"name": "c", field: "x"} if ctype.startswith("application/strategic") else None
            body = {"spec": {"containers": [c]}} if c else {"spec": {field: "x"}}
        else:
            body = {"status": {field: "x"}}
        return api.patch(path + sub, content=json.dumps(body), headers={"content-type": ctype},
                         params={"fieldValidation": validation})

    r = patch("/status", "status", "phaze", "Strict")
    assert r.status_code == 400 and 'unknown field "status.phaze"' in r.json()["message"]
    r = patch("/status", "status", "phaze", "Warn")
    assert r.status_code == 200 and 'unknown field \\"status.phaze' in r.headers["warning"]
    r = patch("", "spec", "imagePullPolcy", "Strict")
    assert r.status_code == 400 and "imagePullPolcy" in r.json()["message"]
    # a patch that adds nothing unknown warns of nothing, the stored fields included
    r = api.patch(path + "/status", content=json.dumps({"status": {"phase": "Running"}}) if
                  ctype != "application/json-patch+json" else json.dumps(
                      [{"op": "replace", "path": "/status/phase", "value": "Running"}]),
                  headers={"content-type": ctype}, params={"fieldValidation": "Strict"})
    assert r.status_code == 200 and "warning" not in r.headers


def test_yaml_body(api, ns):
    y = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", content=y, headers={"content-type": "application/yaml"})
    assert r.status_code == 201 and r.json()["data"] == {"k": "v"}


def test_selectors_and_cluster_wide_list(api, ns):
    for i, app in enumerate(["a", "a", "b"]):
        body = pod(f"sel{i}")
        body["metadata"]["labels"] = {"app": app, "idx": str(i)}
        api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    def names(r):
        return sorted(p["metadata"]["name"] for p in r.json()["items"])
    url = f"/api/v1/namespaces/{ns}/pods"
    assert names(api.get(url, params={"labelSelector": "app=a"})) == ["sel0", "sel1"]
    assert names(api.get(url, params={"labelSelector": "app!=a"})) == ["sel2"]
    assert names(api.get(url, params={"labelSelector": "idx in (0,2)"})) == ["sel0", "sel2"]
    assert names(api.get(url, params={"labelSelector": "app,idx notin (1)"})) == ["sel0", "sel2"]
    assert names(api.get(url, params={"labelSelector": "!nolabel,app==b"})) == ["sel2"]
    assert names(api.get(url, params={"fieldSelector": "metadata.name=sel1"})) == ["sel1"]
    assert names(api.get(url, params={"fieldSelector": "status.phase=Pending,metadata.name!=sel1"})) == ["sel0", "sel2"]
    assert api.get(url, params={"fieldSelector": "spec.bogus=1"}).status_code == 400
    everywhere = api.get("/api/v1/pods", params={"labelSelector": "idx"}).json()
    assert {p["metadata"]["namespace"] for p in everywhere["items"]} >= {ns}


def test_pagination(api, ns):
    for i in range(7):
        api.post(f"/api/v1/namespaces/{ns}/configmaps", json={"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": f"cm{i}"}})
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"continue": token} if token else {})}
        page = api.get(f"/api/v1/namespaces/{ns}/configmaps", params=params).json()
        seen += [c["metadata"]["name"] for c in page["items"]]
        pages += 1
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"cm{i}" for i in range(7)] and pages == 3


def test_deletecollection(api, ns):
    for i in range(3):
        api.post(f"/api/v1/namespaces/{ns}/configmaps", json={"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": f"dc{i}", "labels": {"g": "1" if i else "0"}}})
    r = api.delete(f"/api/v1/namespaces/{ns}/configmaps", params={"labelSelector": "g=1"})
    assert r.status_code == 200
    left = [c["metadata"]["name"] for c in api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["items"]]
    assert left == ["dc0"]


def test_secret_string_data(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/secrets", json={"apiVersion": "v1", "kind": "Secret",
                                                           "metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}})
    assert r.status_code == 201
    assert r.json()["data"] == {"pw": "aHVudGVyMg=="} and "stringData" not in r.json()
    assert r.json()["type"] == "Opaque"


def test_discovery_and_version(api):
    v = api.get("/version").json()
    assert v["major"] == "1" and v["minor"] == "32"
    assert set(v) == {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
                      "compiler", "platform"}
    res = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
    assert res["pods"]["shortNames"] == ["po"] and "pods/status" in res and "pods/log" in res
    apps = {r["name"] for r in api.get("/apis/apps/v1").json()["resources"]}
    assert {"deployments", "deployments/scale", "replicasets"} <= apps
    for path in ("/healthz", "/livez", "/readyz"):
        assert api.get(path).text == "ok"


def service(name: str, type_: str = "ClusterIP", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}


def test_service_cluster_ip_and_node_port_allocation(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=service("a", "NodePort"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert spec["clusterIP"].startswith("10.") and spec["clusterIPs"] == [spec["clusterIP"]]
    node_port = spec["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    # the same IP or node port again is refused, naming the field
    r = api.post(f"/api/v1/namespaces/{ns}/services",
                 json=service("b", "NodePort", clusterIP=spec["clusterIP"],
                              ports=[{"port": 80, "nodePort": node_port}]))
    assert r.status_code == 422
    fields = {c["field"] for c in r.json()["details"]["causes"]}
    assert fields == {"spec.clusterIPs", "spec.ports[0].nodePort"}
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=service("c", clusterIP="192.168.0.1"))
    assert r.status_code == 422 and "not in the valid range" in r.text
    # an update keeps the IP; deleting frees it for a new service
    r = api.patch(f"/api/v1/namespaces/{ns}/services/a", content=json.dumps({"spec": {"type": "ClusterIP"}}),
                  headers={"content-type": "application/merge-patch+json"})
    assert r.json()["spec"]["clusterIP"] == spec["clusterIP"] and "nodePort" not in r.json()["spec"]["ports"][0]
    api.delete(f"/api/v1/namespaces/{ns}/services/a")
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=service("d", clusterIP=spec["clusterIP"]))
    assert r.status_code == 201 and r.json()["spec"]["clusterIP"] == spec["clusterIP"]
    headless = api.post(f"/api/v1/namespaces/{ns}/services", json=service("h", clusterIP="None")).json()
    assert headless["spec"]["clusterIPs"] == ["None"]


def test_field_managers_recorded(api, ns):
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", params={"fieldManager": "tester"},
                 json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "1"}})
    entries = r.json()["metadata"]["managedFields"]
    assert entries[0]["manager"] == "tester" and entries[0]["operation"] == "Update"
    assert "f:data" in entries[0]["fieldsV1"]


def test_status_write_answers_the_new_resource_version(api, ns):
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("rv")).json()
    created["status"]["phase"] = "Running"
    r = api.put(f"/api/v1/namespaces/{ns}/pods/rv/status", json=created)
    stored = api.get(f"/api/v1/namespaces/{ns}/pods/rv").json()
    assert r.json()["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert stored["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    # the answer can be used for the next compare-and-swap
    r2 = r.json()
    r2["status"]["phase"] = "Succeeded"
    assert api.put(f"/api/v1/namespaces/{ns}/pods/rv/status", json=r2).status_code == 200


def test_the_kubernetes_service_points_at_the_apiserver(api, apiserver):
    svc = api.get("/api/v1/namespaces/default/services/kubernetes").json()
    port = int(apiserver.rsplit(":", 1)[1])
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]
    ep = api.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
    assert ep["subsets"][0]["ports"][0]["port"] == port and ep["subsets"][0]["addresses"][0]["ip"]
    es = api.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").json()
    assert es["endpoints"][0]["addresses"] == [ep["subsets"][0]["addresses"][0]["ip"]]
