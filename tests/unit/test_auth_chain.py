"""The authenticator chain: every authenticated user carries ``system:authenticated``, and one
user is one object from request to request (what the request path memoizes by identity)."""

from __future__ import annotations

import asyncio

from apiserver.auth import x509
from apiserver.auth.authenticate import Chain, Credentials
from apiserver.auth.user import ANONYMOUS_USER, AUTHENTICATED, UserInfo


class _Token:
    """A bearer authenticator that answers a fresh UserInfo per request, as token ones do."""

    name = "token"

    async def authenticate(self, creds: Credentials) -> UserInfo | None:
        token = creds.bearer_token()
        return None if token is None else UserInfo(name=token, uid="u-" + token, groups=("team",),
                                                   extras=(("scope", ("a",)),))


def _auth(chain: Chain, creds: Credentials) -> UserInfo:
    return asyncio.run(chain.authenticate(creds))


def test_x509_user_gets_authenticated_group_and_stays_one_object() -> None:
    chain = Chain([x509.Authenticator()])
    creds = Credentials(peer=x509.peer_user(("alice", ("devs",))), headers=())
    first, second = _auth(chain, creds), _auth(chain, creds)
    assert first == UserInfo(name="alice", groups=("devs", AUTHENTICATED))
    assert first is second


def test_equal_users_from_fresh_objects_are_one_object_and_keep_uid_and_extras() -> None:
    chain = Chain([_Token()])
    a = _auth(chain, Credentials(peer=None, headers=((b"authorization", b"Bearer bob"),)))
    b = _auth(chain, Credentials(peer=None, headers=((b"authorization", b"Bearer bob"),)))
    c = _auth(chain, Credentials(peer=None, headers=((b"authorization", b"Bearer carol"),)))
    assert a is b
    assert a == UserInfo(name="bob", uid="u-bob", groups=("team", AUTHENTICATED), extras=(("scope", ("a",)),))
    assert c.name == "carol" and c.groups == ("team", AUTHENTICATED)


def test_user_already_authenticated_is_returned_as_is_and_anonymous_is_anonymous() -> None:
    user = UserInfo(name="sa", groups=("system:serviceaccounts", AUTHENTICATED))
    chain = Chain([x509.Authenticator()])
    assert _auth(chain, Credentials(peer=user, headers=())) is user
    assert _auth(chain, Credentials(peer=None, headers=())) is ANONYMOUS_USER
