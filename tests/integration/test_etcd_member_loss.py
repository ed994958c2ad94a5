"""An etcd member lost in a three-member cluster (issue #12): an apiserver given all three
(``--etcd-servers``) goes on taking a stream of creates while the etcd leader is SIGKILLed: no
acknowledged write is lost, none is refused, and the longest gap between acknowledged writes (the
failover time) is printed."""

from __future__ import annotations

import threading
import time

import httpx

from tests.etcd_harness import start_etcd_cluster


def leader(members) -> int:
    """The index of the member that leads (etcd's JSON gateway: maintenance status)."""
    for i, m in enumerate(members):
        if m.proc is None or m.proc.poll() is not None:
            continue
        status = httpx.post(f"{m.url}/v3/maintenance/status", json={}, timeout=5).json()
        if status["leader"] == status["header"]["member_id"]:
            return i
    raise AssertionError("no etcd leader")


def test_leader_loss_loses_no_acknowledged_write(apiserver_factory, tmp_path) -> None:
    members = start_etcd_cluster(tmp_path / "etcd")
    try:
        server = apiserver_factory(extra_args=("--etcd-servers", ",".join(m.url for m in members)))
        base = "/api/v1/namespaces/default/configmaps"
        acked: list[tuple[str, float]] = []
        failed: list[tuple[int, str]] = []
        stop = threading.Event()

        def write() -> None:
            with server.http(timeout=30) as http:
                i = 0
                while not stop.is_set():
                    r = http.post(base, json={"metadata": {"name": f"w{i}"}})
                    if r.status_code == 201:
                        acked.append((f"w{i}", time.monotonic()))
                    else:
                        failed.append((r.status_code, r.text[:200]))
                    i += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            deadline = time.monotonic() + 60
            while len(acked) < 50:
                assert time.monotonic() < deadline, f"no writes: {failed[:3]}"
                time.sleep(0.05)
            lost = leader(members)
            killed_at = time.monotonic()
            members[lost].kill()
            target = len(acked) + 100
            while len(acked) < target:
                assert time.monotonic() < deadline + 60, f"writes did not resume: {failed[-3:]}"
                time.sleep(0.05)
        finally:
            stop.set()
            writer.join()
        after = [t for _, t in acked if t > killed_at]
        before = [t for _, t in acked if t <= killed_at]
        print(f"\netcd leader killed: longest gap between acknowledged writes "
              f"{max(b - a for a, b in zip([before[-1], *after], after)):.2f}s; "
              f"{len(failed)} writes refused during failover: {sorted({c for c, _ in failed})}")
        with server.http(timeout=30) as http:
            names = {o["metadata"]["name"] for o in http.get(base).json()["items"]}
        missing = [n for n, _ in acked if n not in names]
        assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
        # Nothing visible to the client but latency: a write lost with its leader is sent again
        # (and one that did land is recognised, not refused as AlreadyExists).
        assert not failed, failed[:3]
        assert leader(members) != lost
    finally:
        for m in members:
            m.stop()
