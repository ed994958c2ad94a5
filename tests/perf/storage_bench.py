"""Benchmark: create throughput of SQLiteStorage against raw SQLite, measured in the same run.

Run: .venv/bin/python tests/perf/storage_bench.py [--keys 5000] [--concurrency 32] [--size 1024]

Figures printed:
* raw sqlite, one fsynced transaction per insert (what a store without group commit pays);
* raw sqlite, all inserts in one transaction (the ceiling of the disk + SQLite);
* SQLiteStorage with N concurrent creators, with and without a watcher draining events;
and the ratios of SQLiteStorage to the raw baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from apiserver.storage.sqlite import SQLiteStorage


def _raw(path: str, keys: int, value: bytes, *, per_insert_commit: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB)")
    started = time.perf_counter()
    if not per_insert_commit:
        conn.execute("BEGIN")
    for i in range(keys):
        conn.execute("INSERT INTO kv VALUES (?, ?)", (f"/registry/pods/default/p-{i}", value))
    if not per_insert_commit:
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return keys / elapsed


async def _storage(path: str, keys: int, value: bytes, concurrency: int, *, watch: bool) -> float:
    store = SQLiteStorage(path, compaction_interval=0)
    await store.start()
    seen = 0

    async def drain() -> None:
        nonlocal seen
        async for _ in store.watch("/registry/", after=0):
            seen += 1
            if seen == keys:
                return

    watcher = asyncio.create_task(drain()) if watch else None
    await asyncio.sleep(0)
    counter = iter(range(keys))

    async def creator() -> None:
        for i in counter:
            await store.create(f"/registry/pods/default/p-{i}", value)

    started = time.perf_counter()
    await asyncio.gather(*(creator() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if watcher is not None:
        await asyncio.wait_for(watcher, 60)
    assert await store.current_revision() == keys
    await store.close()
    return keys / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    value = os.urandom(args.size // 2).hex().encode()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        # Per-insert commits cost one fsync each: measure fewer keys so the run stays short.
        raw_keys = min(args.keys, 1000)
        raw_each = _raw(f"{tmp}/raw1.db", raw_keys, value, per_insert_commit=True)
        raw_one = _raw(f"{tmp}/raw2.db", args.keys, value, per_insert_commit=False)
        n, c = args.keys, args.concurrency
        plain = asyncio.run(_storage(f"{tmp}/s1.db", n, value, c, watch=False))
        watched = asyncio.run(_storage(f"{tmp}/s2.db", n, value, c, watch=True))
    print(f"keys={n} value={args.size}B concurrency={c} cpus={os.cpu_count()}")
    print(f"raw sqlite, commit per insert : {raw_each:9.0f} inserts/s")
    print(f"raw sqlite, one transaction   : {raw_one:9.0f} inserts/s")
    for label, rate in (("SQLiteStorage", plain), ("SQLiteStorage + 1 watcher", watched)):
        print(f"{label:<30}: {rate:9.0f} creates/s  ({rate / raw_each:.1f}x commit-per-insert,"
              f" {rate / raw_one:.2f}x one-transaction)")


if __name__ == "__main__":
    main()
