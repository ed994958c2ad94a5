"""Schemathesis against the OpenAPI document the apiserver serves: every operation, requests
generated from its schema (and beyond it: bad types, missing fields, odd query values), checked
for "not a server error" and for responses that conform to the document.

Seeded and bounded: Hypothesis runs derandomized (the same requests on every run) with
EXAMPLES valid and EXAMPLES invalid examples per operation (about 3 minutes on 2 cores), on an
apiserver of the test's own, so a failure reproduces by running the test again. Requests go
through the harness' client (its base URL and credentials).
"""

from __future__ import annotations

from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = 2
SEED = 14


def _send(client: Any, case: Any) -> Any:
    """The case's request through the harness' httpx client (schemathesis builds kwargs for
    requests: the same names, except the body)."""
    kw = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
    params = dict(kw.get("params") or {})
    if "/watch/" in kw["url"] or str(params.get("watch", "")).lower() in ("1", "t", "true"):
        params["timeoutSeconds"] = "1"  # a watch ends by itself; its other parameters stay fuzzed
    if str(params.get("follow", "")).lower() in ("1", "t", "true"):
        params["follow"] = "false"
    kw["params"] = params
    body: dict[str, Any] = {}
    if "json" in kw:
        body["json"] = kw["json"]
    elif kw.get("data") is not None:
        data = kw["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    return client.request(kw["method"], kw["url"], params=kw.get("params"), headers=kw.get("headers"),
                          **body)


def _int_or_string(node: Any) -> Any:
    """Kubernetes declares IntOrString as ``type: string, format: int-or-string`` (v2 has no
    union types) and sends an integer where one was set: JSON Schema validators read ``type``
    literally, so the test drops it wherever that format stands (an int or a string validates)."""
    if isinstance(node, dict):
        if node.get("format") == "int-or-string":
            node = {k: v for k, v in node.items() if k != "type"}
        return {k: _int_or_string(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_int_or_string(v) for v in node]
    return node


@pytest.mark.timeout(900)
def test_served_openapi_fuzz_has_no_5xx(apiserver_factory):
    server = apiserver_factory()
    with server.http(timeout=10) as client:
        doc = _int_or_string(client.get("/openapi/v2").json())
        schema = schemathesis.openapi.from_dict(doc)
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) > 100
        failures: list[str] = []
        runs = []
        for op in operations:
            # Valid requests in a namespace that exists (or they all end at 404), and invalid ones.
            fixed = {"path_parameters": {"namespace": "default"}} if "{namespace}" in op.path else {}
            runs.append(op.as_strategy(GenerationMode.POSITIVE, **fixed))
            runs.append(op.as_strategy(GenerationMode.NEGATIVE))
        for strategy in runs:
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
            @hypothesis.seed(SEED)
            @hypothesis.given(case=strategy)
            def run(case: Any) -> None:
                try:
                    response = _send(client, case)
                except httpx.HTTPError as e:
                    failures.append(f"{case.method} {case.formatted_path} {case.query}: {e!r}")
                    return
                # A watch answers a stream of JSON documents, which no response schema describes.
                watch = str((case.query or {}).get("watch", "")).lower() in ("1", "t", "true")
                streamed = response.status_code == 200 and ("/watch/" in case.formatted_path or watch)
                checks = [not_a_server_error] if streamed else [not_a_server_error, response_schema_conformance]
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as e:  # collect them all, report at the end
                    why = " | ".join(line.strip() for line in (str(e) or repr(e)).splitlines()[1:12] if line.strip())
                    failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: "
                                    f"{why[:600]}")

            run()
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
