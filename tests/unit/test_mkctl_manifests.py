"""Reading manifests (``-f FILE|DIR|-``, ``-R``): multi-document YAML, Lists, and errors that
name the file, the document and the field."""

from __future__ import annotations

import pytest

from minik8s.cli import manifests
from minik8s.cli.session import CliError

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"


def test_multi_document_and_empty_documents(tmp_path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text("---\n" + POD.format(name="a") + "---\n# nothing\n---\n" + POD.format(name="b"))
    got = manifests.read([str(f)])
    assert [(m.name, m.index, m.documents) for m in got] == [("a", 0, 2), ("b", 1, 2)]
    assert got[1].where == f'"{f}" (document 2)'


def test_lists_are_flattened_and_timestamps_stay_strings(tmp_path) -> None:
    f = tmp_path / "list.yaml"
    f.write_text("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n"
                 "  data: {when: 2024-01-01, at: 2024-01-01T10:00:00Z, num: '1'}\n")
    (m,) = manifests.read([str(f)])
    assert m.obj["data"] == {"when": "2024-01-01", "at": "2024-01-01T10:00:00Z", "num": "1"}


def test_directory_with_and_without_recursion(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}')
    assert [m.name for m in manifests.read([str(tmp_path)])] == ["a"]
    assert [m.name for m in manifests.read([str(tmp_path)], recursive=True)] == ["a", "b"]


def test_yaml_1_1_booleans_as_go_yaml_reads_them(tmp_path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {n: "1", y: "4"}\n')
    # kubectl's decoder makes these keys booleans, then strings again: "false" and "true"
    assert manifests.read([str(f)])[0].obj["data"] == {"false": "1", "true": "4"}


def test_stdin() -> None:
    assert manifests.read(["-"], stdin_text=POD.format(name="s"))[0].source == "STDIN"


@pytest.mark.parametrize(("text", "message"), [
    ("kind: Pod\nmetadata: {name: a}\n",
     'error validating "{f}": error validating data: apiVersion not set; if you choose to ignore these errors, '
     "turn validation off with --validate=false"),
    ("metadata: {name: a}\n", 'error validating "{f}": error validating data: [apiVersion not set, kind not set]'),
    (POD.format(name="a") + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  labels: {k: 1}\n",
     'error validating "{f}" (document 2): error validating data: metadata.labels.k: expected string, got number'),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: y}}\n",
     'error validating "{f}": error validating data: metadata.labels.app: expected string, got boolean'),
    ("apiVersion: v1\nkind: Pod\nmetadata: [1]\n",
     'error validating "{f}": error validating data: metadata: expected object, got array'),
    ("a: b: c\n", "error parsing {f}: error converting YAML to JSON: yaml: line 1: mapping values are not allowed"),
    ("- 1\n- 2\n", 'error validating "{f}": error validating data: the document is a array, not an object'),
])
def test_errors_name_file_document_and_field(tmp_path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(CliError) as e:
        manifests.read([str(f)])
    assert e.value.message.startswith(message.format(f=f))


def test_missing_path_and_empty_directory(tmp_path) -> None:
    with pytest.raises(CliError, match='the path "nope.yaml" does not exist'):
        manifests.read(["nope.yaml"])
    with pytest.raises(CliError, match=r"recognized file extensions are \[.json .yaml .yml\]"):
        manifests.read([str(tmp_path)])
