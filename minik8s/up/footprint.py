"""How much memory the processes of a supervised minik8s hold, read from ``/proc``, for
``minik8s status`` (and the footprint benchmark, which reads it the same way).

Per process three figures, as ``smem`` and the kernel's ``smaps_rollup`` give them:

- **RSS**: the resident pages the process maps, its share of libraries and of pages shared
  with other processes counted whole (what ``ps``, ``top`` and ``docker stats`` show);
- **PSS**: each shared page divided among the processes that map it, so PSS sums to what the
  processes together really hold;
- **USS**: the pages only this process maps (what stopping it would free).

A component is its process and that process's descendants (a helper it started), never the
containers of its pods (their parent is Docker's shim). ``smaps_rollup`` needs the right to
ptrace the process (the same user, or root); otherwise only RSS is read from ``status``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Mapping

__all__ = ["Memory", "descendants", "of_process", "of_tree", "format_bytes"]

_KIB = 1024


@dataclasses.dataclass(frozen=True)
class Memory:
    """Bytes of memory of one process or the sum of several; ``pss``/``uss`` are None when
    some process's ``smaps_rollup`` could not be read."""

    rss: int
    pss: int | None = None
    uss: int | None = None
    processes: int = 1

    def __add__(self, other: Memory) -> Memory:
        pss = None if self.pss is None or other.pss is None else self.pss + other.pss
        uss = None if self.uss is None or other.uss is None else self.uss + other.uss
        return Memory(self.rss + other.rss, pss, uss, self.processes + other.processes)

    def to_json(self) -> dict[str, int | None]:
        return {"rss": self.rss, "pss": self.pss, "uss": self.uss, "processes": self.processes}


def _rollup(pid: int) -> Memory | None:
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                name, _, rest = line.partition(b":")
                parts = rest.split()
                if parts and parts[-1] == b"kB":
                    fields[name.decode()] = int(parts[0]) * _KIB
    except (OSError, ValueError):
        return None
    if "Rss" not in fields:  # a kernel thread, or a process that is exiting
        return None
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(fields["Rss"], fields.get("Pss"), private)


def _status_rss(pid: int) -> Memory | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return Memory(int(line.split()[1]) * _KIB)
    except (OSError, ValueError, IndexError):
        return None
    return None


def of_process(pid: int) -> Memory | None:
    """The memory of one process; None when it does not exist (any more)."""
    return _rollup(pid) or _status_rss(pid)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process on the host."""
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                # the command name (field 2) may hold spaces and parentheses: parse after its last ")"
                out[int(entry.name)] = int(f.read().rpartition(b")")[2].split()[1])
    return out


def descendants(pids: Iterable[int], parents: Mapping[int, int] | None = None) -> dict[int, list[int]]:
    """Each of ``pids`` -> its descendants (children, their children, ...), from one scan."""
    parents = _parents() if parents is None else parents
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, list[int]] = {}
    for root in pids:
        found: list[int] = []
        todo = list(children.get(root, ()))
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        out[root] = found
    return out


def of_tree(pid: int, below: Iterable[int] = ()) -> Memory | None:
    """The memory of ``pid`` and of the processes ``below`` it (see :func:`descendants`);
    None when ``pid`` itself is gone."""
    total = of_process(pid)
    if total is None:
        return None
    for child in below:
        m = of_process(child)
        if m is not None:
            total = total + m
    return total


def format_bytes(n: int | None) -> str:
    """``123456789`` -> ``"118Mi"``: binary units as ``kubectl top`` prints them."""
    if n is None:
        return "-"
    if n >= 1024 * _KIB * 10:
        return f"{round(n / (_KIB * _KIB))}Mi"
    if n >= _KIB * _KIB:
        return f"{n / (_KIB * _KIB):.1f}Mi"
    return f"{round(n / _KIB)}Ki"
