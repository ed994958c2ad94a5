"""Admission: the plugins a write passes after authorization and before storage, as in
Kubernetes' handler chain (``interface.Chain`` runs them; ``plugins.default_chain`` is the
apiserver's set).

Mutating plugins (``admit``) change the object before validation: LimitRanger fills
defaults, Priority resolves ``priorityClassName``. Validating plugins (``validate``) see the
validated object and may refuse it with a 403: LimitRanger's min/max/ratio, Priority's single
global default, ResourceQuota's charge.
"""
