"""JSON merge patch (RFC 7386): the RFC's appendix A, and what kubectl scale/label send."""

from __future__ import annotations

import copy

import pytest

from apiserver.patch import apply_merge_patch

RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), RFC7386)
def test_rfc7386_appendix_a(doc, patch, expected):
    doc_before, patch_before = copy.deepcopy(doc), copy.deepcopy(patch)
    assert apply_merge_patch(doc, patch) == expected
    assert doc == doc_before and patch == patch_before


def test_nulls_inside_arrays_are_kept():
    assert apply_merge_patch({}, {"a": [{"b": None}]}) == {"a": [{"b": None}]}


def test_scale_label_annotate():
    deployment = {
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c"}]}}},
    }
    scaled = apply_merge_patch(deployment, {"spec": {"replicas": 3}})
    assert scaled["spec"] == {"replicas": 3, "template": {"spec": {"containers": [{"name": "c"}]}}}
    assert scaled["spec"]["template"] is deployment["spec"]["template"]  # untouched: shared
    unlabeled = apply_merge_patch(deployment, {"metadata": {"labels": {"tier": None, "env": "prod"}}})
    assert unlabeled["metadata"]["labels"] == {"app": "web", "env": "prod"}
    annotated = apply_merge_patch(deployment, {"metadata": {"annotations": {"note": "x"}}})
    assert annotated["metadata"]["annotations"] == {"note": "x"}
    assert deployment["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert "annotations" not in deployment["metadata"]


def test_result_does_not_alias_patch():
    patch = {"spec": {"list": [{"x": 1}]}}
    out = apply_merge_patch({}, patch)
    out["spec"]["list"][0]["x"] = 2
    assert patch == {"spec": {"list": [{"x": 1}]}}
