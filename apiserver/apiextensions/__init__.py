"""CustomResourceDefinitions (apiextensions.k8s.io/v1): the CRD's own validation, the structural
schema rules, validation, pruning and defaulting of custom objects, the in-apiserver controllers
that serve an established CRD's resource, and its OpenAPI."""
