"""Running the host's network tools (iptables, iptables-restore, iptables-save, conntrack, ip).

The only module of the proxy and the pod network that starts those programs. Every call runs
in a worker thread with :mod:`subprocess`, which starts the program with ``vfork`` (the
kubelet's memory is not copied); an asyncio subprocess (uvloop's ``fork``) held the event loop
and the GIL for the fork and the child's way to ``exec``: 5-9 ms per program at 8 at once, more
on a busy machine, where each pod start runs two (tests/perf/RESULTS.md). A failure is a
:class:`CommandError` that carries the tool's own message. ``iptables`` calls pass ``-w`` (wait
for the xtables lock other tools such as Docker hold), and so does ``iptables-restore`` on the
legacy backend (the nf_tables one commits in one transaction and takes no lock).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import subprocess

__all__ = ["CommandError", "run", "iptables", "iptables_ok", "ensure_rule", "delete_rule", "restore", "save",
           "conntrack_delete", "ensure_chain", "is_nft"]

log = logging.getLogger(__name__)


class CommandError(Exception):
    """Raised when a network tool exits non-zero; ``str()`` is its stderr."""

    def __init__(self, argv: list[str], code: int, stderr: str) -> None:
        super().__init__(f"{' '.join(argv[:4])}...: exit {code}: {stderr.strip()}")
        self.argv, self.code, self.stderr = argv, code, stderr


async def run(argv: list[str], *, input: str | None = None, check: bool = True) -> tuple[int, str, str]:
    """Run a command; (exit code, stdout, stderr). ``check`` raises CommandError on failure."""
    if shutil.which(argv[0]) is None:
        raise CommandError(argv, 127, f"{argv[0]}: not found")
    done = await asyncio.to_thread(
        subprocess.run, argv, input=input.encode() if input is not None else None,
        stdin=subprocess.DEVNULL if input is None else None, capture_output=True)
    out, err, code = done.stdout, done.stderr, done.returncode
    if check and code != 0:
        raise CommandError(argv, code, err.decode(errors="replace"))
    return code, out.decode(errors="replace"), err.decode(errors="replace")


@functools.cache
def is_nft() -> bool:
    try:
        out = subprocess.run(["iptables", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "nf_tables" in out


async def iptables(table: str, *args: str, check: bool = True) -> tuple[int, str, str]:
    return await run(["iptables", "-w", "5", "-t", table, *args], check=check)


async def iptables_ok(table: str, *args: str) -> bool:
    code, _, _ = await iptables(table, *args, check=False)
    return code == 0


async def ensure_chain(table: str, chain: str) -> None:
    if not await iptables_ok(table, "-n", "-L", chain):
        await iptables(table, "-N", chain, check=False)


async def ensure_rule(table: str, chain: str, rule: tuple[str, ...] | list[str], *, position: int | None = 1) -> bool:
    """Make sure ``rule`` is in ``chain`` (inserted at ``position``, or appended when None);
    True when it had to be added."""
    if await iptables_ok(table, "-C", chain, *rule):
        return False
    if position is None:
        await iptables(table, "-A", chain, *rule)
    else:
        await iptables(table, "-I", chain, str(position), *rule)
    return True


async def delete_rule(table: str, chain: str, rule: tuple[str, ...] | list[str]) -> None:
    """Remove every copy of ``rule`` from ``chain``; absent is fine."""
    for _ in range(100):
        if not await iptables_ok(table, "-C", chain, *rule):
            return
        await iptables(table, "-D", chain, *rule, check=False)


async def restore(text: str) -> None:
    """Apply an ``iptables-restore --noflush`` document atomically."""
    argv = ["iptables-restore", "--noflush"]
    if not is_nft():
        argv.insert(1, "-w")
    await run(argv, input=text)


async def save(table: str) -> str:
    _, out, _ = await run(["iptables-save", "-t", table])
    return out


def chains_in(saved: str) -> set[str]:
    """The chain names an ``iptables-save`` table declares."""
    return {line[1:].split(" ", 1)[0] for line in saved.splitlines() if line.startswith(":")}


async def conntrack_delete(*args: str) -> None:
    """Delete conntrack entries matching ``args``; nothing matching (exit 1) is fine."""
    try:
        await run(["conntrack", "-D", *args], check=False)
    except CommandError as e:  # conntrack not installed: stale UDP flows age out by themselves
        log.debug("conntrack: %s", e)
