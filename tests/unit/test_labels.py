"""Label selector parsing, matching, validation and LabelSelector JSON conversion."""

from __future__ import annotations

import pytest

from minik8s import labels


@pytest.mark.parametrize(
    ("text", "lbls", "want"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a==b", {"a": "b"}, True),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {}, True),  # a missing label is never equal to anything
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a notin (x)", {"a": "y"}, True),
        ("a notin (x)", {}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("a", {"b": "1"}, False),
        ("!a", {"b": "1"}, True),
        ("!a", {"a": "1"}, False),
        ("a=b,c=d", {"a": "b", "c": "d"}, True),
        ("a=b,c=d", {"a": "b"}, False),
        ("a=b, c in (d, e) , !f", {"a": "b", "c": "e"}, True),
        ("a=", {"a": ""}, True),
        ("a=", {"a": "x"}, False),
        ("n>3", {"n": "4"}, True),
        ("n>3", {"n": "3"}, False),
        ("n<3", {"n": "2"}, True),
        ("n>3", {"n": "x"}, False),
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_parse_and_match(text, lbls, want):
    assert labels.parse(text).matches(lbls) is want


def test_matches_none_labels():
    assert labels.parse("").matches(None)
    assert labels.parse("!a").matches(None)
    assert not labels.parse("a").matches(None)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("b=2,a=1", "a=1,b=2"),  # sorted by key, as Kubernetes prints them
        ("x in (b, a)", "x in (a,b)"),
        ("!a,b", "!a,b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a notin (x)", "a notin (x)"),
        ("n>3", "n>3"),
    ],
)
def test_string_form_round_trips(text, canonical):
    sel = labels.parse(text)
    assert str(sel) == canonical
    assert labels.parse(str(sel)) == sel


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a=b,", "found 'end of string', expected: identifier"),
        ("a b", "found 'b'"),
        ("a in x", "expected: '('"),
        ("a in ()", "values set can't be empty"),
        ("a in (x", "found 'end of string'"),
        ("!", "identifier after '!'"),
        ("-a=b", 'key: Invalid value: "-a": name part must consist of alphanumeric characters'),
        ("a/b/c=d", "a qualified name must consist of"),
        ("Example.com/a=b", "prefix part a lowercase RFC 1123 subdomain"),
        ("a=-b", 'values[0]: Invalid value: "-b": a valid label must be an empty string'),
        ("a=" + "x" * 64, "must be no more than 63 characters"),
        ("n>x", "the value must be an integer"),
        ("a=b c", "expected: ',' or 'end of string'"),
    ],
)
def test_parse_errors_are_value_errors_with_kubernetes_wording(text, fragment):
    with pytest.raises(ValueError) as exc:
        labels.parse(text)
    assert fragment in str(exc.value)


def test_empty_and_null_label_selectors():
    assert labels.from_label_selector({}).matches({"x": "y"})
    assert labels.from_label_selector({}).is_empty()
    assert not labels.from_label_selector(None).matches({})
    assert not labels.from_label_selector(None).matches({"x": "y"})
    assert not labels.from_label_selector(None).is_empty()


def test_from_label_selector_ands_labels_and_expressions():
    sel = labels.from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    })
    good = {"app": "web", "tier": "fe", "env": "prod", "team": "a"}
    assert sel.matches(good)
    assert not sel.matches({**good, "legacy": "1"})
    assert not sel.matches({**good, "env": "dev"})
    assert not sel.matches({**good, "tier": "x"})
    assert not sel.matches({k: v for k, v in good.items() if k != "team"})
    assert str(sel) == "app=web,env notin (dev),!legacy,team,tier in (be,fe)"


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ({"key": "a", "operator": "Bogus"}, '"Bogus" is not a valid label selector operator'),
        ({"key": "a", "operator": "In", "values": []}, "values set can't be empty"),
        ({"key": "a", "operator": "Exists", "values": ["x"]}, "values set must be empty"),
    ],
)
def test_from_label_selector_validation(expr, fragment):
    with pytest.raises(ValueError) as exc:
        labels.from_label_selector({"matchExpressions": [expr]})
    assert fragment in str(exc.value)


def test_from_set_and_exact_match():
    sel = labels.from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert sel.requires_exact_match("a") == "1"
    assert labels.parse("a in (x,y)").requires_exact_match("a") is None
    assert labels.from_set({}).is_empty()


# -- printing: one home for FormatLabels / FormatLabelSelector (apiserver Tables, mkctl describe,
# mkctl's label queries all use these), checked against what Kubernetes prints.


def test_format_labels_sorts_by_key_and_says_none_when_empty() -> None:
    assert labels.format_labels({"tier": "fe", "app": "web"}) == "app=web,tier=fe"
    assert labels.format_labels({}) == labels.format_labels(None) == "<none>"


@pytest.mark.parametrize(("selector", "text"), [
    # requirements sorted by key whatever their kind, values of a set sorted (kubectl's output)
    ({"matchLabels": {"tier": "fe"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
     "app in (api,web),tier=fe"),
    ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]},
                           {"key": "canary", "operator": "DoesNotExist"}, {"key": "app", "operator": "Exists"}]},
     "app,!canary,env notin (prod)"),
    ({"matchLabels": {"app": "web"}}, "app=web"),
])
def test_label_selector_string_is_kubernetes_selector_string(selector, text) -> None:
    assert labels.label_selector_string(selector) == text
    assert labels.format_label_selector(selector) == text


def test_format_label_selector_empty_and_unconvertible() -> None:
    assert labels.label_selector_string(None) == labels.label_selector_string({}) == ""
    assert labels.format_label_selector(None) == labels.format_label_selector({}) == "<none>"
    bad = {"matchExpressions": [{"key": "app", "operator": "Sometimes", "values": ["x"]}]}
    assert labels.label_selector_string(bad) is None
    assert labels.format_label_selector(bad) == "<error>"
