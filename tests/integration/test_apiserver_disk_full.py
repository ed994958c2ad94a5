"""A full disk under the data dir (a real one: a small tmpfs filled up): writes answer 507
naming the full disk instead of a generic 500, /readyz reports not ready until a write
succeeds again, reads go on, and start-up on a full disk says what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, missing, pick_free_port


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs of the test's own."""
    if os.geteuid() != 0:
        missing("mounting a tmpfs needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        missing(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    """Fill the file system up to its last byte; the filler file is returned for removal."""
    filler = disk / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def cm(name: str) -> dict:
    return {"metadata": {"name": name}, "data": {"payload": "x" * 4096}}


def test_full_disk_is_507_and_not_ready_until_a_write_succeeds(small_disk, apiserver_factory):
    server = apiserver_factory(data_dir=small_disk / "data")
    with server.http(timeout=10) as c:
        assert c.post("/api/v1/namespaces/default/configmaps", json=cm("before")).status_code == 201
        filler = fill(small_disk)
        # Writes fail, each answered 507 with the reason; none leaves anything behind.
        for i in range(3):
            r = c.post("/api/v1/namespaces/default/configmaps", json=cm(f"full-{i}"))
            assert r.status_code == 507, r.text
            body = r.json()
            assert body["reason"] == "InsufficientStorage" and body["code"] == 507
            assert "full" in body["message"] and str(small_disk) in body["message"]
        r = c.get("/readyz")
        assert r.status_code == 503 and "full" in r.text
        assert c.get("/livez").status_code == 200  # alive, only not ready
        names = [i["metadata"]["name"] for i in c.get("/api/v1/namespaces/default/configmaps").json()["items"]]
        assert "before" in names and not any(n.startswith("full-") for n in names)
        filler.unlink()
        assert c.get("/readyz").status_code == 200  # a probe write succeeded
        assert c.post("/api/v1/namespaces/default/configmaps", json=cm("after")).status_code == 201


def test_start_on_a_full_disk_says_so(small_disk):
    fill(small_disk)
    proc = subprocess.run([sys.executable, "-m", "apiserver.main", "--data-dir", str(small_disk / "data"),
                           "--port", str(pick_free_port())], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "full" in proc.stderr and str(small_disk) in proc.stderr, proc.stderr
    assert "disk I/O error" not in proc.stderr
