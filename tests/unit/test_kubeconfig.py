"""Kubeconfig reading, merging, resolving and writing."""

from __future__ import annotations

import base64
import os
import stat

import pytest
import yaml

from minik8s.client import kubeconfig


def test_write_then_load_resolves(tmp_path):
    path = tmp_path / "config"
    kubeconfig.write(str(path), "https://10.0.0.1:6443", context="mk", namespace="apps", token="t0k")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    access = kubeconfig.load(str(path)).resolve()
    assert (access.server, access.namespace, access.token, access.context) == ("https://10.0.0.1:6443", "apps", "t0k", "mk")


def test_write_merges_and_replaces_its_own_entries(tmp_path):
    path = tmp_path / "config"
    kubeconfig.write(str(path), "http://a:1", context="one")
    kubeconfig.write(str(path), "http://b:2", context="two")
    kubeconfig.write(str(path), "http://b:3", context="two")
    doc = yaml.safe_load(path.read_text())
    assert [c["name"] for c in doc["contexts"]] == ["one", "two"]
    assert doc["current-context"] == "two"
    cfg = kubeconfig.load(str(path))
    assert cfg.resolve().server == "http://b:3"
    assert cfg.resolve("one").server == "http://a:1"


def test_kubeconfig_env_list_merges_first_wins(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    kubeconfig.write(str(a), "http://from-a", context="shared")
    kubeconfig.write(str(b), "http://from-b", context="shared")
    kubeconfig.write(str(b), "http://only-b", context="bonly", set_current=False)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(tmp_path / "missing"), str(b)]))
    cfg = kubeconfig.load()
    assert cfg.resolve().server == "http://from-a"
    assert cfg.resolve("bonly").server == "http://only-b"


def test_home_default(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    kubeconfig.write(str(tmp_path / ".kube" / "config"), "http://home:1")
    assert kubeconfig.load().resolve().server == "http://home:1"


def test_relative_paths_and_inline_data(tmp_path):
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    doc = {
        "clusters": [{"name": "c", "cluster": {"server": "https://s", "certificate-authority": "ca.crt",
                                                "insecure-skip-tls-verify": False}}],
        "users": [{"name": "u", "user": {"client-certificate-data": base64.b64encode(pem).decode(),
                                          "client-key": "/abs/key.pem", "tokenFile": "tok"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    (tmp_path / "tok").write_text("from-file\n")
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    access = kubeconfig.load(str(tmp_path / "config")).resolve()
    assert access.ca_file == str(tmp_path / "ca.crt")
    assert access.key_file == "/abs/key.pem"
    assert access.cert_data == pem
    assert access.token == "from-file"
    assert access.namespace == "default"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"contexts": [], "clusters": []}, "no current-context"),
        ({"current-context": "gone"}, 'context "gone" does not exist'),
        ({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "nope"}}]},
         'cluster "nope" of context "x" does not exist'),
    ],
)
def test_errors_name_what_is_missing(tmp_path, doc, message):
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    with pytest.raises(kubeconfig.ConfigError, match=message):
        kubeconfig.load(str(tmp_path / "config")).resolve()


def test_named_missing_file_is_an_error(tmp_path):
    with pytest.raises(kubeconfig.ConfigError, match="does not exist"):
        kubeconfig.load(str(tmp_path / "nope"))
