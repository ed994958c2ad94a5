"""``python -m apiserver.storetool`` (what ``minik8s store`` runs): moving and backing up the
cluster's state with the apiserver's own storage code.

::

    copy --from sqlite:DIR --to etcd:URL[,URL]   (or the other way round; --etcd-prefix, TLS flags)
    snapshot save FILE [--data-dir DIR]          a consistent online copy of the embedded store
    snapshot restore FILE [--data-dir DIR]       put one in place for an apiserver not running

A store is named ``sqlite:DIR`` (the apiserver's ``--data-dir``: ``DIR/store.db``) or
``etcd:URL,...`` (``--etcd-servers``). For etcd's own backups use ``etcdctl snapshot``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from apiserver.storage import snapshot
from apiserver.storage.copy import copy
from apiserver.storage.interface import Storage, StorageError

PROG = "minik8s store"


def _store(spec: str, a: argparse.Namespace, *, source: bool) -> Storage:
    kind, _, where = spec.partition(":")
    if kind == "sqlite" and where:
        from apiserver.storage.sqlite import SQLiteStorage

        path = os.path.join(os.path.expanduser(where), "store.db")
        if source and not os.path.isfile(path):
            raise StorageError(f"{spec}: no store there ({path} does not exist)")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return SQLiteStorage(path, compaction_interval=0)
    if kind == "etcd" and where:
        from apiserver.storage.etcd import EtcdStorage

        try:
            return EtcdStorage(where, prefix=a.etcd_prefix, ca_file=a.etcd_cafile, cert_file=a.etcd_certfile,
                               key_file=a.etcd_keyfile, compaction_interval=0)
        except ValueError as e:
            raise StorageError(f"{spec}: {e}") from None
    raise StorageError(f"{spec!r}: a store is sqlite:DIR or etcd:URL[,URL]")


async def _copy(a: argparse.Namespace) -> str:
    src = _store(a.source, a, source=True)
    dst = _store(a.to, a, source=False)
    await src.start()
    try:
        await dst.start()
        try:
            result = await copy(src, dst)
        finally:
            await dst.close()
    finally:
        await src.close()
    return f"copied {result.keys} keys from {a.source} (revision {result.revision}) to {a.to}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Copy, back up and restore the cluster's state.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    c = sub.add_parser("copy", help="copy every object from one store into another, empty one",
                       description="Copy every object (current state, not history) between stores; the "
                                   "apiservers on both should be stopped. Clients relist afterwards.")
    c.add_argument("--from", dest="source", required=True, metavar="STORE", help="sqlite:DIR or etcd:URL[,URL]")
    c.add_argument("--to", required=True, metavar="STORE", help="sqlite:DIR or etcd:URL[,URL] (must be empty)")
    c.add_argument("--etcd-prefix", default="/registry", help="the etcd key prefix (default /registry)")
    c.add_argument("--etcd-cafile", default=None)
    c.add_argument("--etcd-certfile", default=None)
    c.add_argument("--etcd-keyfile", default=None)
    s = sub.add_parser("snapshot", help="back up or restore the embedded SQLite store")
    ssub = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("save", "write a consistent copy of the live store to FILE"),
                         ("restore", "put FILE in place as the store of a data dir without one")):
        x = ssub.add_parser(action, help=text, description=text)
        x.add_argument("file", metavar="FILE")
        x.add_argument("--data-dir", default=os.path.expanduser("~/.minik8s"),
                       help="the apiserver's data dir (default ~/.minik8s)")
    return p


def main(argv: list[str] | None = None) -> None:
    a = parser().parse_args(argv)
    try:
        if a.command == "copy":
            print(asyncio.run(_copy(a)))
        elif a.action == "save":
            info = snapshot.save(os.path.join(a.data_dir, "store.db"), a.file)
            print(f"Snapshot saved at {a.file} (revision {info.revision}, {info.keys} keys)")
        else:
            info = snapshot.restore(a.file, a.data_dir)
            print(f"Restored {a.file} into {a.data_dir} (revision {info.revision}, {info.keys} keys)")
    except (StorageError, OSError) as e:
        sys.exit(f"{PROG}: error: {e}")


if __name__ == "__main__":
    main()
