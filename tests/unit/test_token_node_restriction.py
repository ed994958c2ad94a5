"""NodeRestriction for TokenRequests: a node gets tokens only for pods bound to it, by uid;
other users are not restricted."""

from __future__ import annotations

import pytest

from apiserver import errors
from apiserver.auth import request_user
from apiserver.auth.serviceaccount_tokens import Bound
from apiserver.auth.user import NODES, UserInfo
from apiserver.serviceaccount_token import _node_restriction

POD = {"metadata": {"name": "p", "uid": "u"}, "spec": {"nodeName": "n1"}}


@pytest.fixture
def as_user():
    tokens = []

    def set_user(user):
        tokens.append(request_user.set(user))
    yield set_user
    for t in reversed(tokens):
        request_user.reset(t)


def test_a_node_gets_tokens_for_its_own_pods_only(as_user) -> None:
    as_user(UserInfo("system:node:n1", groups=(NODES,)))
    _node_restriction({"kind": "Pod", "name": "p", "uid": "u"}, Bound("Pod", "p", "u"), POD)
    for ref, bound, target, why in (
            (None, None, None, "node requested token not bound to a pod"),
            ({"kind": "Secret", "name": "s"}, Bound("Secret", "s", "x"), {"metadata": {}}, "not bound to a pod"),
            ({"kind": "Pod", "name": "p"}, Bound("Pod", "p", "u"), POD, "a pod binding without a uid"),
            ({"kind": "Pod", "name": "p", "uid": "u"}, Bound("Pod", "p", "u"),
             {**POD, "spec": {"nodeName": "n2"}}, "bound to a pod scheduled on a different node")):
        with pytest.raises(errors.Forbidden, match=why):
            _node_restriction(ref, bound, target)


def test_others_are_not_restricted(as_user) -> None:
    as_user(UserInfo("alice", groups=("devs",)))
    _node_restriction(None, None, None)
