"""The client's exception tree: Status bodies and bare HTTP codes map to the right class."""

from __future__ import annotations

import json

import pytest

from minik8s import errors
from minik8s.client.rest import _watch_event


def status(code: int, reason: str, message: str = "m", **details) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code, "details": details}


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict),
        (410, "Expired", errors.Gone),
        (410, "Gone", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.ServerError),
        (503, "ServiceUnavailable", errors.ServerError),
        (504, "Timeout", errors.ServerError),
        (405, "MethodNotAllowed", errors.ApiError),
    ],
)
def test_status_bodies_map_to_classes(code, reason, cls):
    body = json.dumps(status(code, reason, "it failed")).encode()
    err = errors.ApiError.from_response(code, body)
    assert type(err) is cls
    assert (err.code, err.reason, err.message) == (code, reason, "it failed")
    assert isinstance(err, errors.MiniK8sError)
    assert str(err) == f"({reason}) it failed"


def test_non_status_bodies_get_kubernetes_messages():
    err = errors.ApiError.from_response(404, b"<html>nope</html>")
    assert type(err) is errors.NotFound
    assert err.message == "the server could not find the requested resource"
    assert err.status["kind"] == "Status" and err.status["code"] == 404
    err = errors.ApiError.from_response(502, b"bad gateway")
    assert type(err) is errors.ServerError and "bad gateway" in err.message
    assert type(errors.ApiError.from_response(409, None)) is errors.Conflict


def test_details_causes_and_retry_after():
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}]
    err = errors.ApiError.from_status(status(422, "Invalid", causes=causes, name="bad", kind="Pod"))
    assert err.causes == causes and err.details["name"] == "bad"
    err = errors.ApiError.from_status(status(429, "TooManyRequests", retryAfterSeconds=3))
    assert err.retry_after_seconds == 3


def test_watch_lines():
    ev = _watch_event(b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}')
    assert ev.type == "ADDED" and ev.object["metadata"]["name"] == "a"
    with pytest.raises(errors.WatchExpired) as exc:
        _watch_event(json.dumps({"type": "ERROR", "object": status(410, "Expired", "too old resource version")}).encode())
    assert isinstance(exc.value, errors.Gone) and exc.value.code == 410
    assert exc.value.message == "too old resource version"
    with pytest.raises(errors.ServerError):
        _watch_event(json.dumps({"type": "ERROR", "object": status(500, "InternalError")}).encode())
    with pytest.raises(errors.ConnectionFailed):
        _watch_event(b"{not json")
