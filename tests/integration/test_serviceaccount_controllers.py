"""The ServiceAccounts controller and the root CA publisher on a real apiserver: every active
namespace gets (and keeps) a ``default`` ServiceAccount and a ``kube-root-ca.crt`` ConfigMap;
edits and deletions are put back; and the controller-manager reads the CA from its flag or
its kubeconfig."""

from __future__ import annotations

import argparse
import base64

from controllers import main as kcm
from controllers.rootcacertpublisher import DESCRIPTION, RootCACertPublisher, kubeconfig_ca
from controllers.serviceaccounts import ServiceAccountsController
from minik8s.api.resources import CONFIGMAPS, SERVICEACCOUNTS
from minik8s.client.informer import SharedInformerFactory
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually

CA = "-----BEGIN CERTIFICATE-----\nMIIBdummyForTheTest\n-----END CERTIFICATE-----\n"


async def test_default_serviceaccount_in_every_namespace(client) -> None:
    async with running(client, lambda f: ServiceAccountsController(client, f)):
        ns = await new_namespace(client, "sac")
        sa = await eventually(lambda: get_or_none(client, SERVICEACCOUNTS, "default", namespace=ns),
                              what="default ServiceAccount")
        for system in ("default", "kube-system"):
            assert await eventually(lambda s=system: get_or_none(client, SERVICEACCOUNTS, "default", namespace=s))
        await client.delete(SERVICEACCOUNTS, "default", namespace=ns)
        again = await eventually(
            lambda: _other_uid(client, SERVICEACCOUNTS, "default", ns, sa["metadata"]["uid"]), what="re-created")
        assert again["metadata"]["name"] == "default"


async def _other_uid(client, rt, name, ns, uid):
    found = await get_or_none(client, rt, name, namespace=ns)
    return found if found is not None and found["metadata"]["uid"] != uid else None


async def test_root_ca_configmap_published_and_restored(client) -> None:
    async with running(client, lambda f: RootCACertPublisher(client, f, root_ca=CA)):
        ns = await new_namespace(client, "rca")
        cm = await eventually(lambda: get_or_none(client, CONFIGMAPS, "kube-root-ca.crt", namespace=ns),
                              what="kube-root-ca.crt")
        assert cm["data"] == {"ca.crt": CA}
        assert cm["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION
        # a user's edit is undone
        cm["data"] = {"ca.crt": "tampered"}
        await client.update(CONFIGMAPS, cm)

        async def restored():
            found = await get_or_none(client, CONFIGMAPS, "kube-root-ca.crt", namespace=ns)
            return found is not None and found["data"] == {"ca.crt": CA}
        await eventually(restored, what="restored data")
        await client.delete(CONFIGMAPS, "kube-root-ca.crt", namespace=ns)
        await eventually(restored, what="re-created ConfigMap")


def test_root_ca_from_flag_or_kubeconfig(tmp_path) -> None:
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(CA)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {}}]\n"
        f"clusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:1', "
        f"certificate-authority-data: {base64.b64encode(CA.encode()).decode()}}}}}]\n")
    assert kubeconfig_ca(str(kubeconfig)) == CA
    plain = tmp_path / "plain"
    plain.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                     "contexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {server: x}}]\n")
    assert kubeconfig_ca(str(plain)) is None
    # a certificate-authority file named relative to the kubeconfig's directory, block style
    relative = tmp_path / "relative"
    relative.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context:\n"
                        "    cluster: k\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:1\n"
                        "    certificate-authority: ca.crt\n")
    assert kubeconfig_ca(str(relative)) == CA

    def ctx(**opts):
        # informers are only built, never run, in this test
        return kcm.ControllerContext(client=None, informers=SharedInformerFactory(None),  # type: ignore[arg-type]
                                     options=argparse.Namespace(**opts))
    reg = kcm.CONTROLLERS["root-ca-cert-publisher"]
    assert reg.new(ctx(root_ca_file=None, kubeconfig=str(plain))) is None  # nothing to publish: not started
    assert reg.new(ctx(root_ca_file=str(ca_file), kubeconfig=str(plain))).root_ca == CA
    assert reg.new(ctx(root_ca_file=None, kubeconfig=str(kubeconfig))).root_ca == CA

