"""pydantic's validation errors become Kubernetes' field errors (type, path, message)."""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import BaseModel, Field

from apiserver.rest import pydantic_errors


class Port(BaseModel):
    name: str
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    port: int = Field(default=1, le=65535)
    target: int | str = 0
    label: str = Field(default="", max_length=5)


class Spec(BaseModel):
    ports: list[Port]


def errors_of(data: dict) -> list[tuple[str, str, str]]:
    try:
        Spec.model_validate(data)
    except pydantic.ValidationError as e:
        return [(f.field, f.reason, f.message) for f in pydantic_errors(e)]
    raise AssertionError("valid")


def test_each_error_type_maps_to_its_kubernetes_field_error():
    assert errors_of({"ports": [{"protocol": "TCP"}]}) == [
        ("ports[0].name", "FieldValueRequired", "Required value")]
    assert errors_of({"ports": [{"name": "a", "protocol": "ICMP"}]}) == [
        ("ports[0].protocol", "FieldValueNotSupported", 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"')]
    assert errors_of({"ports": [{"name": "a", "port": 70000}]}) == [
        ("ports[0].port", "FieldValueInvalid", "Invalid value: 70000: Input should be less than or equal to 65535")]
    assert errors_of({"ports": [{"name": "a", "label": "toolong"}]}) == [
        ("ports[0].label", "FieldValueTooLong", "Too long: may not be more than 5 bytes")]
    [(field, reason, message)] = errors_of({"ports": "x"})
    assert (field, reason) == ("ports", "FieldValueTypeInvalid") and message.startswith('Invalid value: "x": ')


def test_a_union_is_reported_once():
    # IntOrString: pydantic tries both branches; Kubernetes names the field once
    found = errors_of({"ports": [{"name": "a", "target": [1]}]})
    assert [f[:2] for f in found] == [("ports[0].target", "FieldValueTypeInvalid")]
