"""CertificateSigningRequests (certificates.k8s.io/v1) on a real apiserver with the real
kubectl: validation, printed columns, ``kubectl certificate approve|deny`` through the
``approval`` subresource, the csrsigning controller issuing with a CA, a malformed node
request failing its signer's checks, and the csrapproving controller leaving requests from
users without the ``nodeclient`` permission to a person."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controllers.certificates.approver import CSRApprovingController
from controllers.certificates.signer import CSRSigningController, SigningCA
from minik8s.api.resources import CERTIFICATESIGNINGREQUESTS
from tests.integration.controller_harness import running
from tests.waiting import eventually

KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


def request_pem(cn: str, orgs: list[str]) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs] + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    req = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()


def make_ca(tmp_path) -> SigningCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return SigningCA(cert.public_bytes(serialization.Encoding.PEM),
                     key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def csr_manifest(name: str, request: str, usages=("digital signature", "client auth"), **spec) -> str:
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": request, "signerName": KUBELET_SIGNER, "usages": list(usages), **spec}}
    return json.dumps(body)


@pytest.fixture
def name() -> str:
    return "csr-" + uuid.uuid4().hex[:6]


def test_validation(api_http, name: str) -> None:
    url = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    bad = json.loads(csr_manifest(name, base64.b64encode(b"hello").decode(), usages=["client auth", "nope"],
                                  expirationSeconds=599))
    bad["spec"]["signerName"] = "nodomain"
    r = api_http.post(url, json=bad)
    assert r.status_code == 422, r.text
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes["spec.request"].endswith("PEM block type must be CERTIFICATE REQUEST")
    assert causes["spec.signerName"] == ('Invalid value: "nodomain": must be a fully qualified domain and path of the '
                                         "form 'example.com/signer-name'")
    assert causes["spec.usages[1]"].startswith('Unsupported value: "nope": supported values: "signing"')
    assert causes["spec.expirationSeconds"] == ("Invalid value: 599: may not specify a duration less than 600 seconds "
                                                "(10 minutes)")
    r = api_http.post(url, json={"metadata": {"name": name}, "spec": {"request": request_pem("x", [])}})
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes == {"spec.signerName": "Required value", "spec.usages": "Required value"}


async def test_approve_sign_deny(apiserver_process, kubectl, name: str, tmp_path) -> None:
    good = csr_manifest(name, request_pem("system:node:n1", ["system:nodes"]), expirationSeconds=3600)
    # The requestor is whoever sends it: a user who may create CSRs (system:node-bootstrapper) but
    # not have node client certificates approved automatically.
    requestor = f"csr-requestor-{name}"
    assert kubectl("create", "clusterrolebinding", requestor, "--clusterrole=system:node-bootstrapper",
                   f"--user={requestor}").returncode == 0
    out = kubectl("create", "-f", "-", "--as", requestor, input=good)
    assert out.returncode == 0, out.stderr
    table = kubectl("get", "csr", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert table[1].split()[2:] == [KUBELET_SIGNER, requestor, "60m", "Pending"]
    wrong = name + "-wrong"
    assert kubectl("create", "-f", "-", "--as", requestor,
                   input=csr_manifest(wrong, request_pem("system:node:n1", ["x"]))).returncode == 0
    denied = name + "-denied"
    assert kubectl("create", "-f", "-", "--as", requestor,
                   input=csr_manifest(denied, request_pem("system:node:n2", ["system:nodes"]))).returncode == 0
    kubectl("delete", "clusterrolebinding", requestor)

    ca = make_ca(tmp_path)
    async with apiserver_process.client() as client:
        async with running(client, lambda f: CSRSigningController(client, f, ca=ca)), \
                running(client, lambda f: CSRApprovingController(client, f)):
            await asyncio.sleep(0.5)
            # the approver leaves a request whose requestor may not create nodeclient CSRs
            assert (await client.get(CERTIFICATESIGNINGREQUESTS, name)).get("status") in (None, {})
            out = await asyncio.to_thread(kubectl, "certificate", "approve", name, wrong)
            assert out.returncode == 0, out.stderr
            assert f"certificatesigningrequest.certificates.k8s.io/{name} approved" in out.stdout
            out = await asyncio.to_thread(kubectl, "certificate", "deny", denied)
            assert out.returncode == 0, out.stderr

            async def issued():
                csr = await client.get(CERTIFICATESIGNINGREQUESTS, name)
                return csr if (csr.get("status") or {}).get("certificate") else None
            csr = await eventually(issued, what="certificate issued")

            async def failed():
                csr = await client.get(CERTIFICATESIGNINGREQUESTS, wrong)
                return [c for c in (csr.get("status") or {}).get("conditions") or [] if c["type"] == "Failed"]
            [cond] = await eventually(failed, what="Failed condition")
            assert cond["reason"] == "SignerValidationFailure"
            assert cond["message"] == "subject organization is not system:nodes"
    approved = [c for c in csr["status"]["conditions"] if c["type"] == "Approved"][0]
    assert approved["reason"] == "KubectlApprove" and approved["lastUpdateTime"] and approved["lastTransitionTime"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    cert.verify_directly_issued_by(ca.cert)
    assert cert.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life == datetime.timedelta(minutes=65)  # 3600 s asked for, backdated 5 minutes
    assert kubectl("get", "csr", name).stdout.splitlines()[1].split()[-1] == "Approved,Issued"
    assert kubectl("get", "csr", denied).stdout.splitlines()[1].split()[-1] == "Denied"
    assert kubectl("get", "csr", wrong).stdout.splitlines()[1].split()[-1] == "Approved,Failed"


def test_approval_rules(api_http, kubectl, name: str) -> None:
    assert kubectl("create", "-f", "-", input=csr_manifest(name, request_pem("system:node:n3", ["system:nodes"]))
                   ).returncode == 0
    assert kubectl("certificate", "approve", name).returncode == 0
    url = f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}"
    csr = api_http.get(url).json()
    # the main resource and /status cannot change the approval
    removed = {**csr, "status": {"conditions": []}}
    assert api_http.put(url, json=removed).json()["status"]["conditions"][0]["type"] == "Approved"
    assert api_http.put(url + "/status", json=removed).json()["status"]["conditions"][0]["type"] == "Approved"
    r = api_http.put(url + "/approval", json=removed)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["message"] == 'Forbidden: updates may not remove a condition of type "Approved"'
    both = {**csr, "status": {"conditions": [*csr["status"]["conditions"],
                                             {"type": "Denied", "status": "True", "reason": "x"}]}}
    r = api_http.put(url + "/approval", json=both)
    assert r.status_code == 422 and "mutually exclusive" in r.text
    out = kubectl("certificate", "deny", name)
    assert out.returncode != 0 and "is already Approved" in out.stderr


async def test_a_node_gets_its_serving_certificate_for_its_own_addresses_only(apiserver_process, tmp_path) -> None:
    """The kubelet's --rotate-server-certificates path (kubelet/server_certificate.py) against
    the approver's checks: the node itself, for the addresses its Node reports."""
    from kubelet.server_certificate import ServingCertificate
    from minik8s import csr_request
    from minik8s.api.resources import NODES

    node = "sv-" + uuid.uuid4().hex[:6]
    ca = make_ca(tmp_path)
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    node_kc = apiserver_process.kubeconfig_for(f"system:node:{node}", ("system:nodes",))
    other_kc = apiserver_process.kubeconfig_for("system:node:elsewhere", ("system:nodes",))
    from minik8s.client.rest import ApiClient
    async with apiserver_process.client() as client, ApiClient.from_kubeconfig(str(node_kc)) as node_client, \
            ApiClient.from_kubeconfig(str(other_kc)) as other_client:
        created = await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
        created["status"] = {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"},
                                           {"type": "Hostname", "address": node}]}
        await client.update_subresource(NODES, created, "status")
        manager = ServingCertificate(node_client, node=node, cert_dir=str(tmp_path / "pki"), hostname=node,
                                     ips=["10.1.2.3"], ca_file=str(ca_file))
        assert manager.usable() is None
        async with running(client, lambda f: CSRSigningController(client, f, ca=ca)), \
                running(client, lambda f: CSRApprovingController(client, f)):
            cert = await asyncio.wait_for(manager.ensure(), 30)
            # someone else's address, or another node asking in this node's name: left pending
            req, _ = csr_request.new_request(f"system:node:{node}", ["system:nodes"], dns_names=[node],
                                             ips=["10.9.9.9"])
            with pytest.raises(csr_request.CSRFailed, match="was not issued within"):
                await csr_request.request_certificate(node_client, req, signer="kubernetes.io/kubelet-serving",
                                                      usages=["digital signature", "server auth"],
                                                      generate_name="csr-", timeout=2)
            req, _ = csr_request.new_request(f"system:node:{node}", ["system:nodes"], ips=["10.1.2.3"])
            with pytest.raises(csr_request.CSRFailed, match="was not issued within"):
                await csr_request.request_certificate(other_client, req, signer="kubernetes.io/kubelet-serving",
                                                      usages=["digital signature", "server auth"],
                                                      generate_name="csr-", timeout=2)
            # rotation: past its renewal time, a new pair is issued and handed to the server
            reloaded: asyncio.Queue = asyncio.Queue()
            # (only the first certificate is due: rotate() loops, and a renewed one due at once
            # would ask again before this test cancels it -- a fourth CSR on a loaded machine)
            scheduled = manager.renew_at
            manager.renew_at = lambda c: (datetime.datetime.now(datetime.UTC)  # type: ignore[method-assign]
                                          if c.serial_number == cert.serial_number else scheduled(c))
            task = asyncio.create_task(manager.rotate(cert, lambda c, k: reloaded.put_nowait((c, k))))
            try:
                paths = await asyncio.wait_for(reloaded.get(), 30)
            finally:
                task.cancel()
        serving = [c for c in (await client.list(CERTIFICATESIGNINGREQUESTS))["items"]
                   if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"]
        csrs = [c for c in serving if c["spec"]["username"] == f"system:node:{node}"]
        theirs = [c for c in serving if c["spec"]["username"] == "system:node:elsewhere"]
        await client.delete(NODES, node)
    assert paths == manager.paths
    cert.verify_directly_issued_by(ca.cert)
    assert cert.subject.rfc4514_string() == f"CN=system:node:{node},O=system:nodes"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [node]
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    renewed = manager.usable()
    assert renewed is not None and renewed.serial_number != cert.serial_number
    approved = sorted(c["status"]["conditions"][0]["message"] for c in csrs if c.get("status", {}).get("conditions"))
    assert approved == ["Auto approving kubelet serving certificate: requested by the node itself for its own "
                        "addresses."] * 2
    assert len(csrs) == 3 and theirs  # the refused ones stay pending
    assert not any((c.get("status") or {}).get("conditions") for c in theirs)
