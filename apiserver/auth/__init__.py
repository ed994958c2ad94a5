"""Who is asking and may they: the apiserver's authentication and authorization.

A request passes authn (``user.UserInfo`` into ``request.scope[USER_KEY]``), then authz
(``attributes.Attributes`` → an ``Authorizer``'s ``Decision``), before admission and the
registry, as in Kubernetes' handler chain.
"""
