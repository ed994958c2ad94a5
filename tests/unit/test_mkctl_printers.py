"""mkctl's client-side printing: Go's tabwriter layout, server Tables as kubectl lays them out,
go-yaml/Go-json look-alikes, JSONPath and custom-columns. Expected texts are kubectl's."""

from __future__ import annotations

import pytest

from minik8s.cli import jsonpath, printers, threeway
from minik8s.cli.session import CliError

TABLE = {
    "kind": "Table",
    "columnDefinitions": [
        {"name": "Name", "format": "name", "priority": 0}, {"name": "Ready", "format": "", "priority": 0},
        {"name": "Age", "format": "", "priority": 0}, {"name": "IP", "format": "", "priority": 1},
    ],
    "rows": [
        {"cells": ["web", "1/1", "5m", "10.0.0.1"],
         "object": {"metadata": {"name": "web", "namespace": "default", "labels": {"b": "2", "a": "1"}}}},
        {"cells": ["a-much-longer-name", "0/1", "2d", None],
         "object": {"metadata": {"name": "a-much-longer-name", "namespace": "kube-system"}}},
    ],
}


def test_tabwriter_pads_to_the_widest_cell_plus_three_with_minimum_six() -> None:
    assert printers.tabwriter(["A\tBB\tC", "xxxxxxx\ty\tz"]) == "A         BB    C\nxxxxxxx   y     z\n"


def test_tabwriter_aligns_only_consecutive_lines_that_share_a_column() -> None:
    # the untabbed middle line ends the block, as in Go's text/tabwriter
    assert printers.tabwriter(["a\tb", "plain", "longer-cell\tc"]) == "a     b\nplain\nlonger-cell   c\n"


def test_table_default_and_wide() -> None:
    out = printers.tabwriter(printers.table_lines(TABLE))
    assert out == ("NAME                 READY   AGE\n"
                   "web                  1/1     5m\n"
                   "a-much-longer-name   0/1     2d\n")
    wide = printers.tabwriter(printers.table_lines(TABLE, wide=True))
    assert wide.splitlines()[0].split() == ["NAME", "READY", "AGE", "IP"]
    assert wide.splitlines()[2].rstrip().endswith("2d")  # a null cell prints as nothing


def test_table_all_namespaces_labels_and_kind_prefix() -> None:
    lines = printers.table_lines(TABLE, with_namespace=True, show_labels=True, kind_prefix="pod")
    assert lines[0] == "NAMESPACE\tNAME\tREADY\tAGE\tLABELS"
    assert lines[1] == "default\tpod/web\t1/1\t5m\ta=1,b=2"
    assert lines[2] == "kube-system\tpod/a-much-longer-name\t0/1\t2d\t<none>"


def test_table_cells_cut_at_a_newline() -> None:
    table = {"columnDefinitions": [{"name": "Msg", "priority": 0}], "rows": [{"cells": ["one\ntwo"]}]}
    assert printers.table_lines(table, headers=False) == ["one..."]


@pytest.mark.parametrize(("value", "text"), [
    ("plain", "plain"), ("123", '"123"'), ("true", '"true"'), ("", '""'), ("null", '"null"'),
    ("2024-05-01T10:00:00Z", '"2024-05-01T10:00:00Z"'), ("a: b", "'a: b'"), ("line1\nline2\n", "|\n  line1\n  line2"),
])
def test_yaml_quotes_strings_as_go_yaml_does(value: str, text: str) -> None:
    assert printers.to_yaml({"k": value}).rstrip("\n") == f"k: {text}"


def test_yaml_block_lists_at_the_key_indent_and_sorted_keys() -> None:
    obj = {"spec": {"containers": [{"name": "a", "image": "x"}]}, "apiVersion": "v1", "e": {}, "f": 1.5, "g": 2.0}
    assert printers.to_yaml(obj) == ("apiVersion: v1\ne: {}\nf: 1.5\ng: 2\nspec:\n  containers:\n"
                                     "  - image: x\n    name: a\n")


