"""JSON patch (RFC 6902): the RFC's own examples (appendix A), pointers (RFC 6901), and the
rollout-undo shape kubectl sends."""

from __future__ import annotations

import copy

import pytest

from apiserver.patch import PatchError, apply_json_patch
from apiserver.patch.jsonpatch import json_equal, parse_pointer

RFC6902_OK = [
    ("A.1 add object member", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ("A.2 add array element", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ("A.3 remove object member", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4 remove array element", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ("A.5 replace", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    (
        "A.6 move value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 move array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 test success",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    ("A.10 add nested member", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}], {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11 ignore unknown members", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ("A.14 ~ escape ordering", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.16 add array value", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ("copy", {"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ("replace root", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("add to end by index", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ("move to itself", {"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    ("test 1 equals 1.0", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    ("key with slash", {"a/b": 1}, [{"op": "remove", "path": "/a~1b"}], {}),
]


@pytest.mark.parametrize(("doc", "ops", "expected"), [c[1:] for c in RFC6902_OK], ids=[c[0] for c in RFC6902_OK])
def test_rfc6902_examples(doc, ops, expected):
    before = copy.deepcopy(doc)
    assert apply_json_patch(doc, ops) == expected
    assert doc == before  # the input is never changed


RFC6902_ERRORS = [
    ("A.9 test failure", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}]),
    ("A.12 add to nonexistent target", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),
    ("A.15 string is not number", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}]),
    ("remove missing", {"a": 1}, [{"op": "remove", "path": "/b"}]),
    ("replace missing", {"a": 1}, [{"op": "replace", "path": "/b", "value": 1}]),
    ("index out of bounds", {"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}]),
    ("leading zero index", {"a": [1, 2]}, [{"op": "remove", "path": "/a/01"}]),
    ("dash only for add", {"a": [1]}, [{"op": "remove", "path": "/a/-"}]),
    ("unknown op", {}, [{"op": "frobnicate", "path": "/a"}]),
    ("missing value", {}, [{"op": "add", "path": "/a"}]),
    ("missing path", {}, [{"op": "add", "value": 1}]),
    ("missing from", {"a": 1}, [{"op": "move", "path": "/b"}]),
    ("pointer without slash", {"a": 1}, [{"op": "remove", "path": "a"}]),
    ("bad escape", {"a": 1}, [{"op": "remove", "path": "/~2"}]),
    ("move into own child", {"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}]),
    ("not a list", {}, {"op": "add", "path": "/a", "value": 1}),
    ("op not an object", {}, ["add"]),
    ("true is not 1", {"a": True}, [{"op": "test", "path": "/a", "value": 1}]),
]


@pytest.mark.parametrize(("doc", "ops"), [c[1:] for c in RFC6902_ERRORS], ids=[c[0] for c in RFC6902_ERRORS])
def test_rfc6902_errors(doc, ops):
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError):
        apply_json_patch(doc, ops)
    assert doc == before


def test_all_or_nothing_leaves_input_alone():
    doc = {"a": {"b": [1, 2]}}
    ops = [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "test", "path": "/a/b/0", "value": 9}]
    with pytest.raises(PatchError, match="/a/b/0"):
        apply_json_patch(doc, ops)
    assert doc == {"a": {"b": [1, 2]}}


def test_copy_then_change_one_copy_leaves_the_other():
    out = apply_json_patch(
        {"a": {"b": [1]}},
        [{"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/b/-", "value": 2}],
    )
    assert out == {"a": {"b": [1]}, "c": {"b": [1, 2]}}


def test_result_does_not_alias_patch_values():
    value = {"x": [1]}
    out = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    out["v"]["x"].append(2)
    assert value == {"x": [1]}


def test_untouched_subtrees_are_shared_not_copied():
    doc = {"metadata": {"name": "web"}, "spec": {"replicas": 1}}
    out = apply_json_patch(doc, [{"op": "replace", "path": "/spec/replicas", "value": 3}])
    assert out["metadata"] is doc["metadata"]
    assert doc["spec"]["replicas"] == 1


def test_rollout_undo_shape():
    """kubectl rollout undo replaces the template and the annotations in one JSON patch."""
    deployment = {
        "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}},
    }
    old_template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
    ops = [
        {"op": "replace", "path": "/spec/template", "value": old_template},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}},
    ]
    out = apply_json_patch(deployment, ops)
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"


def test_rfc6901_pointers():
    doc = {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, 'k"l': 6, " ": 7, "m~n": 8}
    cases = {"": doc, "/foo": ["bar", "baz"], "/foo/0": "bar", "/": 0, "/a~1b": 1, "/c%d": 2, "/e^f": 3, "/g|h": 4, "/i\\j": 5, '/k"l': 6, "/ ": 7, "/m~0n": 8}
    for pointer, expected in cases.items():
        assert apply_json_patch(doc, [{"op": "test", "path": pointer, "value": expected}]) is doc
    assert parse_pointer("/~01") == ["~1"]


def test_json_equal():
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([False], [0])
    assert not json_equal(None, {})
