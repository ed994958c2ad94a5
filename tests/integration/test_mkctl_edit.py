"""mkctl edit against the real kubectl edit: the same scripted editor changes twin objects; every
file the editor is given (header, error comments, the object), the printed lines, exit status
and the saved objects must match."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, kubectl_args
from tests.integration.mkctl_harness import mkctl_command, ns  # noqa: F401 - fixtures

# The editor: keeps a copy of each file it is given, then runs the sed script of that round.
EDITOR = """#!/bin/sh
n=$(ls "$ROUNDS" | wc -l)
cp "$1" "$ROUNDS/round-$n"
eval "script=\\$SED$n"
if [ "$script" = EMPTY ]; then : > "$1"; elif [ -n "$script" ]; then sed -i "$script" "$1"; fi
if [ -n "$CONCURRENT" ] && [ "$n" = 0 ]; then $CONCURRENT; fi
"""

_VOLATILE = re.compile(r"(resourceVersion|uid|creationTimestamp|generation)(\"?): .*")


def _norm(text: str, name: str) -> str:
    text = _VOLATILE.sub(r"\1\2: X", text).replace(name, "NAME")
    text = re.sub(r'stored to "[^"]*"', 'stored to "FILE"', text)
    # the YAML parser's own words differ (Go's yaml vs PyYAML): keep what precedes them
    return re.sub(r'(The edited file failed validation": ).*', r"\1...", text)


@pytest.fixture
def edit_run(apiserver_process, kubectl_path, tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text(EDITOR)
    editor.chmod(0o755)
    k_cmd = [kubectl_path, *kubectl_args(apiserver_process, tmp_path / "cache")]

    def run(who: str, args: list[str], seds: list[str], concurrent: str = "") -> tuple[int, str, str, list[str]]:
        rounds = tmp_path / f"rounds-{who}-{len(list(tmp_path.iterdir()))}"
        rounds.mkdir()
        env = {**os.environ, "KUBECONFIG": "/nonexistent", "HOME": str(tmp_path), "KUBE_EDITOR": str(editor),
               "ROUNDS": str(rounds), "CONCURRENT": concurrent, **{f"SED{i}": s for i, s in enumerate(seds)}}
        env.pop("EDITOR", None)
        cmd = k_cmd if who == "kubectl" else mkctl_command(apiserver_process)
        p = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
        files = [(rounds / f"round-{i}").read_text() for i in range(len(list(rounds.iterdir())))]
        return p.returncode, p.stdout, p.stderr, files

    return run


def _same(edit_run, kubectl, ns: str, kind: str, seds: list[str], *extra: str, make: list[str],
          concurrent: str = "") -> tuple[dict, dict, str]:
    """Create twin objects (``make`` with NAME), edit each with the same script; compare."""
    results, objects = {}, {}
    for who in ("kubectl", "mkctl"):
        name = f"{who[0]}-{kind.split('.')[0]}"
        r = kubectl(*[a.replace("NAME", name) for a in make], "-n", ns)
        assert r.returncode == 0, r.stderr
        conc = concurrent.replace("NAME", name)
        code, out, err, files = edit_run(who, ["edit", kind, name, "-n", ns, *extra], seds, conc)
        results[who] = (code, _norm(out, name), _norm(err.replace("mkctl", "kubectl"), name),
                        [_norm(f, name) for f in files])
        objects[who] = json.loads(kubectl("get", kind, name, "-n", ns, "-o", "json").stdout)
    assert results["mkctl"] == results["kubectl"]
    return objects["kubectl"], objects["mkctl"], results["mkctl"][1]


CM = ["create", "configmap", "NAME", "--from-literal=a=1", "--from-literal=b=2"]


def test_edit_saves_a_change(edit_run, kubectl, ns: str) -> None:
    k, m, out = _same(edit_run, kubectl, ns, "configmap", ['s/a: "1"/a: "9"/; /b: "2"/d'], make=CM)
    assert out == "configmap/NAME edited\n"
    assert k["data"] == m["data"] == {"a": "9"}


@pytest.mark.parametrize("seds", [
    [""],                                                     # no change
    ["EMPTY"],                                                # empty file
    ['s/a: "1"/a: 5/', 's/a: 5/a: "7"/'],                     # invalid, then fixed
    ['s/a: "1"/a: 5/', ""],                                   # invalid, then saved unchanged: give up
    ['s/^data:/data: [/', 's/^data: \\[/data:/'],             # not YAML, then back as it was
    ['s/^  name: .*/  name: other/', ""],                     # the name changed
])
def test_edit_cancel_and_error_paths(edit_run, kubectl, ns: str, seds: list[str]) -> None:
    _same(edit_run, kubectl, ns, "configmap", seds, make=CM)


def test_edit_json_and_strategic_patch_of_a_deployment(edit_run, kubectl, ns: str) -> None:
    make = ["create", "deployment", "NAME", "--image=nginx:1.25"]
    k, m, out = _same(edit_run, kubectl, ns, "deployment", ['s/"nginx:1.25"/"nginx:1.27"/'], "-o", "json",
                      make=make)
    assert out.startswith("{") and '"kind": "Deployment"' in out  # -o json prints the saved object too
    assert m["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_a_concurrent_change_to_another_field_is_kept(edit_run, kubectl, ns: str, kubectl_path,
                                                      apiserver_process, tmp_path) -> None:
    """kubectl edit saves a two-way patch: what another client changed meanwhile stays."""
    other = " ".join([sys.executable, "-m", "minik8s.cli.main", "--kubeconfig", str(apiserver_process.kubeconfig),
                      "patch", "configmap", "NAME", "-n", ns, "--type", "merge", "-p", '{"data":{"c":"3"}}'])
    k, m, _ = _same(edit_run, kubectl, ns, "configmap", ['s/a: "1"/a: "9"/'], make=CM, concurrent=other)
    assert k["data"] == m["data"] == {"a": "9", "b": "2", "c": "3"}
