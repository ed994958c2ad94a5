"""Bad input never gets a 5xx: each reproduction of issue #14 ("5xx on bad input", "Limits",
"Semantics that differ from Kubernetes") against a real apiserver process, answered with a
4xx meta/v1 Status naming the parameter or field, and nothing half-written."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

J = {"content-type": "application/json"}


@pytest.fixture
def ns(api_http: httpx.Client) -> str:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    r = api_http.post("/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def cm(name: str, **extra: object) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def deployment(name: str, replicas: object = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def status_of(r: httpx.Response, code: int) -> dict:
    assert r.status_code == code, (r.status_code, r.text)
    assert r.content.endswith(b"}\n"), r.content  # Go's json.Encoder ends the body with a newline
    body = r.json()
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == code
    return body


def fields_of(status: dict) -> list[str]:
    return [c.get("field") for c in (status.get("details") or {}).get("causes") or []]


def names(api_http: httpx.Client, ns: str) -> list[str]:
    r = api_http.get(f"/api/v1/namespaces/{ns}/configmaps")
    assert r.status_code == 200
    return sorted(i["metadata"]["name"] for i in r.json()["items"])


# --- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("query, param", [
    ("limit=abc", "limit"), ("limit=1.5", "limit"), ("limit=1e3", "limit"),
    ("limit=99999999999999999999", "limit"),
    ("watch=1&timeoutSeconds=abc", "timeoutSeconds"), ("watch=1&timeoutSeconds=inf", "timeoutSeconds"),
    ("watch=1&timeoutSeconds=nan", "timeoutSeconds"), ("watch=maybe", "watch"),
    ("allowWatchBookmarks=yes&watch=1", "allowWatchBookmarks"),
])
def test_malformed_query_parameter_is_400_naming_it(api_http, query, param):
    body = status_of(api_http.get(f"/api/v1/configmaps?{query}", timeout=10), 400)
    assert body["reason"] == "BadRequest" and f'"{param}"' in body["message"]
    assert fields_of(body) == [param]


def test_negative_limit_means_no_limit_as_in_kubernetes(api_http, ns):
    r = api_http.get(f"/api/v1/namespaces/{ns}/configmaps?limit=-1")
    assert r.status_code == 200 and r.json()["items"] == []
    for n in ("a", "b", "c"):
        assert api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm(n)).status_code == 201
    r = api_http.get(f"/api/v1/namespaces/{ns}/configmaps?limit=-1")
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a", "b", "c"]
    assert "continue" not in r.json()["metadata"]


def test_delete_with_malformed_grace_period_deletes_nothing(api_http, ns):
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("x"))
    body = status_of(api_http.delete(f"/api/v1/namespaces/{ns}/configmaps/x?gracePeriodSeconds=abc"), 400)
    assert fields_of(body) == ["gracePeriodSeconds"]
    assert names(api_http, ns) == ["x"]


def test_bogus_dry_run_is_refused_and_writes_nothing(api_http, ns):
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps?dryRun=Bogus", json=cm("dr"))
    body = status_of(r, 422)
    assert body["message"] == ('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                               '[]string{"Bogus"}: supported values: "All"')
    assert body["details"] == {"group": "meta.k8s.io", "kind": "CreateOptions", "causes": [
        {"reason": "FieldValueNotSupported", "message": 'Unsupported value: []string{"Bogus"}: supported values: "All"',
         "field": "dryRun"}]}
    assert names(api_http, ns) == []
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("x"))
    status_of(api_http.delete(f"/api/v1/namespaces/{ns}/configmaps/x?dryRun=Nope"), 422)
    assert names(api_http, ns) == ["x"]
    assert api_http.post(f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", json=cm("y")).status_code == 201
    assert names(api_http, ns) == ["x"]


@pytest.mark.parametrize("rv", [-5, 10 ** 12, 10 ** 30, "abc"])
def test_hand_made_continue_token_is_400(api_http, ns, rv):
    for n in ("a", "b"):
        api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm(n))
    token = base64.urlsafe_b64encode(json.dumps(
        {"v": "meta.k8s.io/v1", "rv": rv, "start": f"/registry/configmaps/{ns}/a"}).encode()).decode()
    body = status_of(api_http.get(f"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={token}"), 400)
    assert body["message"].startswith("continue key is not valid")


def test_continue_token_cannot_leave_the_listed_prefix(api_http, ns):
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("a"))
    rv = int(api_http.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"])
    for start in (f"/registry/configmaps/{ns}/../../secrets/x", "/registry/secrets/default/a"):
        token = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode())
        status_of(api_http.get(f"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={token.decode()}"), 400)


def test_resource_version_match(api_http, ns):
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("v", data={"k": "1"}))
    old_rv = r.json()["metadata"]["resourceVersion"]
    r = api_http.patch(f"/api/v1/namespaces/{ns}/configmaps/v", content=json.dumps({"data": {"k": "2"}}),
                       headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200
    # Exact: the list as it was at that revision
    r = api_http.get(f"/api/v1/namespaces/{ns}/configmaps?resourceVersion={old_rv}&resourceVersionMatch=Exact")
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["resourceVersion"] == old_rv
    assert [i["data"] for i in r.json()["items"]] == [{"k": "1"}]
    r = api_http.get(f"/api/v1/namespaces/{ns}/configmaps?resourceVersion={old_rv}&resourceVersionMatch=NotOlderThan")
    assert [i["data"] for i in r.json()["items"]] == [{"k": "2"}]
    for query, message in [
        ("resourceVersionMatch=Exact", "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
                                       "resourceVersion is provided"),
        ("resourceVersion=1&resourceVersionMatch=Bogus",
         'resourceVersionMatch: Unsupported value: "Bogus": supported values: "Exact", "NotOlderThan", ""'),
        ("resourceVersion=0&resourceVersionMatch=Exact",
         'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
        ("watch=1&resourceVersionMatch=NotOlderThan", "resourceVersionMatch: Forbidden: resourceVersionMatch is "
                                                      "forbidden for watch unless sendInitialEvents is provided"),
    ]:
        body = status_of(api_http.get(f"/api/v1/namespaces/{ns}/configmaps?{query}", timeout=10), 422)
        assert body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'


def test_empty_namespace_segment_is_not_every_namespace(api_http, ns):
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("a"))
    status_of(api_http.get("/api/v1/namespaces//configmaps"), 404)


# --- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/namespaces/{ns}/configmaps", "/api/v1/namespaces"])
def test_non_object_metadata_is_400(api_http, ns, path):
    body = status_of(api_http.post(path.format(ns=ns), content=b'{"metadata":[]}', headers=J), 400)
    assert fields_of(body) == ["metadata"]


def test_non_object_metadata_on_scale_is_400(api_http, ns):
    assert api_http.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("web")).status_code == 201
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"
    status_of(api_http.put(url, content=b'{"metadata":[]}', headers=J), 400)
    status_of(api_http.patch(url, content=b'{"metadata":[]}',
                             headers={"content-type": "application/merge-patch+json"}), 400)
    assert api_http.get(url).json()["spec"]["replicas"] == 1


def test_namespace_without_name_is_required_value(api_http):
    body = status_of(api_http.post("/api/v1/namespaces", content=b"{}", headers=J), 422)
    assert body["details"]["causes"][0]["reason"] == "FieldValueRequired"
    assert fields_of(body) == ["metadata.name"]


def test_binding_with_a_mistyped_target_is_4xx(api_http, ns):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert api_http.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/pods/p/binding", json={"target": [1]}), 422)
    assert fields_of(body) == ["target"]
    assert "nodeName" not in api_http.get(f"/api/v1/namespaces/{ns}/pods/p").json()["spec"]


def test_quantity_of_the_wrong_type_is_422(api_http, ns):
    pod = {"metadata": {"name": "q"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": {}}}}]}}
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/pods", json=pod), 422)
    assert fields_of(body) == ["spec.containers[0].resources.requests.cpu"]


def test_missing_required_field_is_required_value(api_http, ns):
    pod = {"metadata": {"name": "r"}, "spec": {"containers": [{"image": "busybox"}]}}
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/pods", json=pod), 422)
    assert body["details"]["causes"][0] == {"reason": "FieldValueRequired", "message": "Required value",
                                            "field": "spec.containers[0].name"}
    assert "spec.containers[0].name: Required value" in body["message"]


@pytest.mark.parametrize("body", [b'{"preconditions":"x"}', b"[1]", b'"x"', b'{"gracePeriodSeconds":"soon"}'])
def test_malformed_delete_options_delete_nothing(api_http, ns, body):
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("d"))
    status_of(api_http.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/d", content=body, headers=J), 400)
    assert names(api_http, ns) == ["d"]


def test_text_plain_is_415_not_json(api_http, ns):
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=json.dumps(cm("tp")),
                      headers={"content-type": "text/plain"})
    body = status_of(r, 415)
    assert body["reason"] == "UnsupportedMediaType"
    assert names(api_http, ns) == []


def test_replicas_beyond_int32_is_422(api_http, ns):
    body = status_of(api_http.post(f"/apis/apps/v1/namespaces/{ns}/deployments",
                                   content=json.dumps(deployment("big", 2 ** 63)).encode(), headers=J), 422)
    assert fields_of(body) == ["spec.replicas"]
    assert api_http.get(f"/apis/apps/v1/namespaces/{ns}/deployments").json()["items"] == []


def test_unknown_non_latin1_field_answers_once_and_stores_once(api_http, ns):
    """The Warning header of an unknown field named 数据 once failed the response after the
    object was stored (a retry then got 409)."""
    raw = json.dumps({**cm("u"), "数据": 1}, ensure_ascii=False).encode()
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=raw, headers=J)
    assert r.status_code == 201, r.text
    assert r.headers.raw and '299 - "unknown field \\"数据\\""' in \
        dict((k.lower(), v) for k, v in r.headers.raw)[b"warning"].decode()
    obj = r.json()
    obj["数据"] = 1
    r = api_http.put(f"/api/v1/namespaces/{ns}/configmaps/u",
                     content=json.dumps({**obj, "data": {"a": "b"}}, ensure_ascii=False).encode(), headers=J)
    assert r.status_code == 200, r.text
    assert api_http.get(f"/api/v1/namespaces/{ns}/configmaps/u").json()["data"] == {"a": "b"}
    status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=raw, headers=J), 409)


def _nested(depth: int) -> str:
    return '{"x":' * depth + '"leaf"' + "}" * depth


@pytest.mark.parametrize("make", [
    lambda: '{"metadata":{"name":"deep","annotations":{"a":' + _nested(1000) + "}}}",
    lambda: '{"metadata":{"name":"deep"},"data":' + _nested(1000) + "}",
    lambda: ('{"metadata":{"name":"deep","managedFields":[{"manager":"m","operation":"Update",'
             '"fieldsType":"FieldsV1","fieldsV1":' + _nested(300) + "}]}}"),
], ids=["annotations-1000", "data-1000", "managedFields-300"])
def test_deep_json_is_refused_before_recursing(api_http, ns, make):
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=make().encode(), headers=J), 400)
    assert "deeper than" in body["message"]
    assert names(api_http, ns) == []


def test_deep_json_patch_value_is_refused(api_http, ns):
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("p"))
    patch = '[{"op":"add","path":"/metadata/labels","value":' + _nested(1000) + "}]"
    status_of(api_http.patch(f"/api/v1/namespaces/{ns}/configmaps/p", content=patch.encode(),
                             headers={"content-type": "application/json-patch+json"}), 400)


def test_deep_yaml_is_refused(api_http, ns):
    doc = "metadata: {name: deep}\ndata: " + "[" * 10_000 + "]" * 10_000
    status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=doc.encode(),
                            headers={"content-type": "application/yaml"}), 400)
    doc = "metadata:\n name: deep\ndata:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1500))
    status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=doc.encode(),
                            headers={"content-type": "application/yaml"}), 400)
    assert names(api_http, ns) == []


def test_yaml_alias_bomb_is_refused(api_http, ns):
    doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\nx0: &a0 [1,2,3,4,5,6,7,8,9,10]\n"
    for i in range(1, 9):
        doc += f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n"
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/pods", content=doc.encode(),
                                   headers={"content-type": "application/yaml"}), 400)
    assert "excessive aliasing" in body["message"]
    # a few aliases, as manifests use them, still work
    ok = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: anchors, labels: &l {app: web}, annotations: *l}\n"
    assert api_http.post(f"/api/v1/namespaces/{ns}/configmaps", content=ok.encode(),
                         headers={"content-type": "application/yaml"}).status_code == 201


def test_stored_object_is_capped(api_http, ns):
    """A body under the 3 MiB request limit still may not store an object past 1.5 MiB."""
    env = [{"name": f"V{i}", "value": "x" * 1000} for i in range(2000)]
    pod = {"metadata": {"name": "huge"}, "spec": {"containers": [{"name": "c", "image": "busybox", "env": env}]}}
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/pods", json=pod), 413)
    assert body["reason"] == "RequestEntityTooLarge"
    assert api_http.get(f"/api/v1/namespaces/{ns}/pods").json()["items"] == []


def test_configmap_binary_data_counts_and_is_checked(api_http, ns):
    big = {"a": "x" * 600_000}
    bin_ = {"b": base64.b64encode(b"y" * 600_000).decode()}
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("big", data=big, binaryData=bin_)),
                     422)
    assert body["message"] == 'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    body = status_of(api_http.post(f"/api/v1/namespaces/{ns}/configmaps",
                                   json=cm("nb", binaryData={"k": "!!not base64!!"})), 422)
    assert fields_of(body) == ["binaryData[k]"]


def test_secret_base64_with_line_breaks_is_accepted(api_http, ns):
    wrapped = base64.b64encode(b"hello world, wrapped").decode()
    wrapped = wrapped[:12] + "\n" + wrapped[12:] + "\n"
    r = api_http.post(f"/api/v1/namespaces/{ns}/secrets", json={"metadata": {"name": "s"}, "data": {"k": wrapped}})
    assert r.status_code == 201, r.text
    assert base64.b64decode(r.json()["data"]["k"]) == b"hello world, wrapped"
    assert "\n" not in r.json()["data"]["k"]


@pytest.mark.parametrize("rv, code", [("0", 201), ("abc", 201), ("12", 400)])
def test_resource_version_on_create(api_http, ns, rv, code):
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "c", "resourceVersion": rv}})
    assert r.status_code == code, r.text
    if code == 201:
        assert r.json()["metadata"]["resourceVersion"] != rv


def test_new_deployment_and_replicaset_have_a_status(api_http, ns):
    r = api_http.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("st"))
    assert r.json()["status"] == {}
    rs = deployment("st-rs")
    rs["kind"] = "ReplicaSet"
    r = api_http.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=rs)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == {"replicas": 0}


# --- limits ----------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_chunked_body_is_capped_while_reading(apiserver_factory):
    """Four 100 MB uploads at once, chunked (no Content-Length), are each refused at 3 MiB
    while being read, not after being held whole: the apiserver's RSS peaks within 60 MB of
    where it was (it peaked 489 MB higher when the cap applied after reading)."""
    server = apiserver_factory()
    assert server.proc is not None
    pid = server.proc.pid
    before = _rss_kib(pid)
    answers: list[object] = []

    def chunks() -> Iterator[bytes]:
        block = b" " * (1 << 20)
        for _ in range(100):
            yield block

    def upload() -> None:
        with server.http(timeout=60) as c:
            try:
                r = c.post("/api/v1/namespaces/default/configmaps", content=chunks(), headers=J)
                answers.append((r.status_code, r.json()["message"]))
            except httpx.HTTPError as e:  # the server may close the connection while we still send
                answers.append(type(e).__name__)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kib(pid))
        time.sleep(0.02)
    assert all(a == (413, "Request entity too large: limit is 3145728") or isinstance(a, str) for a in answers), answers
    assert any(isinstance(a, tuple) for a in answers), answers
    grew = (peak - before) / 1024
    assert grew < 60, f"RSS peaked {grew:.0f} MB above where it was"


# --- error bodies ----------------------------------------------------------------------------


def test_error_bodies_match_kubernetes_bytes(api_http, ns):
    r = api_http.get("/api/v1/nope")
    assert r.content == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server '
                         b'could not find the requested resource","reason":"NotFound","details":{},"code":404}\n')
    api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("dup"))
    r = api_http.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("dup"))
    assert r.content == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                         b'"configmaps \\"dup\\" already exists","reason":"AlreadyExists","details":{"name":"dup",'
                         b'"kind":"configmaps"},"code":409}\n')


def test_paths_and_methods_nothing_serves_answer_a_status(api_http):
    for path in ("/foo", "/apis/nope/v1/things", "/openapi/v3/nope"):
        r = api_http.get(path)
        assert r.content == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the '
                             b'server could not find the requested resource","reason":"NotFound","details":{},'
                             b'"code":404}\n'), path
    body = status_of(api_http.post("/version"), 405)
    assert body["reason"] == "MethodNotAllowed"


def test_websocket_to_an_unserved_subresource_is_a_404_status(api_http):
    r = api_http.get("/api/v1/namespaces/default/pods/x/nosuchsubresource",
                     headers={"connection": "Upgrade", "upgrade": "websocket", "sec-websocket-version": "13",
                              "sec-websocket-key": base64.b64encode(b"0123456789abcdef").decode()})
    body = status_of(r, 404)
    assert body["details"] == {}
    # the refused handshake's connection closes after the answer, and the answer says so
    assert r.headers["connection"] == "close"


def test_openapi_v2_negotiates_json_protobuf_or_406(api_http):
    r = api_http.get("/openapi/v2", headers={"accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert r.content.startswith(b"\n\x032.0")  # openapi.v2.Document field 1 (swagger) = "2.0"
    assert api_http.get("/openapi/v2", headers={"accept": "application/xml"}).status_code == 406
    r = api_http.get("/openapi/v2", headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["swagger"] == "2.0"
    assert api_http.get("/openapi/v2").status_code == 200


def test_kubectl_apply_with_a_kind_the_server_lacks_names_it(kubectl, tmp_path):
    """kubectl validates a kind missing from the v3 documents with the protobuf v2 document;
    an answer it could not parse failed the whole apply ("failed to download openapi")."""
    name = f"known-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\n---\n"
                        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\n")
    r = kubectl("apply", "-f", str(manifest))
    assert r.returncode != 0
    assert f"configmap/{name} created" in r.stdout
    assert 'no matches for kind "Widget" in version "example.com/v1"' in r.stderr, r.stderr
    assert "failed to download openapi" not in r.stderr
