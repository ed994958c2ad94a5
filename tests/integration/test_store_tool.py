"""``minik8s store``: copying a cluster's state from SQLite to a real etcd and back, and
``snapshot save|restore`` of the embedded store taken while the apiserver keeps writing, each
checked through a real apiserver and the real kubectl."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import REPO
from tests.etcd_harness import etcd_factory  # noqa: F401 (fixture)


def store_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minik8s.up.main", "store", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def state(kubectl, server) -> dict[str, object]:
    """What a user sees: every ConfigMap and Secret in default, by name, without server fields."""
    out = kubectl("get", "configmaps,secrets", "-n", "default", "-o", "json", server=server)
    assert out.returncode == 0, out.stderr
    seen = {}
    for item in json.loads(out.stdout)["items"]:
        md = item["metadata"]
        seen[f"{item['kind']}/{md['name']}"] = (md["uid"], md.get("labels"), item.get("data"))
    return seen


def test_copy_sqlite_to_etcd_and_back(apiserver_factory, etcd_factory, kubectl, tmp_path: Path) -> None:
    sqlite_dir = tmp_path / "sqlite"
    server = apiserver_factory(data_dir=sqlite_dir)
    for i in range(30):
        assert kubectl("create", "configmap", f"c{i}", f"--from-literal=i={i}", server=server).returncode == 0
    kubectl("label", "configmap", "c3", "tier=web", server=server)
    kubectl("create", "secret", "generic", "s1", "--from-literal=p=x", server=server)
    kubectl("delete", "configmap", "c4", server=server)
    before = state(kubectl, server)
    server.stop()

    etcd = etcd_factory()
    out = store_tool("copy", "--from", f"sqlite:{sqlite_dir}", "--to", f"etcd:{etcd.url}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("copied ") and f"to etcd:{etcd.url}" in out.stdout
    # The destination must be empty: a second copy is refused, naming why.
    again = store_tool("copy", "--from", f"sqlite:{sqlite_dir}", "--to", f"etcd:{etcd.url}")
    assert again.returncode == 1 and "copy only into an empty store" in again.stderr

    on_etcd = apiserver_factory(extra_args=("--etcd-servers", etcd.url))
    assert state(kubectl, on_etcd) == before
    kubectl("create", "configmap", "made-on-etcd", server=on_etcd)
    after = state(kubectl, on_etcd)
    on_etcd.stop()

    back_dir = tmp_path / "back"
    out = store_tool("copy", "--from", f"etcd:{etcd.url}", "--to", f"sqlite:{back_dir}")
    assert out.returncode == 0, out.stderr
    back = apiserver_factory(data_dir=back_dir)
    assert state(kubectl, back) == after


def test_copy_refuses_bad_store_names(tmp_path: Path) -> None:
    out = store_tool("copy", "--from", f"sqlite:{tmp_path / 'none'}", "--to", "etcd:http://127.0.0.1:1")
    assert out.returncode == 1 and "no store there" in out.stderr
    out = store_tool("copy", "--from", "mysql:x", "--to", f"sqlite:{tmp_path}")
    assert out.returncode == 1 and "a store is sqlite:DIR or etcd:URL" in out.stderr


def test_snapshot_save_online_and_restore(apiserver_factory, kubectl, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = apiserver_factory(data_dir=data_dir)
    base = "/api/v1/namespaces/default/configmaps"
    acked: list[str] = []
    stop = threading.Event()

    def write() -> None:  # writes go on while the snapshot is taken
        with server.http(timeout=30) as http:
            i = 0
            while not stop.is_set():
                if http.post(base, json={"metadata": {"name": f"w{i}"}}).status_code == 201:
                    acked.append(f"w{i}")
                i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(acked) < 50:
            stop.wait(0.05)
        before_save = list(acked)
        snap = tmp_path / "backup.db"
        out = store_tool("snapshot", "save", str(snap), "--data-dir", str(data_dir))
        while len(acked) < len(before_save) + 50:
            stop.wait(0.05)
    finally:
        stop.set()
        writer.join()
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Snapshot saved at {snap} (revision ")
    assert snap.stat().st_mode & 0o777 == 0o600
    server.stop()

    # Restore refuses a data dir that has a store, as etcdctl refuses an existing member dir.
    refused = store_tool("snapshot", "restore", str(snap), "--data-dir", str(data_dir))
    assert refused.returncode == 1 and "already has a store" in refused.stderr
    restored_dir = tmp_path / "restored"
    out = store_tool("snapshot", "restore", str(snap), "--data-dir", str(restored_dir))
    assert out.returncode == 0, out.stderr
    restored = apiserver_factory(data_dir=restored_dir)
    with restored.http(timeout=30) as http:
        listed = http.get(base).json()
    names = {o["metadata"]["name"] for o in listed["items"]}
    # Everything acknowledged before the save began is there; the copy is one commit's state:
    # the writes it holds are exactly w0..wN with no gap.
    assert set(before_save) <= names
    numbers = sorted(int(n[1:]) for n in names)
    assert numbers == list(range(len(numbers)))
    assert len(numbers) < len(acked)
    # It is a working store: writes continue from the snapshot's revision.
    with restored.http(timeout=30) as http:
        r = http.post(base, json={"metadata": {"name": "after-restore"}})
        assert r.status_code == 201, r.text
        assert int(r.json()["metadata"]["resourceVersion"]) > int(listed["metadata"]["resourceVersion"])
    bad = tmp_path / "not-a-store"
    bad.write_bytes(b"hello")
    out = store_tool("snapshot", "restore", str(bad), "--data-dir", str(tmp_path / "r2"))
    assert out.returncode == 1 and "not a minik8s store" in out.stderr
