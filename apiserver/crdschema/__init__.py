"""What a CustomResourceDefinition's schema means, as Kubernetes' apiextensions-apiserver
``pkg/apiserver/schema`` and ``pkg/apis/apiextensions/validation`` define it: the CRD's own
validation (:mod:`.crd_validation`), the structural-schema rules (:mod:`.structural`), and for
custom objects the value validation (:mod:`.values`), the CEL rules (:mod:`.cel`), pruning and
defaulting (:mod:`.pruning`) and the managedFields type (:mod:`.fieldtypes`).

Pure functions of a schema and an object: the registry's CRD and custom-resource strategies
(``apiserver/registry/customresource*.py``) call them, and this package imports nothing of
the registry, the REST storage or the serving controllers (``apiserver/apiextensions``).
"""
