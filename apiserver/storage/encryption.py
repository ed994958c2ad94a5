"""Encryption at rest: Kubernetes' EncryptionConfiguration as a transformer around a Storage.

``--encryption-provider-config FILE`` names an ``apiserver.config.k8s.io/v1``
``EncryptionConfiguration``. Each ``resources[]`` entry lists resources (``secrets``,
``deployments.apps``, ``*.apps``, ``*.*``) and providers: the first provider encrypts every
write, every provider is tried on read (by the value's prefix). Stored values carry
``k8s:enc:<provider>:v1:<key name>:`` as Kubernetes writes them; ``identity`` stores plain
values and reads unprefixed ones. Providers: ``aescbc`` (AES-CBC, PKCS#7, random IV),
``aesgcm`` (AES-GCM, random nonce, the storage key as additional data), ``secretbox``
(XSalsa20-Poly1305 with a 32-byte key: a random 24-byte nonce, then the Poly1305 tag and the
ciphertext, as Kubernetes' Go ``secretbox.Seal`` lays them out; through PyNaCl, the libsodium
binding, since ``cryptography`` has no XSalsa20-Poly1305), ``identity``.

Key rotation, as Kubernetes documents it: list a new key first (the old one second, so old values
still decrypt), restart, re-write every object (``kubectl get secrets -A -o json | kubectl
replace -f -``), then drop the old key.
"""

from __future__ import annotations

import abc
import base64
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apiserver.storage.interface import KeyValue, ListResult, RevisionMismatch, Storage, StorageError, WatchEvent

PREFIX = b"k8s:enc:"


class ConfigError(ValueError):
    """The EncryptionConfiguration file is malformed (names the field)."""


class Provider(abc.ABC):
    """One provider/key: ``encrypt`` returns the full stored value (prefix included)."""

    name = ""
    key_name = ""

    @property
    def prefix(self) -> bytes:
        return b"k8s:enc:%s:v1:%s:" % (self.name.encode(), self.key_name.encode())

    @abc.abstractmethod
    def encrypt(self, data: bytes, context: bytes) -> bytes: ...

    @abc.abstractmethod
    def decrypt(self, body: bytes, context: bytes) -> bytes: ...


class Identity(Provider):
    name = "identity"

    @property
    def prefix(self) -> bytes:
        return b""

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        return data

    def decrypt(self, body: bytes, context: bytes) -> bytes:
        return body


