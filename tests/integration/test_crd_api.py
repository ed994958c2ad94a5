"""CustomResourceDefinitions through the REST API of a real apiserver: a CRD is served at once
(Established, NamesAccepted, discovery), its objects are validated against the schema with
Kubernetes' field paths, pruned and defaulted, have status and scale subresources and printer
columns, speak every served version, and go when the CRD goes."""

from __future__ import annotations

import copy
import json
import time

import pytest

from tests.integration.crd_helpers import (
    CRDS,
    create_crd,
    sprocket_crd,
    sprocket_schema,
    unique_group,
    wait_established,
    wait_gone,
)

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.fixture
def group(api_http):
    g = unique_group()
    crd = create_crd(api_http, sprocket_crd(g))
    yield g
    api_http.delete(f"{CRDS}/{crd['metadata']['name']}")


def sprockets(group: str, ns: str = "default", name: str | None = None, sub: str | None = None) -> str:
    path = f"/apis/{group}/v1/namespaces/{ns}/sprockets"
    if name:
        path += f"/{name}"
        if sub:
            path += f"/{sub}"
    return path


def sprocket(group: str, name: str, **spec) -> dict:
    return {"apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": {"name": name},
            "spec": {"image": "nginx:1", **spec}}


def test_crd_is_established_with_names_accepted_and_stored_version(api_http):
    g = unique_group()
    r = api_http.post(CRDS, json=sprocket_crd(g))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"]["storedVersions"] == ["v1"]
    assert created["spec"]["conversion"] == {"strategy": "None"}
    started = time.monotonic()
    crd = wait_established(api_http, f"sprockets.{g}", timeout=2.0)
    assert time.monotonic() - started < 2.0
    conds = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conds["NamesAccepted"]["status"] == "True" and conds["NamesAccepted"]["reason"] == "NoConflicts"
    assert conds["Established"]["reason"] == "InitialNamesAccepted"
    assert crd["status"]["acceptedNames"]["kind"] == "Sprocket"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["spr"]
    assert api_http.get(f"/apis/{g}/v1/namespaces/default/sprockets").status_code == 200
    api_http.delete(f"{CRDS}/sprockets.{g}")


def test_discovery_lists_the_resource_both_forms(api_http, group):
    rl = api_http.get(f"/apis/{group}/v1").json()
    res = {r["name"]: r for r in rl["resources"]}
    assert res["sprockets"]["kind"] == "Sprocket" and res["sprockets"]["namespaced"] is True
    assert res["sprockets"]["shortNames"] == ["spr"] and res["sprockets"]["categories"] == ["all"]
    assert res["sprockets/status"]["kind"] == "Sprocket"
    assert res["sprockets/scale"]["kind"] == "Scale" and res["sprockets/scale"]["group"] == "autoscaling"
    groups = {g["name"]: g for g in api_http.get("/apis").json()["groups"]}
    assert groups[group]["preferredVersion"]["version"] == "v1"
    assert api_http.get(f"/apis/{group}").json()["versions"] == [{"groupVersion": f"{group}/v1", "version": "v1"}]
    agg = api_http.get("/apis", headers={"Accept": AGGREGATED})
    assert agg.headers["content-type"].startswith("application/json;g=apidiscovery.k8s.io")
    item = next(i for i in agg.json()["items"] if i["metadata"]["name"] == group)
    resources = item["versions"][0]["resources"]
    assert resources[0]["resource"] == "sprockets" and resources[0]["scope"] == "Namespaced"
    assert {s["subresource"] for s in resources[0]["subresources"]} == {"status", "scale"}


