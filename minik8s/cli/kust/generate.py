"""configMapGenerator and secretGenerator, as kustomize runs them.

Data comes from ``literals`` (``KEY=VALUE``, one pair of surrounding quotes dropped), ``files``
(``PATH`` keyed by its base name, or ``KEY=PATH``; content that is not UTF-8 goes to a
ConfigMap's ``binaryData``) and ``envs`` (``KEY=VALUE`` lines; blank and ``#`` lines skipped).
``generatorOptions`` (and each generator's ``options``) add labels and annotations, set
``immutable`` and may turn the name suffix off. The suffix is kustomize's content hash
(:func:`content_hash`): sha256 of the JSON of kind, data (and binaryData / type) and a name that
kustomize always reads as empty, its first ten hex digits with 0,1,3,a,e swapped for g,h,k,m,t.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from minik8s.cli.printers import go_html_escape
from minik8s.cli.session import CliError

_GENERATOR_FIELDS = {"name", "namespace", "behavior", "literals", "files", "envs", "env", "options", "type"}
_OPTION_FIELDS = {"labels", "annotations", "disableNameSuffixHash", "immutable"}


def _go_json(value: Any) -> str:
    return go_html_escape(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def content_hash(obj: dict[str, Any]) -> str:
    """kustomize's ``HashRNode`` for a ConfigMap or Secret."""
    kind = obj.get("kind")
    if kind == "ConfigMap":
        m: dict[str, Any] = {"kind": "ConfigMap", "name": "", "data": obj.get("data") or ""}
        if isinstance(obj.get("binaryData"), dict):
            m["binaryData"] = obj["binaryData"]
    else:
        m = {"kind": "Secret", "type": obj.get("type") or "", "name": "", "data": obj.get("data") or ""}
        if isinstance(obj.get("stringData"), dict):
            m["stringData"] = obj["stringData"]
    digest = hashlib.sha256(_go_json(m).encode()).hexdigest()[:10]
    table: dict[str, str | int | None] = {"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}
    return digest.translate(str.maketrans(table))


def _literal(text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise CliError(f"invalid literal source {text}, expected key=value")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key, value


def _read(root: str, path: str) -> bytes:
    full = os.path.normpath(os.path.join(root, path))
    try:
        with open(full, "rb") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"kustomize: cannot read {path!r} in {root}: {e.strerror}") from None


def _env_pairs(root: str, path: str) -> list[tuple[str, str]]:
    out = []
    for line in _read(root, path).decode("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        out.append((key, value if eq else os.environ.get(key, "")))
    return out


def generate(kind: str, spec: dict[str, Any], root: str, options: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The object one generator entry makes, and whether its name takes the hash suffix."""
    unknown = set(spec) - _GENERATOR_FIELDS
    if unknown:
        raise CliError(f"kustomize: field {sorted(unknown)[0]!r} of a {kind} generator is not supported")
    name = spec.get("name")
    if not name:
        raise CliError(f"kustomize: a {kind} generator needs a name")
    opts = {**(options or {}), **(spec.get("options") or {})}
    for key in ("labels", "annotations"):
        opts[key] = {**((options or {}).get(key) or {}), **((spec.get("options") or {}).get(key) or {})}
    unknown = set(opts) - _OPTION_FIELDS
    if unknown:
        raise CliError(f"kustomize: generator option {sorted(unknown)[0]!r} is not supported")
    text: dict[str, str] = {}
    binary: dict[str, bytes] = {}
    for lit in spec.get("literals") or []:
        k, v = _literal(str(lit))
        text[k] = v
    for f in spec.get("files") or []:
        key, eq, path = str(f).partition("=")
        if not eq:
            key, path = os.path.basename(str(f)), str(f)
        raw = _read(root, path)
        try:
            text[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = raw
    envs = list(spec.get("envs") or []) + ([spec["env"]] if spec.get("env") else [])
    for path in envs:
        for k, v in _env_pairs(root, path):
            text[k] = v
    meta: dict[str, Any] = {"name": name}
    if spec.get("namespace"):
        meta["namespace"] = spec["namespace"]
    if opts.get("labels"):
        meta["labels"] = dict(opts["labels"])
    if opts.get("annotations"):
        meta["annotations"] = dict(opts["annotations"])
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    if kind == "ConfigMap":
        if text:
            obj["data"] = text
        if binary:
            obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    else:
        obj["type"] = spec.get("type") or "Opaque"
        data = {k: base64.b64encode(v.encode()).decode() for k, v in text.items()}
        data.update({k: base64.b64encode(v).decode() for k, v in binary.items()})
        if data:
            obj["data"] = data
    if opts.get("immutable"):
        obj["immutable"] = True
    return obj, not opts.get("disableNameSuffixHash")
