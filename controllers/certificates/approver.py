"""csrapproving: auto-approves kubelet client certificate requests, as kube-controller-manager's
``pkg/controller/certificates/approver/sarapprove.go`` does.

A pending CSR for ``kubernetes.io/kube-apiserver-client-kubelet`` whose request is a valid node
client request (``O=system:nodes``, ``CN=system:node:<name>``, client usages) is approved when
its requestor may ``create`` ``certificatesigningrequests/selfnodeclient`` (a node renewing
its own certificate: the requestor is the CN) or ``certificatesigningrequests/nodeclient``
(anyone asking for a node, e.g. a bootstrap token in ``system:bootstrappers``), which the
apiserver answers through a SubjectAccessReview. Anything else is left for a person
(``kubectl certificate approve|deny``).
"""

from __future__ import annotations

import logging
from typing import Any

from controllers.base import Controller
from controllers.certificates import csr_utils
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import CERTIFICATESIGNINGREQUESTS, NODES, SUBJECTACCESSREVIEWS
from minik8s.api.typed import CertificateSigningRequest
from minik8s.api.wellknown import certificates as csr_api
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

SELF_NODE_CLIENT_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
NODE_CLIENT_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
NODE_SERVING_MESSAGE = "Auto approving kubelet serving certificate: requested by the node itself for its own addresses."


class CSRApprovingController(Controller):
    name = "csrapproving"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.csr_informer = informers.informer(CERTIFICATESIGNINGREQUESTS)
        self.informers = [self.csr_informer]
        self.csr_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur))

    async def _allowed(self, csr: CertificateSigningRequest, subresource: str) -> bool:
        spec = csr.get("spec") or {}
        sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": spec.get("username") or "", "uid": spec.get("uid") or "", "groups": spec.get("groups") or [],
            "extra": spec.get("extra") or {},
            "resourceAttributes": {"group": csr_api.GROUP, "resource": "certificatesigningrequests",
                                   "verb": "create", "subresource": subresource}}}
        answer = await self.client.create(SUBJECTACCESSREVIEWS, sar)
        return bool((answer.get("status") or {}).get("allowed"))

    async def _serving_message(self, csr: CertificateSigningRequest) -> str | None:
        """The approval message of a node's own serving request for its own addresses, else None."""
        spec = csr.get("spec") or {}
        try:
            req = csr_utils.parse(csr)
            csr_utils.validate_kubelet_serving(req, spec.get("usages") or [])
        except csr_utils.InvalidRequest:
            return None
        cn, _ = csr_utils.subject(req)
        if spec.get("username") != cn or csr_utils.NODES_GROUP not in (spec.get("groups") or []):
            return None
        node_name = cn[len(csr_utils.NODE_USER_PREFIX):]
        try:
            node = typed.node(await self.client.get(NODES, node_name))
        except errors.NotFound:
            # The kubelet asks as it registers: look again (with backoff) until its Node is there.
            raise RuntimeError(f"node {node_name} of serving certificate request "
                               f"{csr['metadata']['name']} is not registered yet") from None
        addresses = {a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
        dns, ips = csr_utils.serving_names(req)
        if not dns + ips or not set(dns + ips) <= addresses:
            return None
        return NODE_SERVING_MESSAGE

    async def sync(self, key: str) -> None:
        cached = self.csr_informer.store.get(key)
        csr = typed.certificate_signing_request(cached) if cached is not None else None
        signer = (csr or {}).get("spec", {}).get("signerName")
        if csr is None or signer not in (csr_api.KUBE_APISERVER_CLIENT_KUBELET, csr_api.KUBELET_SERVING):
            return
        if csr_api.condition(csr, csr_api.APPROVED) or csr_api.condition(csr, csr_api.DENIED) \
                or (csr.get("status") or {}).get("certificate"):
            return
        if signer == csr_api.KUBELET_SERVING:
            message = await self._serving_message(csr)
            if message is not None:
                await self._approve(key, csr, message)
            return
        try:
            req = csr_utils.parse(csr)
            csr_utils.validate_kubelet_client(req, (csr.get("spec") or {}).get("usages") or [])
        except csr_utils.InvalidRequest:
            return  # not a node client request: a person decides
        cn, _ = csr_utils.subject(req)
        if (csr.get("spec") or {}).get("username") == cn and await self._allowed(csr, "selfnodeclient"):
            message = SELF_NODE_CLIENT_MESSAGE
        elif await self._allowed(csr, "nodeclient"):
            message = NODE_CLIENT_MESSAGE
        else:
            return
        await self._approve(key, csr, message)

    async def _approve(self, key: str, csr: CertificateSigningRequest, message: str) -> None:
        conditions = [*((csr.get("status") or {}).get("conditions") or []),
                      {"type": csr_api.APPROVED, "status": "True", "reason": "AutoApproved", "message": message}]
        approved = {**csr, "status": {**(csr.get("status") or {}), "conditions": conditions}}
        try:
            await self.client.update_subresource(CERTIFICATESIGNINGREQUESTS, approved, "approval")
        except errors.NotFound:
            return
        log.info("csrapproving: approved %s (%s)", key, message)