def test_schema_violations_are_422_with_kubernetes_field_paths(api_http, group):
    bad = {"apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": {"name": "bad"},
           "spec": {"replicas": "three", "size": "huge", "email": "nope", "port": 1.5,
                    "tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x"}]}}
    r = api_http.post(sprockets(group), json=bad)
    assert r.status_code == 422, r.text
    st = r.json()
    assert st["reason"] == "Invalid" and st["details"]["kind"] == "Sprocket" and st["details"]["group"] == group
    causes = {c["field"]: c["message"] for c in st["details"]["causes"]}
    assert causes["spec.image"] == "Required value"
    assert causes["spec.replicas"] == ('Invalid value: "string": spec.replicas in body must be of type integer: '
                                       '"string"')
    assert causes["spec.size"] == ('Unsupported value: "huge": supported values: "small", "medium", "large"')
    assert causes["spec.email"] == 'Invalid value: "nope": spec.email in body must be of type email: "nope"'
    assert causes["spec.port"].startswith('Invalid value: "number": spec.port in body must be of type integer,string')
    assert causes["spec.tags[1]"] == 'Duplicate value: "a"'
    assert causes["spec.ports[1]"].startswith("Duplicate value:")
    assert st["message"].startswith(f'Sprocket.{group} "bad" is invalid: [')
    r = api_http.post(sprockets(group), json=sprocket(group, "bounds", replicas=11, image="UPPER",
                                                      tags=["a", "b", "c", "d"]))
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes["spec.replicas"] == "Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    assert causes["spec.image"] == "Invalid value: \"UPPER\": spec.image in body should match '^[a-z0-9./:-]+$'"
    assert causes["spec.tags"] == "Too many: 4: must have at most 3 items"
    r = api_http.post(sprockets(group), json={**sprocket(group, "emb"), "spec": {"image": "x", "template": {"a": 1}}})
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes["spec.template.apiVersion"] == "Required value: must not be empty"


def test_unknown_fields_are_pruned_defaults_applied_and_strict_refuses_them(api_http, group):
    body = sprocket(group, "w1", port="http", extra={"anything": {"goes": [1]}}, unknown="x")
    body["topLevel"] = 1
    r = api_http.post(sprockets(group), json=body)
    assert r.status_code == 201, r.text
    obj = r.json()
    assert "unknown" not in obj["spec"] and "topLevel" not in obj
    assert obj["spec"]["replicas"] == 1 and obj["spec"]["size"] == "small"
    assert obj["spec"]["extra"] == {"anything": {"goes": [1]}}
    assert obj["spec"]["port"] == "http"
    assert obj["metadata"]["generation"] == 1 and "status" not in obj
    assert r.headers.get("warning") is None or "unknown" in r.headers["warning"]
    r = api_http.post(sprockets(group) + "?fieldValidation=Strict", json=sprocket(group, "w2", unknown="x"))
    assert r.status_code == 400
    assert r.json()["message"] == ('Sprocket in version "v1" cannot be handled as a Sprocket: strict decoding error: '
                                   'unknown field "spec.unknown"')
    r = api_http.post(sprockets(group) + "?fieldValidation=Warn", json=sprocket(group, "w3", unknown="x"))
    assert r.status_code == 201 and 'unknown field \\"spec.unknown\\"' in r.headers["warning"]


