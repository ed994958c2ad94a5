"""minik8s/up/footprint.py on this test's own processes: one process's RSS/PSS/USS from
/proc, a process tree found from /proc's parent links, and the units printed."""

from __future__ import annotations

import os
import subprocess
import sys

from minik8s.up import footprint

HOLD = "import sys; b = bytearray(b'x' * (40 << 20)); print('ready', flush=True); sys.stdin.read()"


def test_a_process_tree_is_found_and_summed():
    # a child that holds 40 MiB and a grandchild that does the same
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', sys.argv[1]], stdout=subprocess.PIPE,"
        " stdin=subprocess.PIPE); c.stdout.readline(); print('ready', flush=True); sys.stdin.read()"), HOLD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        tree = footprint.descendants([parent.pid, os.getpid()])
        assert len(tree[parent.pid]) == 1
        assert parent.pid in tree[os.getpid()] and tree[parent.pid][0] in tree[os.getpid()]
        alone = footprint.of_process(parent.pid)
        both = footprint.of_tree(parent.pid, tree[parent.pid])
        assert alone is not None and both is not None
        assert both.processes == 2 and both.rss >= alone.rss + (40 << 20)
        assert both.pss is not None and both.uss is not None and both.uss <= both.pss <= both.rss
    finally:
        parent.kill()
        parent.wait()
    assert footprint.of_process(parent.pid) is None  # reaped: gone


def test_sums_keep_pss_only_when_every_part_has_it():
    a = footprint.Memory(10, 8, 6)
    assert a + footprint.Memory(5, 4, 3) == footprint.Memory(15, 12, 9, 2)
    assert (a + footprint.Memory(5)).pss is None  # one process read from status only


def test_units_are_kubectl_tops():
    assert footprint.format_bytes(123 << 20) == "123Mi"
    assert footprint.format_bytes(int(2.5 * (1 << 20))) == "2.5Mi"
    assert footprint.format_bytes(512 << 10) == "512Ki"
    assert footprint.format_bytes(None) == "-"
