"""The encryption-at-rest transformer over a real SQLite store: aesgcm, aescbc and secretbox round trips,
the ``k8s:enc:`` prefixes, unlisted resources untouched, history (watch) decrypted, a value
bound to its key (aesgcm), stale detection for rotation, and config errors naming the field."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from apiserver.storage import encryption
from apiserver.storage.interface import StorageError
from apiserver.storage.sqlite import SQLiteStorage


def _write(path: Path, providers: str) -> str:
    path.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                    "  - resources: [secrets, '*.apps']\n    providers:\n" + providers)
    return str(path)


def _key(name: str, raw: bytes) -> str:
    return f"            - name: {name}\n              secret: {base64.b64encode(raw).decode()}\n"


async def test_aesgcm_round_trip_and_rotation(tmp_path: Path) -> None:
    k1, k2 = os.urandom(32), os.urandom(16)
    inner = SQLiteStorage(str(tmp_path / "store.db"), compaction_interval=0)
    store = encryption.wrap(inner, _write(tmp_path / "a.yaml", "      - aesgcm:\n          keys:\n" + _key("k1", k1)))
    await store.start()
    try:
        await store.create("/registry/secrets/ns/a", b'{"data":"hello"}')
        await store.create("/registry/deployments/ns/d", b'{"spec":"dep"}')
        await store.create("/registry/configmaps/ns/c", b'{"data":"plain"}')
        raw = await inner.get("/registry/secrets/ns/a")
        assert raw is not None and raw.value.startswith(b"k8s:enc:aesgcm:v1:k1:") and b"hello" not in raw.value
        assert (await inner.get("/registry/deployments/ns/d")).value.startswith(b"k8s:enc:aesgcm:v1:k1:")
        assert (await inner.get("/registry/configmaps/ns/c")).value == b'{"data":"plain"}'
        assert (await store.get("/registry/secrets/ns/a")).value == b'{"data":"hello"}'
        listed = await store.list("/registry/secrets/")
        assert [kv.value for kv in listed.items] == [b'{"data":"hello"}']
        events = []
        async for ev in store.watch("/registry/secrets/", after=0):
            events.append(ev)
            break
        assert events[0].kv.value == b'{"data":"hello"}'
        assert not await store.stale("/registry/secrets/ns/a")
        # The ciphertext is bound to its key: moved under another name it does not decrypt.
        await inner.create("/registry/secrets/ns/b", raw.value)
        with pytest.raises(StorageError):
            await store.get("/registry/secrets/ns/b")
    finally:
        await store.close()

    # k2 (aescbc) first, k1 still decrypting: the old value reads and is stale until re-written.
    inner = SQLiteStorage(str(tmp_path / "store.db"), compaction_interval=0)
    store = encryption.wrap(inner, _write(tmp_path / "b.yaml", "      - aescbc:\n          keys:\n" + _key("k2", k2)
                                          + "      - aesgcm:\n          keys:\n" + _key("k1", k1)))
    await store.start()
    try:
        cur = await store.get("/registry/secrets/ns/a")
        assert cur.value == b'{"data":"hello"}' and await store.stale("/registry/secrets/ns/a")
        await store.update("/registry/secrets/ns/a", cur.value, expected_revision=cur.mod_revision)
        assert (await inner.get("/registry/secrets/ns/a")).value.startswith(b"k8s:enc:aescbc:v1:k2:")
        assert not await store.stale("/registry/secrets/ns/a")
    finally:
        await store.close()
    assert oct(os.stat(tmp_path / "store.db").st_mode & 0o777) == "0o600"


async def test_secretbox_round_trip_in_kubernetes_layout(tmp_path: Path) -> None:
    from nacl.secret import SecretBox

    key = os.urandom(32)
    inner = SQLiteStorage(str(tmp_path / "store.db"), compaction_interval=0)
    store = encryption.wrap(inner, _write(tmp_path / "s.yaml", "      - secretbox:\n          keys:\n" + _key("k1", key)))
    await store.start()
    try:
        await store.create("/registry/secrets/ns/a", b'{"data":"hello"}')
        raw = (await inner.get("/registry/secrets/ns/a")).value
        prefix = b"k8s:enc:secretbox:v1:k1:"
        assert raw.startswith(prefix) and b"hello" not in raw
        body = raw[len(prefix):]
        # Go's secretbox.Seal after a 24-byte nonce: Poly1305 tag (16) + ciphertext
        assert len(body) == 24 + 16 + len(b'{"data":"hello"}')
        assert SecretBox(key).decrypt(body[24:], body[:24]) == b'{"data":"hello"}'
        assert (await store.get("/registry/secrets/ns/a")).value == b'{"data":"hello"}'
        # a value sealed with another key does not open
        other = SecretBox(os.urandom(32)).encrypt(b"x", os.urandom(24))
        await inner.create("/registry/secrets/ns/b", prefix + bytes(other))
        with pytest.raises(StorageError, match="secretbox key 'k1' cannot decrypt"):
            await store.get("/registry/secrets/ns/b")
    finally:
        await store.close()


@pytest.mark.parametrize("providers, field", [
    ("      - secretbox:\n          keys:\n" + _key("s", b"x" * 16),
     "providers[0].secretbox.keys[0].secret: Invalid value: key must be 32 bytes, got 16"),
    ("      - aescbc:\n          keys:\n" + _key("s", b"x" * 7), "providers[0].aescbc.keys[0].secret"),
    ("      - aescbc: {}\n", "providers[0].aescbc.keys"),
    ("      - kms: {}\n", "providers[0]: Unsupported value"),
])
def test_config_errors_name_the_field(tmp_path: Path, providers: str, field: str) -> None:
    with pytest.raises(encryption.ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        encryption.load(_write(tmp_path / "c.yaml", providers))


def test_up_writes_a_private_aescbc_config_once(tmp_path: Path) -> None:
    from minik8s.up import encryption_config

    path = encryption_config.ensure(tmp_path / "data")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    first = path.read_text()
    (patterns, providers), = encryption.load(str(path))
    assert patterns == ["secrets"] and [p.name for p in providers] == ["aescbc", "identity"]
    assert providers[0].prefix == b"k8s:enc:aescbc:v1:key1:"
    os.chmod(path, 0o644)
    assert encryption_config.ensure(tmp_path / "data").read_text() == first  # the key is kept
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
