"""Discovery, /version and OpenAPI bodies: the shapes kubectl and the Python client depend on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apiserver import discovery, openapi, openapi_served, version
from apiserver.registry import table

# Every named API group the registry table serves.
NAMED_GROUPS = {g for g in discovery.group_versions(table.TABLE) if g}

KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                  "application/json")
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


# --- /version -------------------------------------------------------------------------------

def test_version_has_all_nine_fields_and_says_1_32() -> None:
    info = json.loads(version.version_body())
    assert set(info) == {"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
                         "goVersion", "compiler", "platform"}
    assert (info["major"], info["minor"]) == ("1", "32")
    assert info["gitVersion"].startswith("v1.32.")
    assert all(isinstance(v, str) and v for v in info.values())


# --- content negotiation --------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "expected"), [
    (KUBECTL_ACCEPT, V2),
    ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
     "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
    ("application/json", None),
    ("*/*", None),
    (None, None),
    ("", None),
    ("application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
    ("application/json;q=0.5, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", V2),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json", None),
    ("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
])
def test_choose_discovery_format(accept: str | None, expected: str | None) -> None:
    assert discovery.choose_discovery_format(accept) == expected


# --- plain discovery ------------------------------------------------------------------------

def by_name(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in resources}


def test_core_api_resource_list() -> None:
    body = json.loads(discovery.resource_list_body("", "v1"))
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    res = by_name(body["resources"])
    for r in res.values():  # the Python client's APIResource requires these five
        assert {"name", "singularName", "namespaced", "kind", "verbs"} <= set(r)
    assert res["pods"] == {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
                           "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                     "watch"],
                           "shortNames": ["po"], "categories": ["all"]}
    assert res["pods/status"]["kind"] == "Pod" and res["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert res["pods/log"]["verbs"] == ["get"]
    assert res["pods/eviction"]["group"] == "policy"
    assert res["nodes"]["namespaced"] is False and res["nodes"]["shortNames"] == ["no"]
    assert res["endpoints"]["singularName"] == "endpoints"
    assert "categories" not in res["configmaps"]


def test_apps_resource_list_has_scale_of_autoscaling() -> None:
    res = by_name(json.loads(discovery.resource_list_body("apps", "v1"))["resources"])
    assert res["deployments/scale"] == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                        "kind": "Scale", "verbs": ["get", "patch", "update"],
                                        "group": "autoscaling", "version": "v1"}
    assert res["deployments"]["shortNames"] == ["deploy"]
    assert res["replicasets"]["categories"] == ["all"]


def test_unknown_group_versions_are_none() -> None:
    assert discovery.resource_list_body("apps", "v2") is None
    assert discovery.resource_list_body("example.com", "v1") is None
    assert discovery.group_body("example.com") is None
    assert discovery.group_body("") is None


def test_api_versions_and_group_list() -> None:
    api = json.loads(discovery.api_body(server_address="10.0.0.1:6443"))
    assert api == {"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}
    groups = json.loads(discovery.apis_body())
    assert groups["kind"] == "APIGroupList"
    by = {g["name"]: g for g in groups["groups"]}
    assert set(by) == NAMED_GROUPS
    assert by["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert json.loads(discovery.group_body("apps"))["kind"] == "APIGroup"


# --- aggregated discovery -------------------------------------------------------------------

def test_aggregated_core_group() -> None:
    body = json.loads(discovery.api_body(V2))
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    [core] = body["items"]
    assert core["metadata"]["name"] == ""
    [v1] = core["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    res = {r["resource"]: r for r in v1["resources"]}
    assert res["pods"]["scope"] == "Namespaced" and res["nodes"]["scope"] == "Cluster"
    assert res["pods"]["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert res["pods"]["singularResource"] == "pod"
    assert res["pods"]["shortNames"] == ["po"] and res["pods"]["categories"] == ["all"]
    subs = {s["subresource"]: s for s in res["pods"]["subresources"]}
    assert set(subs) >= {"status", "log", "binding", "eviction"}
    assert subs["status"]["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}


def test_aggregated_named_groups() -> None:
    body = json.loads(discovery.apis_body(V2))
    items = {i["metadata"]["name"]: i for i in body["items"]}
    assert set(items) == NAMED_GROUPS
    deploy = {r["resource"]: r for r in items["apps"]["versions"][0]["resources"]}["deployments"]
    scale = {s["subresource"]: s for s in deploy["subresources"]}["scale"]
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    beta = json.loads(discovery.apis_body(V2.replace("v=v2", "v=v2beta1")))
    assert beta["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


def test_bodies_are_cached() -> None:
    assert discovery.apis_body(V2) is discovery.apis_body(V2)
    assert openapi_served.v3_root_body() is openapi_served.v3_root_body()


# --- OpenAPI v3 -----------------------------------------------------------------------------

def v3_docs() -> dict[str, dict[str, Any]]:
    root = json.loads(openapi_served.v3_root_body())
    out = {}
    for path, ref in root["paths"].items():
        body, digest = openapi_served.v3_document(path)
        assert ref["serverRelativeURL"] == f"/openapi/v3/{path}?hash={digest}"
        out[path] = json.loads(body)
    return out


def refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            found |= {v} if k == "$ref" else refs(v)
    elif isinstance(node, list):
        for x in node:
            found |= refs(x)
    return found


def supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """kubectl's check (cli-runtime queryParamVerifierV3), which stops at the first PATCH of the
    GVK it meets in map order: so every such PATCH must carry the parameter."""
    found = False
    for item in doc["paths"].values():
        op = item.get("patch")
        if op is None or op.get("x-kubernetes-group-version-kind") != gvk:
            continue
        if "fieldValidation" not in [p.get("name") for p in op["parameters"]]:
            return False
        found = True
    return found


def test_v3_root_lists_every_group_version() -> None:
    assert set(json.loads(openapi_served.v3_root_body())["paths"]) == {"api/v1", "apis/apps/v1",
                                                               "apis/coordination.k8s.io/v1",
                                                               "apis/discovery.k8s.io/v1",
                                                               "apis/storage.k8s.io/v1",
                                                               "apis/rbac.authorization.k8s.io/v1",
                                                               "apis/authorization.k8s.io/v1",
                                                               "apis/authentication.k8s.io/v1",
                                                               "apis/batch/v1", "apis/certificates.k8s.io/v1",
                                                               "apis/scheduling.k8s.io/v1", "apis/policy/v1",
                                                                   "apis/apiextensions.k8s.io/v1",
                                                               "apis/apiregistration.k8s.io/v1",
                                                               "apis/metrics.k8s.io/v1beta1",
                                                               "apis/autoscaling/v2", "apis/autoscaling/v1"}
    assert openapi_served.v3_document("apis/example.com/v1") is None
    assert openapi_served.v3_body("apis/example.com/v1") is None
    assert openapi_served.v3_body("/api/v1/") == openapi_served.v3_document("api/v1")[0]


def test_v3_every_kind_patches_with_field_validation() -> None:
    docs = v3_docs()
    for entry in table.TABLE:
        rt = entry.type
        if "patch" not in entry.verbs:  # reviews are only created
            continue
        doc = docs[openapi.gv_path(rt.group, rt.version)]
        assert supports_field_validation(doc, {"group": rt.group, "kind": rt.kind, "version": rt.version}), rt


def test_v3_schemas_carry_gvk_and_patch_keys() -> None:
    docs = v3_docs()
    schemas = docs["api/v1"]["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert schemas["io.k8s.api.core.v1.PodList"]["x-kubernetes-group-version-kind"][0]["kind"] == "PodList"
    spec = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    container = schemas["io.k8s.api.core.v1.Container"]
    assert container["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert "name" in container["required"]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    deploy = docs["apis/apps/v1"]["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert deploy["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert "io.k8s.api.autoscaling.v1.Scale" in docs["apis/apps/v1"]["components"]["schemas"]


def test_v3_documents_are_self_contained_and_openapi_3_0_clean() -> None:
    for path, doc in v3_docs().items():
        assert doc["openapi"].startswith("3.0")
        schemas = doc["components"]["schemas"]
        for ref in refs(doc):
            assert ref.startswith("#/components/schemas/") and ref.rpartition("/")[2] in schemas, (path, ref)
        text = json.dumps(doc)
        assert '"anyOf"' not in text and '"type": "null"' not in text and "$defs" not in text

        def no_ref_siblings(node: Any) -> None:
            if isinstance(node, dict):
                assert "$ref" not in node or len(node) == 1, node
                for v in node.values():
                    no_ref_siblings(v)
            elif isinstance(node, list):
                for v in node:
                    no_ref_siblings(v)
        no_ref_siblings(doc)


def test_v3_explain_can_walk_pods_spec_containers() -> None:
    """What ``kubectl explain pods.spec.containers`` does: find the schema of v1 Pod by its GVK,
    then follow spec → containers (array items)."""
    doc = v3_docs()["api/v1"]
    schemas = doc["components"]["schemas"]

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        if "allOf" in s:
            s = s["allOf"][0]
        if "$ref" in s:
            return schemas[s["$ref"].rpartition("/")[2]]
        return s

    [pod] = [s for s in schemas.values()
             if {"group": "", "kind": "Pod", "version": "v1"} in s.get("x-kubernetes-group-version-kind", [])]
    spec = resolve(pod["properties"]["spec"])
    containers = spec["properties"]["containers"]
    assert containers["type"] == "array"
    container = resolve(containers["items"])
    assert {"name", "image", "ports", "env", "resources"} <= set(container["properties"])


def test_v3_operations_have_kubernetes_ids_and_actions() -> None:
    paths = v3_docs()["api/v1"]["paths"]
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert item["patch"]["operationId"] == "patchCoreV1NamespacedPod"
    assert item["patch"]["x-kubernetes-action"] == "patch"
    assert set(item["patch"]["requestBody"]["content"]) == {
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json"}
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert paths["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert paths["/api/v1/nodes/{name}"]["get"]["operationId"] == "readCoreV1Node"
    assert paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]["responses"]["200"]["content"] \
        == {"text/plain": {"schema": {"type": "string"}}}
    scale = v3_docs()["apis/apps/v1"]["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale",
                                                                 "version": "v1"}


# --- OpenAPI v2 -----------------------------------------------------------------------------

def test_v2_document() -> None:
    body, digest = openapi_served.v2_body(), openapi_served.v2_hash()
    doc = json.loads(body)
    assert doc["swagger"] == "2.0" and len(digest) == 128
    defs = doc["definitions"]
    assert defs["io.k8s.api.coordination.v1.Lease"]["x-kubernetes-group-version-kind"] == [
        {"group": "coordination.k8s.io", "kind": "Lease", "version": "v1"}]
    for ref in refs(doc):
        assert ref.startswith("#/definitions/") and ref.rpartition("/")[2] in defs, ref
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    params = {p["name"]: p for p in patch["parameters"]}
    assert params["body"]["in"] == "body"
    assert params["fieldValidation"] == {"name": "fieldValidation", "in": "query", "type": "string",
                                         "uniqueItems": True,
                                         "description": params["fieldValidation"]["description"]}
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert '"anyOf"' not in body.decode()
