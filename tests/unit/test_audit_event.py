"""audit.k8s.io/v1 Events built from an audit context: request objects as they came (compact
JSON embedded, other bodies decoded), managedFields omitted when the policy says so, a
create's name taken from its body, Status answers in responseStatus, one line per event."""

from __future__ import annotations

import orjson
import yaml

from apiserver.audit import backend, context, event
from apiserver.auth import requestinfo
from apiserver.auth.user import UserInfo

ADMIN = UserInfo("admin", groups=("system:masters", "system:authenticated"))


def ctx_for(method: str, path: str, body: bytes | None, ctype: str = "application/json", *, level: str = "Request",
            code: int = 201, omit_mf: bool = False, response: bytes | None = None) -> context.AuditContext:
    ctx = context.AuditContext("id-1", 1_800_000_000.25)
    ctx.level, ctx.omit_managed_fields, ctx.user, ctx.method = level, omit_mf, ADMIN, method
    ctx.uri = ctx.path = path
    ctx.attributes = requestinfo.attributes(ADMIN, method, path, b"")
    ctx.request_body, ctx.request_ctype, ctx.code = body, ctype, code
    if response is not None:
        ctx.response_body, ctx.response_ctype = [response], "application/json"
    return ctx


def line(ctx: context.AuditContext, code: int = 201) -> dict:
    encoded = orjson.dumps(event.build(ctx, "ResponseComplete", 1_800_000_001.5, code, {}, None, True),
                           option=orjson.OPT_APPEND_NEWLINE)
    assert encoded.count(b"\n") == 1 and encoded.endswith(b"\n")
    return orjson.loads(encoded)


def test_compact_json_is_embedded_and_names_the_created_object() -> None:
    body = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"},"data":{"k":"v"}}'
    ev = line(ctx_for("POST", "/api/v1/namespaces/ns/configmaps", body))
    assert ev["requestObject"] == orjson.loads(body)
    assert ev["objectRef"] == {"resource": "configmaps", "namespace": "ns", "name": "c1", "apiVersion": "v1"}
    assert ev["requestReceivedTimestamp"] == "2027-01-15T08:00:00.250000Z"
    assert ev["stageTimestamp"] == "2027-01-15T08:00:01.500000Z"


def test_pretty_json_yaml_and_managed_fields_are_decoded() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "c2", "managedFields": [{"manager": "x"}]}, "data": {"k": "v\nw"}}
    pretty = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
    ev = line(ctx_for("POST", "/api/v1/namespaces/ns/configmaps", pretty, omit_mf=True))
    assert ev["requestObject"]["data"] == {"k": "v\nw"} and "managedFields" not in ev["requestObject"]["metadata"]
    ev = line(ctx_for("POST", "/api/v1/namespaces/ns/configmaps", yaml.safe_dump(obj).encode(), "application/yaml"))
    assert ev["requestObject"]["metadata"]["managedFields"] == [{"manager": "x"}]  # not omitted: kept
    assert ev["objectRef"]["name"] == "c2"


def test_metadata_level_keeps_no_objects_but_names_the_create() -> None:
    body = b'{"metadata":{"name":"s1"},"data":{"password":"c2VjcmV0"}}'
    ev = line(ctx_for("POST", "/api/v1/namespaces/ns/secrets", body, level="Metadata"))
    assert "requestObject" not in ev and ev["objectRef"]["name"] == "s1"


def test_an_error_answer_is_the_response_status() -> None:
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": 'no "x"',
              "reason": "NotFound", "details": {"name": "x", "kind": "pods"}, "code": 404}
    ctx = ctx_for("GET", "/api/v1/namespaces/ns/pods/x", None, level="RequestResponse", code=404,
                  response=orjson.dumps(status))
    ev = line(ctx, 404)
    assert ev["responseStatus"] == {"metadata": {}, "status": "Failure", "message": 'no "x"', "reason": "NotFound",
                                    "details": {"name": "x", "kind": "pods"}, "code": 404}
    assert ev["responseObject"] == status


def test_a_json_line_written_by_the_backend(tmp_path) -> None:
    out = tmp_path / "a.log"
    b = backend.BufferedBackend(str(out), event.build)
    b.add((ctx_for("DELETE", "/api/v1/namespaces/ns/pods/p", b'{"propagationPolicy":"Background"}', code=200),
           "ResponseComplete", 1_800_000_002.0, 200, {"a": "b"}, None, True))
    b.stop()
    (ev,) = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert ev["verb"] == "delete" and ev["requestObject"] == {"propagationPolicy": "Background"}
    assert ev["annotations"] == {"a": "b"} and b.written == 1


def test_micro_time_renders_each_second_of_its_own_and_the_microseconds() -> None:
    import datetime

    def want(t: float) -> str:
        d = datetime.datetime.fromtimestamp(int(t), datetime.UTC)
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int((t - int(t)) * 1e6):06d}Z"

    # the same second twice, the next, back to the first, a year later, the epoch
    for t in (1_800_000_000.25, 1_800_000_000.999999, 1_800_000_001.0, 1_800_000_000.5, 1_831_536_000.000001, 0.0):
        assert event.micro_time(t) == want(t)
    assert event.micro_time(1_800_000_001.5) == "2027-01-15T08:00:01.500000Z"
