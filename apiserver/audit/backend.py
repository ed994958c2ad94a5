"""Where audit events go: a buffer the request path only appends to, and a writer thread that
encodes and writes them in batches (Kubernetes' buffered backend around its log backend), into
a file rotated by size (lumberjack, which kube-apiserver's ``--audit-log-*`` flags drive) or
to standard output (``--audit-log-path=-``).

The request path pays for one ``deque.append`` of what it already holds; building the
event, encoding it and the write happen in the thread. The buffer holds at most
``buffer_size`` events: beyond that, events are dropped and counted (``dropped``), as
Kubernetes' batch backend drops what its full buffer cannot take rather than block requests.
The thread writes every ``max_wait`` seconds, or sooner once ``max_batch`` events wait.

Rotation (``max_size`` MB, 100 when 0, as lumberjack): before a line would take the file past
the size, it is renamed to ``<name>-<UTC time 2006-01-02T15-04-05.000><ext>`` and a new file
(mode 0600) begun; then backups beyond ``max_backups`` (0: keep all) and older than
``max_age`` days (0: no limit) are removed, oldest first, and with ``compress`` each backup is
gzipped.
"""

from __future__ import annotations

import collections
import datetime
import gzip
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

__all__ = ["BufferedBackend", "RotatingFile", "legacy_line"]

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
_STAMP = "%Y-%m-%dT%H-%M-%S"


