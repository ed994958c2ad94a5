"""The kubeconfig reader that skips PyYAML reads what ``yaml.safe_load`` reads, or declines:
files written by minik8s and by the real kubectl, hand-written variants, and every construct
outside its subset handed back to PyYAML."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from minik8s.client import blockyaml, kubeconfig

KUBECTL_STYLE = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=
    server: https://127.0.0.1:6443
    tls-server-name: kubernetes
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    namespace: team-a
    user: kind-kind
  name: kind-kind
current-context: kind-kind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==
"""

HAND_WRITTEN = """# my clusters
---
apiVersion: v1
kind: Config
clusters:
  - name: 'dev cluster'   # quoted name with a space
    cluster:
      server: "https://10.0.0.1:6443"
      insecure-skip-tls-verify: true
  - name: prod
    cluster:
      server: https://prod.example:443#not-a-comment
      certificate-authority: ~/.kube/prod-ca.crt
users:
  - name: admin
    user:
      token: abc.def-ghi
      as: jane
      as-groups:
      - dev
      - 'ops'
      as-user-extra:
        reason: []
  - name: empty
    user: {}
contexts:
- name: dev
  context: {cluster: 'dev cluster', user: admin}
current-context: dev
preferences:
extensions: null
flag: off
other: 'it''s'
"""


def test_kubectl_style_file_is_read_as_pyyaml_reads_it() -> None:
    assert blockyaml.load(KUBECTL_STYLE) == yaml.safe_load(KUBECTL_STYLE)


def test_hand_written_variants() -> None:
    # flow mappings are outside the subset: the whole file goes to PyYAML
    assert blockyaml.load(HAND_WRITTEN) is None
    text = HAND_WRITTEN.replace("  context: {cluster: 'dev cluster', user: admin}",
                                "  context:\n    cluster: 'dev cluster'\n    user: admin")
    got = blockyaml.load(text)
    assert got == yaml.safe_load(text)
    assert got["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True
    assert got["flag"] is False and got["preferences"] is None and got["other"] == "it's"
    assert got["clusters"][1]["cluster"]["server"] == "https://prod.example:443#not-a-comment"
    assert got["users"][0]["user"]["as-groups"] == ["dev", "ops"]


@pytest.mark.parametrize("text", [
    "a: 1\n",                      # a number
    "a: 0x1F\n", "a: .inf\n", "a: -1\n", "a: 2001-12-14\n",
    "a: [x]\n", "a: {b: c}\n",     # flow collections
    "a: |\n  text\n",              # block scalars
    "a: >\n  text\n",
    "a: &x b\nc: *x\n",            # anchors and aliases
    "a: !!str b\n",                # tags
    'a: "esc\\n"\n',               # escapes
    "a: 'open\n  close'\n",        # a quoted scalar over two lines
    "a: plain\n  continued\n",     # a plain scalar over two lines
    "a: b\n---\nc: d\n",           # two documents
    "a:\n\tb: c\n",                # tabs
    "true: x\n", "1: x\n",         # keys that are not strings
    "- - a\n",                     # nested sequences on one line
    "a:\n  b: c\n d: e\n",         # inconsistent indentation
    "just text\n", "",
])
def test_outside_the_subset_pyyaml_decides(text: str) -> None:
    assert blockyaml.load(text) is None


def test_minik8s_written_kubeconfigs(tmp_path: Path) -> None:
    path = tmp_path / "config"
    kubeconfig.write(str(path), "https://127.0.0.1:6443", context="a", namespace="ns-a",
                     ca_data=b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                     client_cert_data=b"cert", client_key_data=b"key")
    kubeconfig.write(str(path), "http://127.0.0.1:8080", context="b", token="t0k.en", insecure_skip_tls_verify=True,
                     set_current=False)
    text = path.read_text()
    assert blockyaml.load(text) == yaml.safe_load(text) is not None
    access = kubeconfig.load(str(path)).resolve("b")
    assert access.token == "t0k.en" and access.insecure_skip_tls_verify is True


def test_kubectl_written_kubeconfig(kubectl_path: str, tmp_path: Path) -> None:
    kubectl = kubectl_path
    path = tmp_path / "config"
    env = {**os.environ, "KUBECONFIG": str(path), "HOME": str(tmp_path)}
    for args in (["config", "set-cluster", "c1", "--server=https://127.0.0.1:6443", "--insecure-skip-tls-verify=true",
                  "--tls-server-name=kubernetes"],
                 ["config", "set-credentials", "u1", "--token=abc"],
                 ["config", "set-credentials", "u2", "--username=x", "--password=p w: #1"],
                 ["config", "set-credentials", "u3", "--as=jane", "--as-group=dev", "--as-group=ops"],
                 ["config", "set-context", "ctx", "--cluster=c1", "--user=u1", "--namespace=n1"],
                 ["config", "use-context", "ctx"]):
        subprocess.run([kubectl, *args], env=env, check=True, capture_output=True)
    text = path.read_text()
    assert blockyaml.load(text) == yaml.safe_load(text) is not None
