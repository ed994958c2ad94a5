"""Field selector parsing and matching."""

from __future__ import annotations

import pytest

from minik8s import fields


@pytest.mark.parametrize(
    ("text", "flds", "want"),
    [
        ("metadata.name=a", {"metadata.name": "a"}, True),
        ("metadata.name==a", {"metadata.name": "a"}, True),
        ("metadata.name=a", {"metadata.name": "b"}, False),
        ("status.phase!=Failed", {"status.phase": "Running"}, True),
        ("status.phase!=Failed", {"status.phase": "Failed"}, False),
        ("spec.nodeName=", {"spec.nodeName": ""}, True),  # unscheduled pods
        ("spec.nodeName=", {}, True),                     # a missing field reads as ""
        ("spec.nodeName!=", {}, False),
        ("spec.nodeName=n1,status.phase!=Failed", {"spec.nodeName": "n1", "status.phase": "Running"}, True),
        ("spec.nodeName=n1,status.phase!=Failed", {"spec.nodeName": "n2", "status.phase": "Running"}, False),
        ("", {"x": "y"}, True),
    ],
)
def test_parse_and_match(text, flds, want):
    assert fields.parse(text).matches(flds) is want


def test_requirements_and_exact_match():
    sel = fields.parse("spec.nodeName=n1,metadata.namespace!=kube-system")
    assert [(r.field, r.operator, r.value) for r in sel.requirements] == [
        ("metadata.namespace", "!=", "kube-system"), ("spec.nodeName", "=", "n1"),
    ]
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("metadata.namespace") is None
    assert sel.fields() == {"spec.nodeName", "metadata.namespace"}


def test_escaped_values_round_trip():
    sel = fields.parse(r"metadata.name=a\,b\=c\\d")
    assert sel.requirements[0].value == "a,b=c\\d"
    assert sel.matches({"metadata.name": "a,b=c\\d"})
    assert fields.parse(str(sel)) == sel
    assert str(fields.from_set({"metadata.name": "x,y"})) == r"metadata.name=x\,y"


@pytest.mark.parametrize("text", ["metadata.name", "=a", "a=b,c", r"a=b\x"])
def test_malformed(text):
    with pytest.raises(ValueError):
        fields.parse(text)


def test_empty():
    assert fields.parse("").is_empty()
    assert not fields.parse("a=b").is_empty()