class AESCBC(Provider):
    name = "aescbc"

    def __init__(self, key_name: str, key: bytes) -> None:
        self.key_name, self._key = key_name, key

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        return self.prefix + iv + enc.update(padder.update(data) + padder.finalize()) + enc.finalize()

    def decrypt(self, body: bytes, context: bytes) -> bytes:
        if len(body) < 32 or len(body) % 16:
            raise StorageError("the stored data is not a valid aescbc block sequence")
        dec = Cipher(algorithms.AES(self._key), modes.CBC(body[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(dec.update(body[16:]) + dec.finalize()) + unpadder.finalize()
        except ValueError as e:
            raise StorageError(f"aescbc key {self.key_name!r} cannot decrypt the stored data") from e


class AESGCMProvider(Provider):
    name = "aesgcm"

    def __init__(self, key_name: str, key: bytes) -> None:
        self.key_name, self._aead = key_name, AESGCM(key)

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return self.prefix + nonce + self._aead.encrypt(nonce, data, context)

    def decrypt(self, body: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(body[:12], body[12:], context)
        except Exception as e:  # InvalidTag, short input
            raise StorageError(f"aesgcm key {self.key_name!r} cannot decrypt the stored data") from e


class SecretBox(Provider):
    name = "secretbox"
    NONCE = 24

    def __init__(self, key_name: str, key: bytes) -> None:
        from nacl.secret import SecretBox as Box  # only a secretbox config pays for the import

        self.key_name, self._box = key_name, Box(key)

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(self.NONCE)
        return self.prefix + bytes(self._box.encrypt(data, nonce))  # nonce + tag + ciphertext

    def decrypt(self, body: bytes, context: bytes) -> bytes:
        from nacl.exceptions import CryptoError

        if len(body) < self.NONCE + 16:
            raise StorageError("the stored data is too short for secretbox")
        try:
            return self._box.decrypt(body[self.NONCE:], body[:self.NONCE])
        except CryptoError as e:
            raise StorageError(f"secretbox key {self.key_name!r} cannot decrypt the stored data") from e


_KEYED: dict[str, Callable[[str, bytes], Provider]] = {"aescbc": AESCBC, "aesgcm": AESGCMProvider, "secretbox": SecretBox}
# Key sizes Kubernetes accepts per provider (secretbox: exactly 32 bytes).
_KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}


def _providers(spec: list[Any], where: str) -> list[Provider]:
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"{where}.providers: Required value: at least one provider")
    out: list[Provider] = []
    for i, p in enumerate(spec):
        at = f"{where}.providers[{i}]"
        if not isinstance(p, dict) or len(p) != 1:
            raise ConfigError(f"{at}: Invalid value: exactly one provider type per entry")
        (kind, body), = p.items()
        if kind == "identity":
            out.append(Identity())
            continue
        if kind not in _KEYED:
            raise ConfigError(f"{at}: Unsupported value: {kind!r}: supported values: "
                              "\"aescbc\", \"aesgcm\", \"identity\", \"secretbox\"")
        keys = (body or {}).get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ConfigError(f"{at}.{kind}.keys: Required value: at least one key")
        for j, k in enumerate(keys):
            kat = f"{at}.{kind}.keys[{j}]"
            name, secret = (k or {}).get("name"), (k or {}).get("secret")
            if not name or not isinstance(name, str):
                raise ConfigError(f"{kat}.name: Required value")
            try:
                raw = base64.b64decode(str(secret or ""), validate=True)
            except ValueError as e:
                raise ConfigError(f"{kat}.secret: Invalid value: not base64") from e
            sizes = _KEY_SIZES[kind]
            if len(raw) not in sizes:
                want = "32" if sizes == (32,) else "16, 24 or 32"
                raise ConfigError(f"{kat}.secret: Invalid value: key must be {want} bytes, got {len(raw)}")
            out.append(_KEYED[kind](name, raw))
    return out


def load(path: str) -> list[tuple[list[str], list[Provider]]]:
    """(resource patterns, providers) per ``resources[]`` entry of the file at path."""
    with open(path, encoding="utf-8") as f:
        try:
            doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"not YAML: {e}") from e
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise ConfigError("kind: Invalid value: must be EncryptionConfiguration")
    if doc.get("apiVersion") not in ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1"):
        raise ConfigError("apiVersion: Invalid value: must be apiserver.config.k8s.io/v1")
    out = []
    for i, r in enumerate(doc.get("resources") or []):
        where = f"resources[{i}]"
        names = (r or {}).get("resources")
        if not isinstance(names, list) or not names:
            raise ConfigError(f"{where}.resources: Required value")
        out.append(([str(n) for n in names], _providers(r.get("providers"), where)))
    return out


def _matches(pattern: str, plural: str, group: str) -> bool:
    res, _, grp = pattern.partition(".")
    return (res in ("*", plural)) and (grp == "*" or grp == group)


def for_key(config: list[tuple[list[str], list[Provider]]],
            group_of: Callable[[str], str | None]) -> Callable[[str], list[Provider] | None]:
    """A function storage key → the providers of its resource (first matching entry), or None."""
    cache: dict[str, list[Provider] | None] = {}

    def lookup(key: str) -> list[Provider] | None:
        segment = key.split("/", 3)[2] if key.startswith("/registry/") else ""
        if segment not in cache:
            plural, group = segment, group_of(segment)
            if group is None and "." in segment:  # a custom resource's objects: /registry/<plural>.<group>/
                plural, _, group = segment.partition(".")
            cache[segment] = next((ps for pats, ps in config if group is not None
                                   and any(_matches(p, plural, group) for p in pats)), None)
        return cache[segment]
    return lookup


class EncryptingStorage(Storage):
    """Wraps a Storage: values of configured resources are encrypted on write, decrypted on read."""

    def __init__(self, inner: Storage, providers_for: Callable[[str], list[Provider] | None]) -> None:
        self.inner, self._for = inner, providers_for

    def __getattr__(self, name: str) -> Any:  # backend extras (probe_write, path, ...)
        return getattr(self.inner, name)

    def _enc(self, key: str, value: bytes) -> bytes:
        ps = self._for(key)
        return ps[0].encrypt(value, key.encode()) if ps else value

    def _dec(self, kv: KeyValue | None) -> KeyValue | None:
        if kv is None:
            return None
        ps = self._for(kv.key)
        if not ps:
            return kv
        value = kv.value
        for p in ps:
            pre = p.prefix
            if pre and value.startswith(pre):
                return KeyValue(kv.key, p.decrypt(value[len(pre):], kv.key.encode()), kv.create_revision,
                                kv.mod_revision)
        if not value.startswith(PREFIX) and any(isinstance(p, Identity) for p in ps):
            return kv
        raise StorageError(f"no configured provider can read {kv.key} (stored as "
                           f"{value[:40].split(b':', 5)[:5] if value.startswith(PREFIX) else 'plain text'!r})")

    async def stale(self, key: str) -> bool:
        ps = self._for(key)
        kv = await self.inner.get(key) if ps else None
        if kv is None or not ps:
            return False
        first = ps[0]
        return not kv.value.startswith(first.prefix) if first.prefix else kv.value.startswith(PREFIX)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def get(self, key: str) -> KeyValue | None:
        return self._dec(await self.inner.get(key))

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        r = await self.inner.list(prefix, revision=revision, limit=limit, start_after=start_after)
        return ListResult([self._dec(kv) for kv in r.items], r.revision, r.more)  # type: ignore[misc]

    async def create(self, key: str, value: bytes) -> KeyValue:
        kv = await self.inner.create(key, self._enc(key, value))
        return KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def update(self, key: str, value: bytes, *, expected_revision: int = 0) -> KeyValue:
        try:
            kv = await self.inner.update(key, self._enc(key, value), expected_revision=expected_revision)
        except RevisionMismatch as e:
            raise RevisionMismatch(key, self._dec(e.current)) from None
        return KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        try:
            return self._dec(await self.inner.delete(key, expected_revision=expected_revision))  # type: ignore[return-value]
        except RevisionMismatch as e:
            raise RevisionMismatch(key, self._dec(e.current)) from None

    async def watch(self, prefix: str, *, after: int) -> AsyncIterator[WatchEvent]:
        async for ev in self.inner.watch(prefix, after=after):
            if ev.type == "PROGRESS":  # no value to decrypt
                yield ev
                continue
            yield WatchEvent(ev.type, self._dec(ev.kv), self._dec(ev.prev))  # type: ignore[arg-type]


def wrap(storage: Storage, config_path: str) -> EncryptingStorage:
    """The storage with ``config_path``'s EncryptionConfiguration applied to the registry's resources."""
    from apiserver.registry.table import TABLE  # the one registry table: plural → API group

    groups = {e.type.plural: e.type.group for e in TABLE}
    return EncryptingStorage(storage, for_key(load(config_path), groups.get))
