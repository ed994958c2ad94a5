"""The certificate controllers of the controller-manager: csrapproving (``approver``) and
csrsigning (``signer``), with the request checks they share (``csr_utils``)."""
