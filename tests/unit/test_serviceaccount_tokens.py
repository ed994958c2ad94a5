"""ServiceAccount JWTs: what the issuer signs and what the validator accepts or refuses
(expiry with one minute of leeway, audiences, foreign keys and issuers, deleted or recreated
bound objects), on objects looked up as the apiserver's cache would answer them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apiserver.auth import serviceaccount_tokens as sat
from minik8s import pki

ISS = sat.DEFAULT_ISSUER


def _obj(name: str, uid: str, ns: str = "ns", **md: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "uid": uid, **md}}


@pytest.fixture
def world() -> dict[tuple[str, str, str], dict[str, Any]]:
    return {("serviceaccounts", "ns", "robot"): _obj("robot", "sa-uid"),
            ("pods", "ns", "p"): _obj("p", "pod-uid"),
            ("nodes", "", "n1"): _obj("n1", "node-uid", ns=""),
            ("secrets", "ns", "s"): _obj("s", "secret-uid")}


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _validator(key, world, clock=time.time) -> sat.TokenValidator:
    async def get(plural: str, ns: str, name: str):
        return world.get((plural, ns, name))
    return sat.TokenValidator([key.public_key()], issuers=[ISS], audiences=[ISS], get=get, clock=clock)


def _issue(key, world, clock=time.time, **kw: Any) -> str:
    kw.setdefault("audiences", [ISS])
    kw.setdefault("expiration_seconds", 3600)
    token, _ = sat.TokenIssuer(key, ISS, clock=clock).issue(world[("serviceaccounts", "ns", "robot")], **kw)
    return token


def _validate(validator: sat.TokenValidator, token: str, audiences=None) -> sat.ServiceAccountInfo:
    return asyncio.run(validator.validate(token, audiences))


def test_header_and_user(key, world) -> None:
    token = _issue(key, world, clock=time.time, bound=sat.Bound("Pod", "p", "pod-uid"),
                   node=sat.Bound("Node", "n1", "node-uid"))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == sat.key_id(key.public_key())
    info = _validate(_validator(key, world, clock=time.time), token)
    user = info.user()
    assert user.name == "system:serviceaccount:ns:robot" and user.uid == "sa-uid"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns")
    extras = user.extra_dict()
    assert extras[sat.EXTRA_POD_NAME] == ["p"] and extras[sat.EXTRA_POD_UID] == ["pod-uid"]
    assert extras[sat.EXTRA_NODE_NAME] == ["n1"] and extras[sat.EXTRA_CREDENTIAL_ID][0].startswith("JTI=")


def test_refusals(key, world) -> None:
    real = time.time
    v = _validator(key, world, clock=real)
    good = _issue(key, world, clock=real, bound=sat.Bound("Pod", "p", "pod-uid"))
    assert _validate(v, good).pod_name == "p"
    with pytest.raises(sat.TokenInvalid, match="invalid for the target audiences"):
        _validate(v, good, ["vault"])
    # expired beyond the minute of leeway
    old = _issue(key, world, clock=lambda: real() - 3600 - 120, expiration_seconds=3600)
    with pytest.raises(sat.TokenInvalid, match="expired"):
        _validate(v, old)
    within_leeway = _issue(key, world, clock=lambda: real() - 3600 - 30, expiration_seconds=3600)
    assert _validate(v, within_leeway).name == "robot"
    # another key, another issuer
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(sat.TokenInvalid, match="signature"):
        _validate(v, _issue(other, world, clock=real))
    foreign = sat.TokenIssuer(key, "https://elsewhere", clock=real).issue(
        world[("serviceaccounts", "ns", "robot")], audiences=[ISS], expiration_seconds=600)[0]
    assert not v.has_our_issuer(foreign) and v.has_our_issuer(good)
    with pytest.raises(sat.TokenInvalid):
        _validate(v, foreign)
    # the pod is recreated (same name, new uid), then deleted
    world[("pods", "ns", "p")] = _obj("p", "new-uid")
    with pytest.raises(sat.TokenInvalid, match="does not match claim"):
        _validate(v, good)
    del world[("pods", "ns", "p")]
    with pytest.raises(sat.TokenInvalid, match="invalidated"):
        _validate(v, good)
    # the account itself goes
    plain = _issue(key, world, clock=real)
    del world[("serviceaccounts", "ns", "robot")]
    with pytest.raises(sat.TokenInvalid, match="has been deleted"):
        _validate(v, plain)


def test_deleting_objects_keep_tokens_for_the_leeway(key, world) -> None:
    real = time.time
    v = _validator(key, world, clock=real)
    token = _issue(key, world, clock=real, bound=sat.Bound("Secret", "s", "secret-uid"))
    def stamp(ago):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(real() - ago))
    world[("secrets", "ns", "s")]["metadata"]["deletionTimestamp"] = stamp(10)
    assert _validate(v, token).name == "robot"
    world[("secrets", "ns", "s")]["metadata"]["deletionTimestamp"] = stamp(120)
    with pytest.raises(sat.TokenInvalid, match="invalidated"):
        _validate(v, token)


def test_keys_on_disk(tmp_path) -> None:
    key_path, pub_path = pki.ensure_sa_keys(tmp_path / "pki")
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert pki.ensure_sa_keys(tmp_path / "pki") == (key_path, pub_path)  # kept, not remade
    private = sat.load_private_key(key_path)
    assert [sat.key_id(k) for k in sat.load_public_keys(pub_path)] == [sat.key_id(private.public_key())]
    assert [sat.key_id(k) for k in sat.load_public_keys(key_path)] == [sat.key_id(private.public_key())]
