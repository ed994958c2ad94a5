"""CustomResourceDefinitions (apiextensions.k8s.io/v1) served: the in-apiserver controllers that
serve an established CRD's resource (:mod:`.controller`, :mod:`.served`) and its OpenAPI
(:mod:`.openapi`). What a CRD's schema means (validation, pruning, defaulting, CEL) is
``apiserver/crdschema``, below the registry whose strategies use it."""
