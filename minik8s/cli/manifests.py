"""Reading ``-f FILE|DIR|URL|-`` (and ``-R``) into objects, as kubectl's resource builder does.

Each document of each source becomes a :class:`Manifest` that remembers where it came from, so
every later error can name the file and the document. Documents are parsed as YAML 1.1 the way
``sigs.k8s.io/yaml`` does (timestamps stay strings, keys become strings), empty documents are
skipped, and ``kind: List`` documents are flattened into their items.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import Any

import yaml

from minik8s.cli.session import CliError

EXTENSIONS = (".json", ".yaml", ".yml")


@dataclasses.dataclass(slots=True)
class Manifest:
    """One object from a manifest: ``source`` is the path, URL or ``STDIN``; ``index`` counts
    documents from 0 within the source; ``documents`` is how many the source held."""

    obj: dict[str, Any]
    source: str
    index: int
    documents: int = 1

    @property
    def where(self) -> str:
        """``"f.yaml"`` or, for a document of several, ``"f.yaml" (document 2)``."""
        if self.documents > 1:
            return f'"{self.source}" (document {self.index + 1})'
        return f'"{self.source}"'

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name") or ""


class _Loader(yaml.SafeLoader):
    """YAML as ``sigs.k8s.io/yaml`` reads it: no timestamp type (dates stay strings)."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# go-yaml v2 reads a bare y/Y/n/N as a boolean too (YAML 1.1), so `app: y` fails as in kubectl.
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    value = loader.construct_scalar(node)
    return value.lower() in ("y", "yes", "true", "on")


_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def read(filenames: list[str], *, recursive: bool = False, stdin_text: str | None = None) -> list[Manifest]:
    """Every object of every ``-f`` source, in order. Blocking (files, URLs, stdin): call it
    from a thread when a loop runs."""
    out: list[Manifest] = []
    for name in filenames:
        for source, text in _sources(name, recursive=recursive, stdin_text=stdin_text):
            out.extend(parse(text, source))
    return out


def _sources(name: str, *, recursive: bool, stdin_text: str | None) -> list[tuple[str, str]]:
    if name == "-":
        return [("STDIN", stdin_text if stdin_text is not None else sys.stdin.read())]
    if name.startswith(("http://", "https://")):
        import urllib.error  # local: only a URL needs them (and http.client's ~15 ms import)
        import urllib.request

        try:
            with urllib.request.urlopen(name, timeout=30) as resp:
                return [(name, resp.read().decode("utf-8", "replace"))]
        except urllib.error.HTTPError as e:
            raise CliError(f'unable to read URL "{name}", server reported {e.code} {e.reason}, '
                           f"status code={e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise CliError(f'unable to read URL "{name}": {getattr(e, "reason", e)}') from None
    if not os.path.exists(name):
        raise CliError(f'the path "{name}" does not exist')
    if os.path.isdir(name):
        files = _walk(name, recursive=recursive)
        if not files:
            raise CliError(f"error reading [{name}]: recognized file extensions are [.json .yaml .yml]")
        return [(f, _read_file(f)) for f in files]
    return [(name, _read_file(name))]


def _walk(root: str, *, recursive: bool) -> list[str]:
    found: list[str] = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        if os.path.isdir(path):
            if recursive:
                found.extend(_walk(path, recursive=True))
        elif entry.endswith(EXTENSIONS):
            found.append(path)
    return found


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None


def parse(text: str, source: str) -> list[Manifest]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader)]
    except yaml.YAMLError as e:
        raise CliError(f"error parsing {source}: error converting YAML to JSON: yaml: {_yaml_problem(e)}") from None
    docs = [d for d in docs if d is not None]
    out: list[Manifest] = []
    for index, doc in enumerate(docs):
        where = f'"{source}" (document {index + 1})' if len(docs) > 1 else f'"{source}"'
        if not isinstance(doc, dict):
            raise CliError(f"error validating {where}: error validating data: the document is a "
                           f"{_type_name(doc)}, not an object; if you choose to ignore these errors, "
                           "turn validation off with --validate=false")
        doc = _stringify_keys(doc)
        for item in _flatten(doc, where):
            _validate(item, where)
            out.append(Manifest(item, source, index, len(docs)))
    return out


def _flatten(doc: dict[str, Any], where: str) -> list[dict[str, Any]]:
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and "items" in doc:
        items = doc.get("items") or []
        if not isinstance(items, list):
            raise CliError(f"error validating {where}: error validating data: field items: must be a list")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise CliError(f"error validating {where}: error validating data: items[{i}]: must be an object")
            out.extend(_flatten(item, f"{where} items[{i}]"))
        return out
    return [doc]


def _validate(obj: dict[str, Any], where: str) -> None:
    """The checks kubectl makes before anything reaches the server: apiVersion and kind set,
    metadata an object, name and namespace strings. Every problem names its field."""
    problems = []
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if value in (None, ""):
            problems.append(f"{field} not set")
        elif not isinstance(value, str):
            problems.append(f"{field}: expected string, got {_type_name(value)}")
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        problems.append(f"metadata: expected object, got {_type_name(meta)}")
    elif isinstance(meta, dict):
        for field in ("name", "namespace", "generateName"):
            if field in meta and meta[field] is not None and not isinstance(meta[field], str):
                problems.append(f"metadata.{field}: expected string, got {_type_name(meta[field])}")
        for field in ("labels", "annotations"):
            value = meta.get(field)
            if value is not None and not isinstance(value, dict):
                problems.append(f"metadata.{field}: expected object, got {_type_name(value)}")
            elif isinstance(value, dict):
                for k, v in value.items():
                    if not isinstance(v, str):
                        problems.append(f"metadata.{field}.{k}: expected string, got {_type_name(v)}")
    if problems:
        text = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        raise CliError(f"error validating {where}: error validating data: {text}; if you choose to ignore "
                       "these errors, turn validation off with --validate=false")


def _stringify_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else _scalar_text(k)): _stringify_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_stringify_keys(x) for x in v]
    return v


def _scalar_text(k: Any) -> str:
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return str(k)


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _yaml_problem(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    if mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return problem
