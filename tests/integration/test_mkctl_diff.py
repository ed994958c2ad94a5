"""mkctl diff -f against the real kubectl diff on the same objects: the unified diff (temporary
directory names, file times and the server-made uid/creationTimestamp of would-be new objects
aside), exit statuses 0/1/2, Secret masking, --server-side, KUBECTL_EXTERNAL_DIFF."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.conftest import kubectl_args
from tests.integration.mkctl_harness import mk, ns  # noqa: F401 - fixtures

_TMP = re.compile(r"/tmp/[^ \t\n]*?(LIVE|MERGED)-[0-9A-Za-z_]+")
_TIME = re.compile(r"\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [+-]\d{4}")
_NEW = re.compile(r"^\+(  (uid|creationTimestamp): ).*$", re.M)


def _norm(text: str) -> str:
    return _NEW.sub(r"+\1X", _TIME.sub("", _TMP.sub(r"\1", text)))


def _docs(ns: str, *, replicas: int, image: str, data: str, secret: str) -> str:
    docs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns}, "data": {"k": data}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": ns},
         "stringData": {"pw": secret, "user": "admin"}},
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


@pytest.fixture
def applied(kubectl, ns: str, tmp_path):
    r = kubectl("apply", "-f", "-", input=_docs(ns, replicas=1, image="nginx:1.25", data="a", secret="one"))
    assert r.returncode == 0, r.stderr
    return ns


def _both(mk, kubectl, *args: str, input: str | None = None, env: dict | None = None):
    """Both on the same input; ``env``: ``kubectl`` is then ``(kubectl path, its flags)`` and runs
    here with that environment (the fixture's environment is fixed at its start)."""
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        if env:
            path, flags = kubectl
            k = subprocess.run([path, *flags, *args], input=input, capture_output=True, text=True, timeout=60,
                               env={**os.environ, "KUBECONFIG": "/nonexistent"})
        else:
            k = kubectl(*args, input=input)
        m = mk(*args, input=input)
    finally:
        for key, v in old.items():
            if v is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = v
    assert m.code == k.returncode, f"exit {m.code} vs kubectl {k.returncode}: {m.err!r} / {k.stderr!r}"
    assert _norm(m.out) == _norm(k.stdout)
    assert m.err.replace("mkctl", "kubectl") == k.stderr
    return m


def test_no_change_is_exit_0(mk, kubectl, applied: str) -> None:
    m = _both(mk, kubectl, "diff", "-f", "-", input=_docs(applied, replicas=1, image="nginx:1.25", data="a",
                                                               secret="one"))
    assert m.out == ""


def test_changes_new_objects_and_masked_secrets_match_kubectl(mk, kubectl, applied: str) -> None:
    docs = json.loads(_docs(applied, replicas=3, image="nginx:1.27", data="b", secret="two"))
    docs["items"].append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new", "namespace": applied},
                          "data": {"x": "1"}})
    m = _both(mk, kubectl, "diff", "-f", "-", input=json.dumps(docs))
    assert m.code == 1
    assert "-  replicas: 1\n+  replicas: 3" in m.out and "+  name: new" in m.out
    assert "pw: '*** (before)'" in m.out and "two" not in m.out and "b25l" not in m.out
    assert "managedFields" not in m.out
    # nothing was written
    assert json.loads(kubectl("get", "deploy", "web", "-n", applied, "-o", "json").stdout)["spec"]["replicas"] == 1
    assert kubectl("get", "cm", "new", "-n", applied).returncode == 1


def test_server_side_and_external_diff(mk, kubectl, kubectl_path, apiserver_process, applied: str,
                                       tmp_path) -> None:
    manifest = _docs(applied, replicas=2, image="nginx:1.25", data="a", secret="one")
    _both(mk, kubectl, "diff", "--server-side", "-f", "-", input=manifest)
    script = tmp_path / "ext.sh"
    script.write_text('#!/bin/sh\nls "$1" "$2" | sed "s#.*/##; s#-[0-9]*:#:#"\necho "flags: $3 $4 $5"\nexit $CODE\n')
    script.chmod(0o755)
    for code in ("0", "1", "3"):
        _both(mk, (kubectl_path, kubectl_args(apiserver_process, tmp_path / "cache")), "diff", "-f", "-",
              input=manifest, env={"KUBECTL_EXTERNAL_DIFF": f"{script} -x --foo=bar a;b", "CODE": code})


def test_errors_exit_2(mk, kubectl, applied: str) -> None:
    bad = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": applied},
                      "data": {"k": 1}})
    _both(mk, kubectl, "diff", "-f", "-", input=bad)
    _both(mk, kubectl, "diff")
    _both(mk, kubectl, "diff", "-f", "/nonexistent/x.yaml")


def test_diff_k_diffs_a_kustomization(mk, kubectl, applied: str, tmp_path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "kustomization.yaml").write_text(
        f"resources: [cm.yaml]\nnamespace: {applied}\nconfigMapGenerator: [{{name: gen, literals: [a=1]}}]\n")
    (tmp_path / "k" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {k: z}\n")
    m = _both(mk, kubectl, "diff", "-k", str(tmp_path / "k"))
    assert m.code == 1 and "+  k: z" in m.out and "gen-" in m.out
    _both(mk, kubectl, "diff", "-k", str(tmp_path / "k"), "-f", str(tmp_path / "k" / "cm.yaml"))