class RotatingFile:
    """An append-only file rotated by size, with lumberjack's names and clean-up."""

    def __init__(self, path: str, *, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0,
                 compress: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.max_bytes = (max_size_mb or 100) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.compress = compress
        self.clock = clock
        self._file: BinaryIO | None = None
        self._size = 0
        base = os.path.basename(path)
        self._prefix, self._ext = os.path.splitext(base)
        self._backup_re = re.compile(re.escape(self._prefix) + r"-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})"
                                     + re.escape(self._ext) + r"(\.gz)?$")

    def _open(self) -> BinaryIO:
        if self._file is None:
            d = os.path.dirname(self.path)
            if d:
                os.makedirs(d, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "ab")
            self._size = os.fstat(fd).st_size
        return self._file

    def write(self, lines: list[bytes]) -> None:
        """Append ``lines`` (each ending in a newline), rotating between lines as needed."""
        f = self._open()
        pending: list[bytes] = []
        for line in lines:
            if self._size + len(line) > self.max_bytes and self._size > 0:
                if pending:
                    f.write(b"".join(pending))
                    pending = []
                f = self._rotate()
            pending.append(line)
            self._size += len(line)
        if pending:
            f.write(b"".join(pending))
        f.flush()

    def _rotate(self) -> BinaryIO:
        assert self._file is not None
        self._file.close()
        self._file = None
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        stamp = now.strftime(_STAMP) + f".{now.microsecond // 1000:03d}"
        backup = os.path.join(os.path.dirname(self.path), f"{self._prefix}-{stamp}{self._ext}")
        os.replace(self.path, backup)
        if self.compress:
            with open(backup, "rb") as src, gzip.open(backup + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(backup + ".gz", 0o600)
            os.unlink(backup)
        self._clean_up()
        return self._open()

    def backups(self) -> list[tuple[str, str]]:
        """``(timestamp, path)`` of every backup, newest first."""
        d = os.path.dirname(self.path) or "."
        found = []
        for name in os.listdir(d):
            m = self._backup_re.match(name)
            if m:
                found.append((m.group(1), os.path.join(d, name)))
        return sorted(found, reverse=True)

    def _clean_up(self) -> None:
        backups = self.backups()
        doomed = []
        if self.max_backups > 0:
            doomed += backups[self.max_backups:]
            backups = backups[:self.max_backups]
        if self.max_age_days > 0:
            cutoff = datetime.datetime.fromtimestamp(self.clock() - self.max_age_days * 86400, datetime.UTC)
            limit = cutoff.strftime(_STAMP) + f".{cutoff.microsecond // 1000:03d}"
            doomed += [b for b in backups if b[0] < limit]
        for _, path in doomed:
            try:
                os.unlink(path)
            except OSError as e:
                log.warning("audit log: cannot remove old backup %s: %s", path, e)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Stdout:
    def write(self, lines: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(lines))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        pass


def _q(text: str) -> str:
    return orjson.dumps(text).decode()


def legacy_line(ev: dict[str, Any]) -> bytes:
    """``--audit-log-format=legacy``: Kubernetes' one-line text form of an event."""
    user = ev.get("user") or {}
    username, groups = "<none>", "<none>"
    if user.get("username"):
        username = user["username"]
        if user.get("groups"):
            groups = ",".join(_q(g) for g in user["groups"])
    as_user, as_groups = "<self>", "<lookup>"
    imp = ev.get("impersonatedUser")
    if imp is not None:
        as_user = imp.get("username", "")
        if imp.get("groups") is not None:
            as_groups = ",".join(_q(g) for g in imp["groups"])
    ns = (ev.get("objectRef") or {}).get("namespace") or "<none>"
    response = str(ev["responseStatus"]["code"]) if ev.get("responseStatus") else "<deferred>"
    ip = ev["sourceIPs"][0] if ev.get("sourceIPs") else "<unknown>"
    line = (f'{ev["requestReceivedTimestamp"]} AUDIT: id={_q(ev["auditID"])} stage={_q(ev["stage"])} ip={_q(ip)} '
            f'method={_q(ev["verb"])} user={_q(username)} groups={_q(groups)} as={_q(as_user)} '
            f'asgroups={_q(as_groups)} user-agent={_q(ev.get("userAgent", ""))} namespace={_q(ns)} '
            f'uri={_q(ev["requestURI"])} response="{response}"\n')
    return line.encode()


def _json_line(ev: dict[str, Any]) -> bytes:
    return orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE)


class BufferedBackend:
    """Takes event records on the request path; a thread builds, encodes and writes them."""

    def __init__(self, path: str, build: Callable[..., dict[str, Any]], *, log_format: str = "json",
                 max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0, compress: bool = False,
                 buffer_size: int = 10_000, max_batch: int = 400, max_wait: float = 0.2,
                 on_written: Callable[[dict[str, Any]], None] | None = None) -> None:
        """``build(*record)`` makes an event of a record; ``on_written(event)`` counts it."""
        self.sink: Any = _Stdout() if path == "-" else RotatingFile(
            path, max_size_mb=max_size_mb, max_backups=max_backups, max_age_days=max_age_days, compress=compress)
        self.build = build
        self.encode = legacy_line if log_format == "legacy" else _json_line
        self.buffer_size = buffer_size
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.on_written = on_written
        self.dropped = 0
        self.errors = 0
        self.written = 0
        self._buffer: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, record: tuple[Any, ...]) -> None:
        """Queue one event record (request path: no I/O, no encoding)."""
        n = len(self._buffer)
        if n >= self.buffer_size:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("audit buffer full (%d events): %d event(s) dropped so far", self.buffer_size, self.dropped)
            return
        self._buffer.append(record)
        if n + 1 == self.max_batch:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.max_wait)
            self._wake.clear()
            stopping = self._stopping
            self.flush()
            if stopping:
                return

    def flush(self) -> None:
        """Write everything buffered (the writer thread; and at stop)."""
        buf = self._buffer
        while buf:
            lines: list[bytes] = []
            events: list[dict[str, Any]] = []
            while buf and len(lines) < 4 * self.max_batch:
                record = buf.popleft()
                try:
                    ev = self.build(*record)
                    lines.append(self.encode(ev))
                    events.append(ev)
                except Exception:  # one bad event must not stop the log
                    self.errors += 1
                    log.exception("audit event could not be built")
            try:
                self.sink.write(lines)
            except OSError as e:
                self.errors += len(lines)
                log.error("audit log: writing %d event(s) failed: %s", len(lines), e)
                continue
            self.written += len(lines)
            if self.on_written is not None:
                for ev in events:
                    self.on_written(ev)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is buffered and end the thread."""
        if self._thread.is_alive():
            self._stopping = True
            self._wake.set()
            self._thread.join(timeout)
        else:
            self.flush()
        self.sink.close()
