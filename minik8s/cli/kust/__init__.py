"""A Python kustomize for ``mkctl kustomize DIR`` and ``mkctl apply -k DIR``: the
kustomization features people use, each producing what kustomize (v5, as built into kubectl
1.32) produces. :mod:`.build` reads a kustomization and runs the steps in kustomize's order;
:mod:`.generate` makes ConfigMaps and Secrets with kustomize's content hash; :mod:`.transform`
holds the field transformers; :mod:`.patch` the strategic merge and JSON 6902 patches."""