def test_status_subresource_splits_spec_and_status(api_http, group):
    obj = api_http.post(sprockets(group), json=sprocket(group, "s1")).json()
    obj["status"] = {"phase": "Ignored"}
    obj["spec"]["replicas"] = 2
    upd = api_http.put(sprockets(group, name="s1"), json=obj).json()
    assert "status" not in upd and upd["metadata"]["generation"] == 2
    upd["status"] = {"phase": "Running", "replicas": 2}
    upd["spec"]["replicas"] = 5
    st = api_http.put(sprockets(group, name="s1", sub="status"), json=upd)
    assert st.status_code == 200, st.text
    assert st.json()["status"] == {"phase": "Running", "replicas": 2}
    assert st.json()["spec"]["replicas"] == 2 and st.json()["metadata"]["generation"] == 2
    bad = api_http.patch(sprockets(group, name="s1", sub="status"), json={"status": {"replicas": "x"}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "status.replicas"


def test_scale_subresource_reads_and_writes_the_crd_paths(api_http, group):
    api_http.post(sprockets(group), json=sprocket(group, "sc", replicas=2))
    api_http.patch(sprockets(group, name="sc", sub="status"), json={"status": {"replicas": 2, "selector": "app=sc"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    scale = api_http.get(sprockets(group, name="sc", sub="scale")).json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 2, "selector": "app=sc"}
    r = api_http.patch(sprockets(group, name="sc", sub="scale"), json={"spec": {"replicas": 4}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    assert api_http.get(sprockets(group, name="sc")).json()["spec"]["replicas"] == 4
    r = api_http.patch(sprockets(group, name="sc", sub="scale"), json={"spec": {"replicas": 40}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "spec.replicas" in r.json()["message"]


def test_printer_columns_as_a_table(api_http, group):
    api_http.post(sprockets(group), json=sprocket(group, "t1", replicas=3))
    api_http.patch(sprockets(group, name="t1", sub="status"), json={"status": {"phase": "Ready"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    t = api_http.get(sprockets(group), headers={"Accept": TABLE}).json()
    cols = [(c["name"], c["type"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols == [("Name", "string", 0), ("Image", "string", 0), ("Replicas", "integer", 0),
                    ("Phase", "string", 1), ("Age", "date", 0)]
    row = next(r for r in t["rows"] if r["cells"][0] == "t1")
    assert row["cells"][1:4] == ["nginx:1", 3, "Ready"]
    assert row["cells"][4].endswith("s")


def test_patches_merge_json_and_strategic_refused(api_http, group):
    api_http.post(sprockets(group), json=sprocket(group, "p1", labels={"a": "1"}))
    r = api_http.patch(sprockets(group, name="p1"), json={"spec": {"labels": {"b": "2"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["labels"] == {"a": "1", "b": "2"}
    r = api_http.patch(sprockets(group, name="p1"), json=[{"op": "replace", "path": "/spec/replicas", "value": 7}],
                       headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 7
    r = api_http.patch(sprockets(group, name="p1"), json={"spec": {"replicas": 1}},
                       headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 415
    assert r.json()["reason"] == "UnsupportedMediaType"
    assert "strategic-merge-patch" not in r.json()["message"]


def test_watch_streams_custom_objects(api_http, group):
    listed = api_http.get(sprockets(group)).json()
    rv = listed["metadata"]["resourceVersion"]
    api_http.post(sprockets(group), json=sprocket(group, "w-watch"))
    with api_http.stream("GET", sprockets(group) + f"?watch=true&resourceVersion={rv}&timeoutSeconds=5") as resp:
        for line in resp.iter_lines():
            ev = json.loads(line)
            assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "w-watch"
            assert ev["object"]["apiVersion"] == f"{group}/v1"
            break


def test_several_versions_served_and_one_stored(api_http):
    g = unique_group()
    schema = {"type": "object", "properties": {"spec": {"type": "object",
                                                        "properties": {"size": {"type": "integer"}}}}}
    versions = [{"name": "v1beta1", "served": True, "storage": False, "schema": {"openAPIV3Schema": schema}},
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}},
                {"name": "v1alpha1", "served": False, "storage": False, "schema": {"openAPIV3Schema": schema}}]
    create_crd(api_http, sprocket_crd(g, versions=versions))
    try:
        r = api_http.post(f"/apis/{g}/v1beta1/namespaces/default/sprockets",
                          json={"apiVersion": f"{g}/v1beta1", "kind": "Sprocket", "metadata": {"name": "x"},
                                "spec": {"size": 1}})
        assert r.status_code == 201 and r.json()["apiVersion"] == f"{g}/v1beta1"
        got = api_http.get(f"/apis/{g}/v1/namespaces/default/sprockets/x").json()
        assert got["apiVersion"] == f"{g}/v1" and got["spec"] == {"size": 1}
        listed = api_http.get(f"/apis/{g}/v1beta1/sprockets").json()
        assert listed["apiVersion"] == f"{g}/v1beta1"
        assert [o["apiVersion"] for o in listed["items"]] == [f"{g}/v1beta1"]
        assert api_http.get(f"/apis/{g}/v1alpha1/namespaces/default/sprockets").status_code == 404
        assert api_http.get(f"/apis/{g}").json()["preferredVersion"]["version"] == "v1"
    finally:
        api_http.delete(f"{CRDS}/sprockets.{g}")


def test_cluster_scoped_resource(api_http):
    g = unique_group()
    create_crd(api_http, sprocket_crd(g, scope="Cluster"))
    try:
        r = api_http.post(f"/apis/{g}/v1/sprockets", json=sprocket(g, "c1"))
        assert r.status_code == 201 and "namespace" not in r.json()["metadata"]
        assert api_http.get(f"/apis/{g}/v1/sprockets/c1").status_code == 200
        assert api_http.get(f"/apis/{g}/v1/namespaces/default/sprockets").status_code == 404
    finally:
        api_http.delete(f"{CRDS}/sprockets.{g}")


def test_deleting_the_crd_deletes_its_objects_through_the_finalizer(api_http):
    g = unique_group()
    create_crd(api_http, sprocket_crd(g))
    for i in range(3):
        assert api_http.post(sprockets(g), json=sprocket(g, f"d{i}")).status_code == 201
    # one object holds a finalizer of its own: the CRD waits for it
    api_http.patch(sprockets(g, name="d0"), json={"metadata": {"finalizers": ["example.com/hold"]}},
                   headers={"Content-Type": "application/merge-patch+json"})
    r = api_http.delete(f"{CRDS}/sprockets.{g}")
    assert r.status_code == 200
    crd = r.json()
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]
    assert {c["type"] for c in crd["status"]["conditions"]} >= {"Terminating"}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        names = [o["metadata"]["name"] for o in api_http.get(sprockets(g)).json()["items"]]
        if names == ["d0"]:
            break
        time.sleep(0.1)
    assert names == ["d0"]
    assert api_http.get(sprockets(g, name="d0")).json()["metadata"]["deletionTimestamp"]
    r = api_http.post(sprockets(g), json=sprocket(g, "late"))
    assert r.status_code == 405 and "terminating" in r.json()["message"]
    api_http.patch(sprockets(g, name="d0"), json={"metadata": {"finalizers": None}},
                   headers={"Content-Type": "application/merge-patch+json"})
    wait_gone(api_http, f"{CRDS}/sprockets.{g}")
    wait_gone(api_http, f"/apis/{g}/v1")


def test_crd_validation_messages(api_http):
    g = unique_group()
    crd = sprocket_crd(g)
    crd["metadata"]["name"] = "wrong.example.com"
    crd["spec"]["group"] = "nodot"
    crd["spec"]["names"]["kind"] = "Sprocket"
    crd["spec"]["names"]["listKind"] = "Sprocket"
    crd["spec"]["scope"] = "Galaxy"
    crd["spec"]["versions"][0]["additionalPrinterColumns"][0]["type"] = "text"
    r = api_http.post(CRDS, json=crd)
    assert r.status_code == 422, r.text
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes["metadata.name"] == 'Invalid value: "wrong.example.com": must be spec.names.plural+"."+spec.group'
    assert causes["spec.group"] == 'Invalid value: "nodot": should be a domain with at least one dot'
    assert causes["spec.scope"] == 'Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"'
    assert causes["spec.names.listKind"] == 'Invalid value: "Sprocket": kind and listKind may not be the same'
    assert causes["spec.versions[0].additionalPrinterColumns[0].type"].startswith('Unsupported value: "text"')


def test_non_structural_schemas_are_refused(api_http):
    g = unique_group()
    schema = {"type": "object", "properties": {
        "spec": {"properties": {"list": {"type": "array"}}},
        "status": {"type": "object", "anyOf": [{"type": "object"}]},
    }, "additionalProperties": {"type": "string"}}
    crd = sprocket_crd(g, versions=[{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}])
    r = api_http.post(CRDS, json=crd)
    assert r.status_code == 422, r.text
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    base = "spec.versions[0].schema.openAPIV3Schema"
    assert causes[f"{base}.properties[spec].type"] == "Required value: must not be empty for specified object fields"
    assert causes[f"{base}.properties[spec].properties[list].items"] == "Required value: must be specified"
    assert causes[f"{base}.properties[status].anyOf[0].type"] == "Forbidden: must be empty to be structural"
    assert causes[f"{base}.additionalProperties"].startswith("Forbidden: ")
    no_schema = sprocket_crd(unique_group(), versions=[{"name": "v1", "served": True, "storage": True}])
    r = api_http.post(CRDS, json=no_schema)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0] == {"reason": "FieldValueRequired",
                                                "message": "Required value: schemas are required",
                                                "field": "spec.versions[0].schema.openAPIV3Schema"}


def test_a_name_already_accepted_in_the_group_is_refused(api_http):
    g = unique_group()
    create_crd(api_http, sprocket_crd(g))
    other = sprocket_crd(g)
    other["metadata"]["name"] = f"gadgets.{g}"
    other["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "shortNames": ["spr"]}
    try:
        assert api_http.post(CRDS, json=other).status_code == 201
        deadline = time.monotonic() + 5
        conds: dict = {}
        while time.monotonic() < deadline:
            crd = api_http.get(f"{CRDS}/gadgets.{g}").json()
            conds = {c["type"]: c for c in (crd.get("status") or {}).get("conditions") or []}
            if "NamesAccepted" in conds:
                break
            time.sleep(0.05)
        assert conds["NamesAccepted"]["status"] == "False"
        assert conds["NamesAccepted"]["reason"] == "ShortNamesConflict"
        assert conds["NamesAccepted"]["message"] == '"spr" is already in use'
        assert conds["Established"]["status"] == "False"
        assert api_http.get(f"/apis/{g}/v1/namespaces/default/gadgets").status_code == 404
    finally:
        api_http.delete(f"{CRDS}/sprockets.{g}")
        api_http.delete(f"{CRDS}/gadgets.{g}")


def test_schema_defaults_must_be_valid(api_http):
    schema = sprocket_schema()
    schema["properties"]["spec"]["properties"]["replicas"]["default"] = "one"
    crd = sprocket_crd(unique_group(), versions=[{"name": "v1", "served": True, "storage": True,
                                                "schema": {"openAPIV3Schema": schema}}])
    r = api_http.post(CRDS, json=crd)
    assert r.status_code == 422
    field = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default"
    assert any(c["field"] == field for c in r.json()["details"]["causes"]), r.text


def test_server_side_apply_owns_fields_by_the_schema_and_reports_conflicts(api_http, group):
    apply = {"Content-Type": "application/apply-patch+yaml"}
    body = json.dumps(sprocket(group, "ssa", replicas=2, ports=[{"name": "http", "port": 80}]))
    r = api_http.patch(sprockets(group, name="ssa") + "?fieldManager=alice", content=body, headers=apply)
    assert r.status_code == 201, r.text
    fields = r.json()["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert fields["f:ports"] == {'k:{"name":"http"}': {".": {}, "f:name": {}, "f:port": {}}}
    other = json.dumps(sprocket(group, "ssa", replicas=3))
    r = api_http.patch(sprockets(group, name="ssa") + "?fieldManager=bob", content=other, headers=apply)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert '.spec.replicas' in r.json()["message"] and '"alice"' in r.json()["message"]
    r = api_http.patch(sprockets(group, name="ssa") + "?fieldManager=bob&force=true", content=other, headers=apply)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3
    assert r.json()["spec"]["ports"] == [{"name": "http", "port": 80}]


def test_openapi_v2_and_v3_describe_the_custom_resource(api_http, group):
    v2 = api_http.get("/openapi/v2", headers={"Accept": "application/json"}).json()
    name = ".".join(reversed(group.split("."))) + ".v1.Sprocket"
    d = v2["definitions"][name]
    assert d["x-kubernetes-group-version-kind"] == [{"group": group, "kind": "Sprocket", "version": "v1"}]
    assert d["properties"]["metadata"] == {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    assert d["properties"]["spec"]["properties"]["replicas"]["maximum"] == 10
    assert f"/apis/{group}/v1/namespaces/{{namespace}}/sprockets/{{name}}/scale" in v2["paths"]
    root = api_http.get("/openapi/v3").json()["paths"]
    url = root[f"apis/{group}/v1"]["serverRelativeURL"]
    v3 = api_http.get(url).json()
    schemas = v3["components"]["schemas"]
    assert schemas[name]["properties"]["spec"]["properties"]["port"]["x-kubernetes-int-or-string"] is True
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    patch = v3["paths"][f"/apis/{group}/v1/namespaces/{{namespace}}/sprockets/{{name}}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]


def test_updating_the_crd_changes_what_is_served(api_http, group):
    assert api_http.post(sprockets(group), json=sprocket(group, "before")).status_code == 201
    crd = api_http.get(f"{CRDS}/sprockets.{group}").json()
    spec_props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    spec_props["color"] = {"type": "string", "default": "blue"}
    crd["spec"]["versions"].append({"name": "v2", "served": True, "storage": False,
                                    "schema": crd["spec"]["versions"][0]["schema"], "deprecated": True})
    r = api_http.put(f"{CRDS}/sprockets.{group}", json=crd)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 2
    deadline = time.monotonic() + 5
    while api_http.get(f"/apis/{group}/v2/namespaces/default/sprockets").status_code != 200:
        assert time.monotonic() < deadline, "v2 not served"
        time.sleep(0.05)
    obj = api_http.post(sprockets(group), json=sprocket(group, "colored")).json()
    assert obj["spec"]["color"] == "blue"
    # stored before the default existed: read with it, as Kubernetes defaults what it reads
    assert api_http.get(sprockets(group, name="before")).json()["spec"]["color"] == "blue"
    listed = {o["metadata"]["name"]: o for o in api_http.get(sprockets(group)).json()["items"]}
    assert listed["before"]["spec"]["color"] == "blue"
    r = api_http.get(f"/apis/{group}/v2/namespaces/default/sprockets/colored")
    assert r.json()["apiVersion"] == f"{group}/v2"
    assert r.headers["warning"] == f'299 - "{group}/v2 Sprocket is deprecated"'
    assert api_http.get(f"/apis/{group}").json()["preferredVersion"]["version"] == "v2"
    # the storage version moves to v2: both are now recorded as stored
    crd = api_http.get(f"{CRDS}/sprockets.{group}").json()
    crd["spec"]["versions"][0]["storage"], crd["spec"]["versions"][1]["storage"] = False, True
    r = api_http.put(f"{CRDS}/sprockets.{group}", json=crd)
    assert r.status_code == 200 and r.json()["status"]["storedVersions"] == ["v1", "v2"], r.text
    crd = r.json()
    crd["spec"]["scope"] = "Cluster"
    r = api_http.put(f"{CRDS}/sprockets.{group}", json=crd)
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.scope"


def test_protected_groups_need_the_approval_annotation(api_http):
    crd = sprocket_crd("sprockets.x.k8s.io")
    r = api_http.post(CRDS, json=crd)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "metadata.annotations[api-approved.kubernetes.io]"
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing only"}
    assert api_http.post(CRDS, json=crd).status_code == 201
    api_http.delete(f"{CRDS}/sprockets.sprockets.x.k8s.io")


def test_selectable_fields_filter_lists(api_http):
    g = unique_group()
    crd = sprocket_crd(g)
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.size"}]
    create_crd(api_http, crd)
    try:
        api_http.post(sprockets(g), json=sprocket(g, "s", size="small"))
        api_http.post(sprockets(g), json=sprocket(g, "l", size="large"))
        r = api_http.get(sprockets(g) + "?fieldSelector=spec.size=large")
        assert [o["metadata"]["name"] for o in r.json()["items"]] == ["l"]
        r = api_http.get(sprockets(g) + "?fieldSelector=spec.image=x")
        assert r.status_code == 400 and r.json()["message"] == "field label not supported: spec.image"
    finally:
        api_http.delete(f"{CRDS}/sprockets.{g}")


def test_custom_resources_survive_an_apiserver_restart(apiserver_factory):
    server = apiserver_factory()
    with server.http() as http:
        g = unique_group()
        create_crd(http, sprocket_crd(g))
        assert http.post(sprockets(g), json=sprocket(g, "kept")).status_code == 201
    server.stop()
    again = apiserver_factory(data_dir=server.data_dir, port=server.port)
    with again.http() as http:
        r = http.get(sprockets(g, name="kept"))
        assert r.status_code == 200 and r.json()["spec"]["replicas"] == 1
        assert http.get(f"/apis/{g}/v1").json()["resources"][0]["name"] == "sprockets"


def test_malformed_schemas_and_bodies_are_4xx_naming_the_field(api_http, group):
    crd = sprocket_crd(unique_group())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["replicas"]["type"] = 5
    spec["required"] = "image"
    r = api_http.post(CRDS, json=crd)
    assert r.status_code == 422, r.text
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    base = "spec.versions[0].schema.openAPIV3Schema.properties[spec]"
    assert causes[f"{base}.properties[replicas].type"] == 'Invalid value: "integer": must be a string'
    assert causes[f"{base}.required"] == 'Invalid value: "string": must be a list of strings'
    r = api_http.post(sprockets(group), json={"apiVersion": f"{group}/v1", "kind": "Sprocket", "metadata": None,
                                            "spec": {"image": "x"}})
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.name"
    r = api_http.post(sprockets(group), content=b'{"apiVersion":"%s/v1","kind":"Sprocket","metadata":{"name":"big"},'
                      b'"spec":{"image":"x","replicas":1180591620717411303424}}' % group.encode(),
                      headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


def test_cel_validation_rules(api_http):
    g = unique_group()
    schema = sprocket_schema()
    spec = schema["properties"]["spec"]
    spec["properties"]["maxReplicas"] = {"type": "integer"}
    spec["x-kubernetes-validations"] = [
        {"rule": "!has(self.maxReplicas) || self.replicas <= self.maxReplicas",
         "message": "replicas must not exceed maxReplicas"},
        {"rule": "self.image == oldSelf.image", "message": "image is immutable", "reason": "FieldValueForbidden",
         "fieldPath": ".image"},
    ]
    spec["properties"]["tags"]["x-kubernetes-validations"] = [
        {"rule": "self.all(t, t.startsWith('t-'))", "messageExpression": "'bad tags: ' + self.join(', ')"}]
    crd = sprocket_crd(g, versions=[{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema}}])
    bad = copy.deepcopy(crd)
    bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": "self.replicas <="}]
    r = api_http.post(CRDS, json=bad)
    assert r.status_code == 422
    cause = r.json()["details"]["causes"][0]
    assert cause["field"] == ("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0]"
                              ".rule")
    assert "compilation failed" in cause["message"]
    create_crd(api_http, crd)
    try:
        r = api_http.post(sprockets(g), json=sprocket(g, "c", replicas=5, maxReplicas=3, tags=["t-a", "b"]))
        assert r.status_code == 422, r.text
        causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
        assert causes == {"spec": 'Invalid value: "object": replicas must not exceed maxReplicas',
                          "spec.tags": 'Invalid value: "array": bad tags: t-a, b'}
        assert api_http.post(sprockets(g), json=sprocket(g, "c", replicas=2, maxReplicas=3)).status_code == 201
        r = api_http.patch(sprockets(g, name="c"), json={"spec": {"image": "other"}},
                           headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 422
        assert r.json()["details"]["causes"] == [{"reason": "FieldValueForbidden", "field": "spec.image",
                                                  "message": "Forbidden: image is immutable"}]
        r = api_http.patch(sprockets(g, name="c"), json={"spec": {"replicas": 3}},
                           headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    finally:
        api_http.delete(f"{CRDS}/sprockets.{g}")


def test_custom_objects_encrypted_at_rest_when_configured(apiserver_factory, tmp_path):
    import base64
    import os
    import sqlite3

    g = unique_group()
    cfg = tmp_path / "enc.yaml"
    key = base64.b64encode(os.urandom(32)).decode()
    cfg.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   f"  - resources: [sprockets.{g}]\n    providers:\n      - aescbc:\n          keys:\n"
                   f"            - name: k1\n              secret: {key}\n      - identity: {{}}\n")
    os.chmod(cfg, 0o600)
    data = tmp_path / "data"
    server = apiserver_factory(data_dir=data, extra_args=("--encryption-provider-config", str(cfg)))
    with server.http() as http:
        create_crd(http, sprocket_crd(g))
        marker = "secret-image-4242"
        assert http.post(sprockets(g), json=sprocket(g, "enc", image=marker)).status_code == 201
        assert http.get(sprockets(g, name="enc")).json()["spec"]["image"] == marker
    conn = sqlite3.connect(f"file:{data / 'store.db'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT log.value FROM kv JOIN log ON log.revision = kv.mod_revision WHERE kv.key = ?",
                           (f"/registry/sprockets.{g}/default/enc",)).fetchone()
    finally:
        conn.close()
    assert bytes(row[0]).startswith(b"k8s:enc:aescbc:v1:k1:")
