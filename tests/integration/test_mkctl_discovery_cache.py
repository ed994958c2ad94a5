"""mkctl's discovery cache is kubectl's: the same files in the same directory and form (each tool
reads what the other wrote), a warm command makes its one request, a stale or incomplete
cache is fetched again (six hours; a name it does not know), and api-resources asks afresh."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minik8s.client import http1
from tests.conftest import ApiServer
from tests.integration.mkctl_harness import run_mkctl


class Requests:
    """The requests mkctl's connection sends while a test runs (method, path)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str]] = []
        real = http1.HTTPConnection.request

        def counting(conn: http1.HTTPConnection, method: str, target: str, *args: Any, **kwargs: Any) -> Any:
            self.seen.append((method, target.split("?", 1)[0]))
            return real(conn, method, target, *args, **kwargs)

        monkeypatch.setattr(http1.HTTPConnection, "request", counting)

    def take(self) -> list[tuple[str, str]]:
        out, self.seen = self.seen, []
        return out


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[Requests]:
    yield Requests(monkeypatch)


@pytest.fixture
def mkc(apiserver_process: ApiServer, tmp_path: Path) -> Any:
    """mkctl with its own --cache-dir (``tmp_path/mk``)."""
    def run(*args: str) -> Any:
        return run_mkctl("--cache-dir", str(tmp_path / "mk"), *args, kubeconfig=str(apiserver_process.kubeconfig))

    return run


def host_dir(root: Path, server: ApiServer) -> Path:
    return root / "discovery" / f"127.0.0.1_{server.port}"


def files(directory: Path) -> dict[str, Any]:
    return {str(p.relative_to(directory)): json.loads(p.read_text()) for p in sorted(directory.rglob("*.json"))}


def test_mkctl_writes_what_kubectl_writes(apiserver_process: ApiServer, kubectl_path: str, mkc: Any,
                                          tmp_path: Path) -> None:
    assert mkc("get", "nodes").code == 0
    proc = subprocess.run([kubectl_path, "--kubeconfig", str(apiserver_process.kubeconfig), "--cache-dir",
                           str(tmp_path / "kc"), "get", "nodes"], capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    ours, theirs = files(host_dir(tmp_path / "mk", apiserver_process)), files(host_dir(tmp_path / "kc",
                                                                                       apiserver_process))
    assert "servergroups.json" in ours and "v1/serverresources.json" in ours and "apps/v1/serverresources.json" in ours
    assert ours == theirs
    mode = (host_dir(tmp_path / "mk", apiserver_process) / "servergroups.json").stat().st_mode & 0o777
    assert mode == 0o660


def test_a_warm_get_makes_one_request(apiserver_process: ApiServer, mkc: Any, requests: Requests) -> None:
    assert mkc("get", "nodes").code == 0
    cold = requests.take()
    assert ("GET", "/api") in cold and ("GET", "/apis") in cold
    assert mkc("get", "pods", "-A").code == 0
    assert requests.take() == [("GET", "/api/v1/pods")]
    assert mkc("get", "deploy", "-n", "default").code == 0
    assert requests.take() == [("GET", "/apis/apps/v1/namespaces/default/deployments")]


def test_mkctl_uses_the_cache_kubectl_wrote(apiserver_process: ApiServer, kubectl_path: str, requests: Requests,
                                            tmp_path: Path) -> None:
    proc = subprocess.run([kubectl_path, "--kubeconfig", str(apiserver_process.kubeconfig), "--cache-dir",
                           str(tmp_path / "kc"), "get", "nodes"], capture_output=True, text=True,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    r = run_mkctl("--cache-dir", str(tmp_path / "kc"), "get", "services", "-A",
                  kubeconfig=str(apiserver_process.kubeconfig))
    assert r.code == 0, r.err
    assert requests.take() == [("GET", "/api/v1/services")]


def test_kubecachedir_is_the_default_root(apiserver_process: ApiServer, requests: Requests, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s.cli import main

    monkeypatch.setenv("KUBECONFIG", str(apiserver_process.kubeconfig))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "env"))
    assert main.run(["get", "nodes"]) == 0
    assert (host_dir(tmp_path / "env", apiserver_process) / "servergroups.json").exists()


def test_a_name_the_cache_lacks_is_fetched_again(apiserver_process: ApiServer, mkc: Any, requests: Requests,
                                                 tmp_path: Path) -> None:
    assert mkc("get", "nodes").code == 0
    core = host_dir(tmp_path / "mk", apiserver_process) / "v1" / "serverresources.json"
    doc = json.loads(core.read_text())
    doc["resources"] = [r for r in doc["resources"] if not r["name"].startswith("configmaps")]
    core.write_text(json.dumps(doc))  # as if configmaps were served only since the cache was written
    requests.take()
    r = mkc("get", "cm", "-n", "default")
    assert r.code == 0, r.err
    seen = requests.take()
    assert seen[0] != ("GET", "/api/v1/namespaces/default/configmaps"), "the cache was asked first"
    assert ("GET", "/api") in seen and seen[-1] == ("GET", "/api/v1/namespaces/default/configmaps")
    assert any(r["name"] == "configmaps" for r in json.loads(core.read_text())["resources"]), "cache rewritten"
    # a name no one serves is still an error, after one fetch
    r = mkc("get", "frobnitzes")
    assert r.code == 1 and 'the server doesn\'t have a resource type "frobnitzes"' in r.err


def test_a_cache_older_than_six_hours_is_fetched_again(apiserver_process: ApiServer, mkc: Any,
                                                       requests: Requests, tmp_path: Path) -> None:
    assert mkc("get", "nodes").code == 0
    requests.take()
    groups = host_dir(tmp_path / "mk", apiserver_process) / "servergroups.json"
    five_hours = time.time() - 5 * 3600
    os.utime(groups, (five_hours, five_hours))
    assert mkc("get", "nodes").code == 0
    assert requests.take() == [("GET", "/api/v1/nodes")]
    seven_hours = time.time() - 7 * 3600
    os.utime(groups, (seven_hours, seven_hours))
    assert mkc("get", "nodes").code == 0
    seen = requests.take()
    assert ("GET", "/api") in seen and ("GET", "/apis") in seen
    assert time.time() - groups.stat().st_mtime < 60, "rewritten"


def test_api_resources_asks_the_server_unless_cached(apiserver_process: ApiServer, mkc: Any,
                                                     requests: Requests) -> None:
    assert mkc("get", "nodes").code == 0
    requests.take()
    fresh = mkc("api-resources")
    assert fresh.code == 0 and ("GET", "/apis") in requests.take()
    cached = mkc("api-resources", "--cached")
    assert cached.code == 0 and requests.take() == []
    assert cached.out == fresh.out
