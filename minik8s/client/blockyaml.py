"""Kubeconfig files read without PyYAML when they are plain block-style YAML (issue #18).

Every ``mkctl`` command reads a kubeconfig, and importing PyYAML costs ~13 ms (its reader
compiles a large Unicode regex at import), a seventh of a warm ``mkctl get``. The kubeconfigs
kubectl, kubeadm, k3s and ``minik8s up`` write use a small part of YAML: block mappings and
sequences, plain or quoted strings, booleans, ``{}``/``[]``, comments. :func:`load` reads
exactly that part and returns what ``yaml.safe_load`` returns for it; for anything else
(numbers, timestamps, flow collections, multi-line or escaped scalars, anchors, tags, several
documents, tabs) it returns ``None`` and the caller asks PyYAML, so no file is read wrong.
"""

from __future__ import annotations

from typing import Any

# YAML 1.1's implicit booleans and nulls, as PyYAML's resolver reads plain scalars.
_BOOLS = {"yes": True, "Yes": True, "YES": True, "no": False, "No": False, "NO": False,
          "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
          "on": True, "On": True, "ON": True, "off": False, "Off": False, "OFF": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
# A plain scalar starting with one of these may be a number, a timestamp, a merge key ("<<"),
# a value key ("=") or an indicator PyYAML reads otherwise: not ours to decide.
_NOT_PLAIN_START = set("0123456789+-.<=&*!|>%@`'\"{}[],?:#")


class _Outside(Exception):
    """Raised when the text leaves the subset read here."""


def load(text: str) -> Any:
    """The document, or None when it is not in the subset (then ``yaml.safe_load`` decides)."""
    try:
        lines = _lines(text)
        if not lines:
            return None
        value, end = _block(lines, 0, lines[0][0])
        if end != len(lines):
            raise _Outside
        return value
    except _Outside:
        return None


def _lines(text: str) -> list[tuple[int, str]]:
    """(indent, content) of every line that is not blank or a comment."""
    out: list[tuple[int, str]] = []
    for _number, raw in enumerate(text.split("\n")):
        line = raw.rstrip("\r")
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped[0] == "\t" or "\t" in line[: len(line) - len(stripped)]:
            raise _Outside
        if stripped.rstrip() == "---" and not out and len(stripped) == len(line):
            continue  # one leading document marker
        if stripped.startswith(("---", "...", "%")) and len(stripped) == len(line):
            raise _Outside  # more documents, directives
        out.append((len(line) - len(stripped), stripped.rstrip(" ")))
    return out


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    content = lines[i][1]
    if content == "-" or content.startswith("- "):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
        rest = lines[i][1][1:].lstrip(" ")
        if not rest:  # the item is the block below
            if i + 1 < len(lines) and lines[i + 1][0] > indent:
                value, i = _block(lines, i + 1, lines[i + 1][0])
            else:
                value, i = None, i + 1
        elif rest.startswith("- ") or rest == "-":
            raise _Outside  # a sequence directly inside a sequence item
        elif _is_entry(rest):
            # "- key: value": a mapping whose first entry sits on the dash's line
            item_indent = indent + len(lines[i][1]) - len(rest)
            lines[i] = (item_indent, rest)
            value, i = _mapping(lines, i, item_indent)
        else:
            value = _scalar(rest)
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                raise _Outside  # a multi-line scalar
        out.append(value)
    if i < len(lines) and lines[i][0] > indent:
        raise _Outside
    return out, i


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        content = lines[i][1]
        if content == "-" or content.startswith("- ") or not _is_entry(content):
            raise _Outside
        key, rest = _split_entry(content)
        i += 1
        if rest:
            out[key] = _scalar(rest)
            if i < len(lines) and lines[i][0] > indent:
                raise _Outside  # a multi-line scalar
            continue
        if i < len(lines) and lines[i][0] > indent:
            out[key], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            out[key], i = _sequence(lines, i, indent)  # "key:" then "- item" at the key's indent
        else:
            out[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise _Outside
    return out, i


def _is_entry(content: str) -> bool:
    if content[0] in "'\"":
        quote = content[0]
        end = content.find(quote, 1)
        return end > 0 and content[end + 1:end + 2] == ":"
    return content.endswith(":") or ": " in content


def _split_entry(content: str) -> tuple[str, str]:
    if content[0] in "'\"":
        end = content.find(content[0], 1)
        key = _scalar(content[: end + 1])
        rest = content[end + 2:]
        if rest and rest[0] != " ":
            raise _Outside
    else:
        key, _, rest = content.partition(":")
        key = key.rstrip(" ")
        if not key or key[0] in _NOT_PLAIN_START or key in _BOOLS or key in _NULLS or " #" in key:
            raise _Outside  # a key PyYAML would not read as this string
    if not isinstance(key, str):
        raise _Outside
    rest = rest.strip(" ")
    return key, "" if rest.startswith("#") else rest


def _scalar(text: str) -> Any:
    """One scalar written on one line (a trailing comment dropped)."""
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    first = text[0]
    if first == "'":
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                raise _Outside  # continues on the next line
            if text[end + 1:end + 2] == "'":
                end += 2
                continue
            break
        tail = text[end + 1:].strip(" ")
        if tail and not tail.startswith("#"):
            raise _Outside
        return text[1:end].replace("''", "'")
    if first == '"':
        end = text.find('"', 1)
        if end < 0 or "\\" in text[:end]:
            raise _Outside  # escapes, or continues on the next line
        tail = text[end + 1:].strip(" ")
        if tail and not tail.startswith("#"):
            raise _Outside
        return text[1:end]
    value = text.split(" #", 1)[0].rstrip(" ")
    if first in _NOT_PLAIN_START or ": " in value or value.endswith(":"):
        raise _Outside
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    return value
