"""Policy admission: the plugins a write passes after authorization and before storage, as in
Kubernetes' handler chain (``interface.Chain`` runs them; ``plugins.default_chain`` is the
apiserver's set, ``RestStorage.admission_chain``). ServiceAccount admission
(``apiserver/serviceaccount_admission.py``) is a create-only mutating plugin of
``RestStorage.admission`` and runs just before this chain's mutating step.

Mutating plugins (``admit``) change the object before validation: LimitRanger fills
defaults, Priority resolves ``priorityClassName``. Validating plugins (``validate``) see the
validated object and may refuse it with a 403: LimitRanger's min/max/ratio, Priority's single
global default, ResourceQuota's charge.
"""
