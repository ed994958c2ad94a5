"""CustomResourceDefinitions through the official Python ``kubernetes`` client: the CRD made
with ApiextensionsV1Api (typed models must deserialize), its objects with CustomObjectsApi
(create, get, list, merge patch, status, scale, delete, watch), errors as typed exceptions."""

from __future__ import annotations

import time

import pytest

from tests.integration.crd_helpers import sprocket_crd, unique_group, wait_established


@pytest.fixture
def api_client(apiserver_process):
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(apiserver_process.kubeconfig))
    yield client
    client.close()


def test_custom_objects_api(api_client, api_http):
    from kubernetes import client as k8s
    from kubernetes import watch
    from kubernetes.client.rest import ApiException

    g = unique_group()
    ext = k8s.ApiextensionsV1Api(api_client)
    created = ext.create_custom_resource_definition(sprocket_crd(g))
    assert created.metadata.name == f"sprockets.{g}"
    wait_established(api_http, f"sprockets.{g}")
    crd = ext.read_custom_resource_definition(f"sprockets.{g}")
    assert {c.type: c.status for c in crd.status.conditions} == {"NamesAccepted": "True", "Established": "True"}
    assert crd.spec.versions[0].additional_printer_columns[0].json_path == ".spec.image"

    co = k8s.CustomObjectsApi(api_client)
    args = (g, "v1", "default", "sprockets")
    body = {"apiVersion": f"{g}/v1", "kind": "Sprocket", "metadata": {"name": "py"}, "spec": {"image": "nginx:1"}}
    obj = co.create_namespaced_custom_object(*args, body)
    assert obj["spec"]["replicas"] == 1 and obj["metadata"]["uid"]
    assert co.get_namespaced_custom_object(*args, "py")["spec"]["size"] == "small"
    assert [o["metadata"]["name"] for o in co.list_namespaced_custom_object(*args)["items"]] == ["py"]
    assert co.list_cluster_custom_object(g, "v1", "sprockets")["kind"] == "SprocketList"
    patched = co.patch_namespaced_custom_object(*args, "py", {"spec": {"replicas": 4}})
    assert patched["spec"]["replicas"] == 4
    st = co.patch_namespaced_custom_object_status(*args, "py", {"status": {"phase": "Up", "replicas": 4}})
    assert st["status"] == {"phase": "Up", "replicas": 4}
    scale = co.get_namespaced_custom_object_scale(*args, "py")
    assert scale["spec"]["replicas"] == 4 and scale["status"]["replicas"] == 4
    co.patch_namespaced_custom_object_scale(*args, "py", {"spec": {"replicas": 2}})
    assert co.get_namespaced_custom_object(*args, "py")["spec"]["replicas"] == 2

    with pytest.raises(ApiException) as bad:
        co.create_namespaced_custom_object(*args, {**body, "metadata": {"name": "bad"}, "spec": {"replicas": 1}})
    assert bad.value.status == 422 and "spec.image: Required value" in bad.value.body

    w = watch.Watch()
    seen = []
    for ev in w.stream(co.list_namespaced_custom_object, *args, timeout_seconds=3):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        w.stop()
    assert seen == [("ADDED", "py")]

    co.delete_namespaced_custom_object(*args, "py")
    with pytest.raises(ApiException) as gone:
        co.get_namespaced_custom_object(*args, "py")
    assert gone.value.status == 404

    ext.delete_custom_resource_definition(f"sprockets.{g}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            ext.read_custom_resource_definition(f"sprockets.{g}")
        except ApiException as e:
            assert e.status == 404
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the CRD was not deleted")
