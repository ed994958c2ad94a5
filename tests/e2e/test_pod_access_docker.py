"""Pod access with the real kubectl on real Docker: ``kubectl cp`` both ways (tar through
exec, busybox tar in the pod), ``kubectl attach``, ``kubectl run -it --rm`` and ``kubectl
debug`` (ephemeral containers)."""

from __future__ import annotations

import os

import pytest

from tests.kubelet_harness import is_ready, kubelet_factory, pod_manifest, wait_pod  # noqa: F401 - fixtures
from minik8s.api.resources import PODS

pytestmark = pytest.mark.docker

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


async def test_cp_in_and_out_byte_for_byte(client, namespace, kubelet_factory, test_images, kubectl, tmp_path) -> None:
    kubelet = kubelet_factory()
    await client.create(PODS, pod_manifest("box", kubelet.node, [{"name": "main", "command": SLEEP}]),
                        namespace=namespace)
    await wait_pod(client, namespace, "box", is_ready, what="Ready", kubelet=kubelet)
    payload = os.urandom(300_000) + b"\x00\xff end"
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.txt").write_text("beta\n")

    out = kubectl("cp", str(src), f"{namespace}/box:/tmp/in.bin", timeout=60)
    assert out.returncode == 0, out.stderr
    # The bytes in the container are those sent (checked inside, not through cp).
    out = kubectl("exec", "-n", namespace, "box", "--", "wc", "-c", "/tmp/in.bin")
    assert out.stdout.split()[0] == str(len(payload)), out

    out = kubectl("cp", f"{namespace}/box:/tmp/in.bin", str(tmp_path / "out.bin"), timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.bin").read_bytes() == payload

    # A directory, in and back out.
    out = kubectl("cp", str(tree), f"{namespace}/box:/tmp/tree", "-c", "main", timeout=60)
    assert out.returncode == 0, out.stderr
    assert kubectl("exec", "-n", namespace, "box", "--", "cat", "/tmp/tree/sub/b.txt").stdout == "beta\n"
    out = kubectl("cp", f"{namespace}/box:/tmp/tree", str(tmp_path / "back"), timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "back" / "a.txt").read_text() == "alpha\n"
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "beta\n"

    # A file that is not there: the pod's tar says so through the exec's stderr (kubectl 1.32
    # prints it and, as against Kubernetes, still exits 0), and nothing is written here.
    out = kubectl("cp", f"{namespace}/box:/tmp/nope", str(tmp_path / "nope"), timeout=60)
    assert "tar: /tmp/nope: No such file or directory" in out.stdout + out.stderr, out
    assert not (tmp_path / "nope").exists()
