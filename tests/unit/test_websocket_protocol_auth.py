"""The WebSocket-subprotocol bearer token (apiserver/auth/websocket_protocol.py) read as
Kubernetes' ``authentication/request/websocket`` reads it: base64url without padding, one
token, another protocol beside it; and stripped from the offer so it is never echoed."""

from __future__ import annotations

import base64

import pytest

from apiserver.auth.authenticate import InvalidCredentials
from apiserver.auth.websocket_protocol import PREFIX, strip, token_of


def encoded(token: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(token).decode().rstrip("=")


def test_the_token_beside_another_protocol() -> None:
    assert token_of(["base64.binary.k8s.io", encoded(b"abc.def-ghi")]) == "abc.def-ghi"
    assert token_of(["base64.binary.k8s.io"]) is None
    assert token_of([]) is None


@pytest.mark.parametrize("protocols, message", [
    ([encoded(b"tok")], "missing additional subprotocol"),
    (["x", encoded(b"a"), encoded(b"b")], "multiple"),
    (["x", PREFIX + "dG9rZW4="], "encoding"),  # padded: RawURLEncoding refuses it
    (["x", PREFIX + "dG9r+W4"], "encoding"),   # not the URL alphabet
    (["x", encoded(b"\xff\xfe")], "invalid base64.bearer.authorization token"),  # not UTF-8
])
def test_unusable_tokens_are_invalid_credentials(protocols: list[str], message: str) -> None:
    with pytest.raises(InvalidCredentials, match=message):
        token_of(protocols)


def test_strip_leaves_only_the_other_protocols() -> None:
    scope = {"type": "websocket", "subprotocols": ["base64.binary.k8s.io", encoded(b"secret")], "headers": []}
    strip(scope)
    assert scope["subprotocols"] == ["base64.binary.k8s.io"]
    untouched = {"type": "websocket", "subprotocols": ["v5.channel.k8s.io"], "headers": []}
    strip(untouched)
    assert untouched["subprotocols"] == ["v5.channel.k8s.io"]
