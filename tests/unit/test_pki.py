"""The cluster PKI (minik8s.pki) and the credentials ``minik8s up`` issues from it."""

from __future__ import annotations

import os
import stat

from cryptography import x509

from minik8s import pki
from minik8s.client import kubeconfig
from minik8s.up import components, credentials
from minik8s.up.config import config_from_args
from minik8s.up.main import parser


def _load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_control_plane_files_are_made_once_and_private(tmp_path):
    first = pki.ensure_control_plane(tmp_path, extra_sans=["10.1.2.3", "api.example"])
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir() if f.is_file()}
    for f in tmp_path.iterdir():
        if f.is_file():
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f.name
    serving = _load(first.serving.cert_path)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", "api.example"} <= set(san.get_values_for_type(x509.DNSName))
    assert {"127.0.0.1", "10.96.0.1", "10.1.2.3"} <= {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    assert first.ca.signed(serving)
    assert pki.cert_subject(_load(first.admin.cert_path)) == ("kubernetes-admin", ["system:masters"])
    # Again: nothing changes.
    pki.ensure_control_plane(tmp_path, extra_sans=["10.1.2.3", "api.example"])
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir() if f.is_file()} == before
    # A new address: only the serving certificate is issued anew, by the same CA.
    again = pki.ensure_control_plane(tmp_path, extra_sans=["10.9.9.9"])
    assert again.serving.cert_path.read_bytes() != before["apiserver.crt"]
    assert again.ca.cert_path.read_bytes() == before["ca.crt"] and again.ca.signed(_load(again.serving.cert_path))
    assert again.admin.cert_path.read_bytes() == before["admin.crt"]


def test_a_certificate_of_another_ca_is_replaced(tmp_path):
    ours, theirs = pki.ensure_ca(tmp_path / "ours"), pki.ensure_ca(tmp_path / "theirs")
    pair = pki.ensure_client_cert(theirs, tmp_path / "c", "x", "bob")
    again = pki.ensure_client_cert(ours, tmp_path / "c", "x", "bob")
    assert again == pair and ours.signed(_load(pair.cert_path))


def test_up_issues_every_component_its_own_identity(tmp_path):
    p = parser()
    args = p.parse_args(["up", "--data-dir", str(tmp_path), "--nodes", "2", "--node-name", "n", "--port", "7443"])
    cfg = config_from_args(args.subparser, args)
    credentials.prepare(cfg)
    who = {}
    for c in components.build(cfg)[1:]:
        kc = dict(arg[2:].split("=", 1) for arg in c.argv if arg.startswith("--kubeconfig="))["kubeconfig"]
        access = kubeconfig.load(kc).resolve()
        assert access.server == "https://127.0.0.1:7443" and access.ca_data == (tmp_path / "pki" / "ca.crt").read_bytes()
        assert stat.S_IMODE(os.stat(kc).st_mode) == 0o600
        who[c.name] = pki.cert_subject(x509.load_pem_x509_certificate(access.cert_data))
    assert who == {"controller-manager": ("system:kube-controller-manager", []),
                   "scheduler": ("system:kube-scheduler", []),
                   "kubelet": ("system:node:n", ["system:nodes"]),
                   "kubelet-2": ("system:node:n-2", ["system:nodes"])}
    for node in ("n", "n-2"):
        serving = x509.load_pem_x509_certificate((tmp_path / "pki" / "kubelets" / f"{node}.crt").read_bytes())
        san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert node in san.get_values_for_type(x509.DNSName)
        assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} >= {pki.host_addresses()[0]}
        serving.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "pki" / "ca.crt").read_bytes()))
    admin = kubeconfig.load(str(cfg.kubeconfig_path)).resolve()
    assert pki.cert_subject(x509.load_pem_x509_certificate(admin.cert_data)) == ("kubernetes-admin", ["system:masters"])


def test_join_writes_the_ca_and_token_it_was_given(tmp_path):
    ca = pki.ensure_ca(tmp_path / "server")
    p = parser()
    args = p.parse_args(["join", "https://10.0.0.5:6443", "--token", "abc.def", "--certificate-authority",
                         str(ca.cert_path), "--data-dir", str(tmp_path / "node")])
    cfg = config_from_args(args.subparser, args, join=True)
    credentials.prepare(cfg)
    access = kubeconfig.load(str(cfg.kubeconfig_path)).resolve()
    # The token reaches the node's components through the kubeconfig, never a command line.
    assert (access.server, access.token, access.ca_data) == ("https://10.0.0.5:6443", "abc.def", ca.cert_pem)
    assert all("abc.def" not in a for c in components.build(cfg) for a in c.argv)