def test_json_is_go_marshal_indent() -> None:
    assert printers.to_json({"b": "<&>", "a": [1, {}]}) == '{\n    "a": [\n        1,\n        {}\n    ],\n' \
                                                          '    "b": "\\u003c\\u0026\\u003e"\n}'


def test_last_applied_annotation_is_byte_identical_to_kubectls() -> None:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"containers": [{"name": "a", "image": "x", "env": [{"name": "V", "value": "<a&b>"}]}],
                    "n": 1.0}}
    modified = threeway.modified_configuration(obj)
    text = modified["metadata"]["annotations"][threeway.LAST_APPLIED]
    # kubectl: the annotations map set (so "annotations":{} is part of it), sorted, compact, HTML-escaped, "\n"
    assert text == ('{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"web","namespace":"default"},'
                    '"spec":{"containers":[{"env":[{"name":"V","value":"\\u003ca\\u0026b\\u003e"}],"image":"x",'
                    '"name":"a"}],"n":1}}\n')
    assert threeway.original_configuration(modified) == {**obj, "metadata": {**obj["metadata"], "annotations": {}},
                                                         "spec": {**obj["spec"], "n": 1}}


def test_name_output() -> None:
    assert printers.name_of({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"}}) == \
        "deployment.apps/w"
    assert printers.name_of({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"}}) == "pod/w"


LIST = {"kind": "List", "items": [
    {"metadata": {"name": "a", "labels": {"app": "x"}}, "status": {"conditions": [
        {"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "False"}]},
     "spec": {"containers": [{"image": "i1"}, {"image": "i2"}]}},
    {"metadata": {"name": "b"}, "spec": {"containers": [{"image": "i3"}]}},
]}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.items[*].metadata.name}", "a b"),
    ("{.items[0].spec.containers[*].image}", "i1 i2"),
    ("{.items[-1:].metadata.name}", "b"),
    ('{range .items[*]}{.metadata.name}{"\\n"}{end}', "a\nb\n"),
    ('{range.items[*]}[{.metadata.name}]{end}', "[a][b]"),
    ('{.items[0].status.conditions[?(@.type=="Ready")].status}', "True"),
    ("{.items[0].metadata.labels}", '{"app":"x"}'),
    ("{.items[1].metadata.labels}", ""),
    ("name={.items[0].metadata.name}", "name=a"),
    ("{..image}", "i1 i2 i3"),
    ("{.items[0].metadata['name']}", "a"),
])
def test_jsonpath(template: str, expected: str) -> None:
    assert printers.render_jsonpath(template, LIST) == expected


def test_jsonpath_errors() -> None:
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.parse("{end}")
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.parse("{.a")
    with pytest.raises(CliError, match="error parsing jsonpath"):
        printers.render_jsonpath("{range .items[*]}", LIST)


def test_custom_columns() -> None:
    out = printers.custom_columns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,APP:metadata.labels.app",
                                  LIST["items"])
    assert out == "NAME   IMAGES   APP\na      i1,i2    x\nb      i3       <none>\n"
    with pytest.raises(CliError, match="expected <header>:<json-path-expr>"):
        printers.custom_columns("NAME", LIST["items"])


def test_output_format_rejects_unknown() -> None:
    with pytest.raises(CliError, match='unable to match a printer suitable for the output format "xml"'):
        printers.OutputFormat("xml")
    with pytest.raises(CliError, match="no jsonpath template given"):
        printers.OutputFormat("jsonpath=")


def test_managed_fields_hidden_unless_asked() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "managedFields": [{"manager": "x"}]}}
    assert "managedFields" not in printers.OutputFormat("yaml").render([obj], single=True)
    assert "managedFields" in printers.OutputFormat("yaml").render([obj], single=True, show_managed_fields=True)
