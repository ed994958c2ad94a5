"""Secrets encrypted at rest (``--encryption-provider-config``) against the real SQLite store
and the real kubectl: the value is nowhere in ``store.db`` or its WAL, reads give it back, the
files are 0600, and a new key takes over after ``kubectl get secrets -A -o json | kubectl
replace -f -`` re-writes every Secret."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from pathlib import Path

MARKER = "sup3r-s3cret-value-9f1c"


def _config(path: Path, *keys: tuple[str, bytes]) -> str:
    entries = "".join(f"            - name: {n}\n              secret: {base64.b64encode(k).decode()}\n"
                      for n, k in keys)
    path.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n"
        f"{entries}      - identity: {{}}\n")
    os.chmod(path, 0o600)
    return str(path)


def _raw_files(data_dir: Path) -> bytes:
    return b"".join((data_dir / f).read_bytes() for f in ("store.db", "store.db-wal") if (data_dir / f).exists())


def _stored_prefix(data_dir: Path, name: str) -> bytes:
    conn = sqlite3.connect(f"file:{data_dir / 'store.db'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT log.value FROM kv JOIN log ON log.revision = kv.mod_revision"
                           " WHERE kv.key = ?", (f"/registry/secrets/default/{name}",)).fetchone()
    finally:
        conn.close()
    return bytes(row[0])[:len(b"k8s:enc:aescbc:v1:key1:")]


def test_secret_encrypted_in_store_and_rotated(apiserver_factory, kubectl, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cfg = _config(tmp_path / "enc.yaml", ("key1", os.urandom(32)))
    key1 = (tmp_path / "enc.yaml").read_text().split("secret: ")[1].split()[0]
    server = apiserver_factory(data_dir=data_dir, extra_args=("--encryption-provider-config", cfg))
    out = kubectl("create", "secret", "generic", "s1", f"--from-literal=password={MARKER}", server=server)
    assert out.returncode == 0, out.stderr
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}", server=server)
    assert base64.b64decode(out.stdout).decode() == MARKER
    raw = _raw_files(data_dir)
    assert raw, "no store files"
    for needle in (MARKER.encode(), base64.b64encode(MARKER.encode())):
        assert needle not in raw
    assert _stored_prefix(data_dir, "s1") == b"k8s:enc:aescbc:v1:key1:"
    # Resources not listed stay readable JSON (the identity default).
    kubectl("create", "configmap", "c1", "--from-literal=k=plain-configmap-value-77", server=server)
    assert b"plain-configmap-value-77" in _raw_files(data_dir)
    for f in ("store.db", "store.db-wal", "store.db-shm"):
        assert stat.S_IMODE((data_dir / f).stat().st_mode) == 0o600, f

    # Rotation: key2 first (encrypts), key1 still listed (decrypts), then re-write every Secret.
    server.stop()
    cfg2 = _config(tmp_path / "enc2.yaml", ("key2", os.urandom(32)), ("key1", base64.b64decode(key1)))
    server = apiserver_factory(data_dir=data_dir, extra_args=("--encryption-provider-config", cfg2))
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}", server=server)
    assert base64.b64decode(out.stdout).decode() == MARKER, out.stderr
    assert _stored_prefix(data_dir, "s1") == b"k8s:enc:aescbc:v1:key1:"
    listing = kubectl("get", "secrets", "-A", "-o", "json", server=server)
    assert listing.returncode == 0, listing.stderr
    out = kubectl("replace", "-f", "-", input=listing.stdout, server=server)
    assert out.returncode == 0, out.stderr
    assert _stored_prefix(data_dir, "s1") == b"k8s:enc:aescbc:v1:key2:"

    # key1 dropped: everything still reads with key2 alone.
    server.stop()
    cfg3 = _config(tmp_path / "enc3.yaml", *[("key2", base64.b64decode(
        (tmp_path / "enc2.yaml").read_text().split("secret: ")[1].split()[0]))])
    server = apiserver_factory(data_dir=data_dir, extra_args=("--encryption-provider-config", cfg3))
    items = json.loads(kubectl("get", "secrets", "-A", "-o", "json", server=server).stdout)["items"]
    s1 = next(i for i in items if i["metadata"]["name"] == "s1")
    assert base64.b64decode(s1["data"]["password"]).decode() == MARKER
    assert MARKER.encode() not in _raw_files(data_dir)


def test_secretbox_secret_encrypted_in_store(apiserver_factory, kubectl, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cfg = tmp_path / "sb.yaml"
    cfg.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   "  - resources: [secrets]\n    providers:\n      - secretbox:\n          keys:\n"
                   f"            - name: key1\n              secret: {base64.b64encode(os.urandom(32)).decode()}\n"
                   "      - identity: {}\n")
    server = apiserver_factory(data_dir=data_dir, extra_args=("--encryption-provider-config", str(cfg)))
    out = kubectl("create", "secret", "generic", "s1", f"--from-literal=password={MARKER}", server=server)
    assert out.returncode == 0, out.stderr
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}", server=server)
    assert base64.b64decode(out.stdout).decode() == MARKER
    raw = _raw_files(data_dir)
    for needle in (MARKER.encode(), base64.b64encode(MARKER.encode())):
        assert needle not in raw
    assert b"k8s:enc:secretbox:v1:key1:" in raw


def test_bad_config_refused_at_startup(tmp_path: Path) -> None:
    import subprocess
    import sys
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   "  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n"
                   "            - name: k\n              secret: c2hvcnQ=\n")
    out = subprocess.run([sys.executable, "-m", "apiserver.main", "--data-dir", str(tmp_path / "d"), "--port", "1",
                          "--encryption-provider-config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "resources[0].providers[0].aescbc.keys[0].secret" in out.stderr
