"""An apiserver process keeping its state in a real etcd (``--etcd-servers``), used through the
real kubectl: Kubernetes' key layout and resourceVersions from etcd's revisions, Secrets
encrypted at rest in etcd, and an etcd outage (SIGKILL, then a restart on the same data):
writes answer 503 naming etcd, /readyz says ``[-]etcd failed``, reads from the watch cache and
open watches go on, everything recovers by itself, and no acknowledged write is lost.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.etcd_harness import EtcdProcess, etcd_factory  # noqa: F401 (fixture)

MARKER = "etcd-s3cret-value-4b2e"


def etcdctl(etcd: EtcdProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["etcdctl", "--endpoints", etcd.url, *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "ETCDCTL_API": "3"})


def etcd_value(etcd: EtcdProcess, key: str) -> dict:
    out = etcdctl(etcd, "get", key, "-w", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_kubectl_on_etcd_keeps_kubernetes_layout(apiserver_factory, etcd_factory, kubectl) -> None:
    etcd = etcd_factory()
    server = apiserver_factory(extra_args=("--etcd-servers", etcd.url))
    out = kubectl("create", "configmap", "c1", "--from-literal=k=v1", server=server)
    assert out.returncode == 0, out.stderr
    out = kubectl("get", "configmap", "c1", "-o", "json", server=server)
    assert out.returncode == 0, out.stderr
    cm = json.loads(out.stdout)
    assert cm["data"] == {"k": "v1"}
    stored = etcd_value(etcd, "/registry/configmaps/default/c1")["kvs"][0]
    # etcd's revision of the write, counted from etcd's empty keyspace (revision 1) as zero.
    assert int(cm["metadata"]["resourceVersion"]) == stored["mod_revision"] - 1
    assert json.loads(base64.b64decode(stored["value"]))["data"] == {"k": "v1"}
    keys = etcdctl(etcd, "get", "/registry/", "--prefix", "--keys-only").stdout.split()
    assert "/registry/namespaces/default" in keys and "/registry/namespaces/kube-system" in keys
    # Optimistic concurrency is etcd's: a stale resourceVersion is a 409 Conflict.
    cm["data"] = {"k": "v2"}
    assert kubectl("replace", "-f", "-", input=json.dumps(cm), server=server).returncode == 0
    cm["data"] = {"k": "stale"}
    out = kubectl("replace", "-f", "-", input=json.dumps(cm), server=server)
    assert out.returncode != 0 and "Conflict" in out.stderr
    assert kubectl("delete", "configmap", "c1", server=server).returncode == 0
    assert etcd_value(etcd, "/registry/configmaps/default/c1").get("kvs") is None
    # The state survives an apiserver restart on the same etcd.
    kubectl("create", "configmap", "c2", "--from-literal=k=kept", server=server)
    server.stop()
    server.start()
    out = kubectl("get", "configmap", "c2", "-o", "jsonpath={.data.k}", server=server)
    assert out.stdout == "kept", out.stderr


def test_etcd_prefix_and_secrets_encrypted_in_etcd(apiserver_factory, etcd_factory, kubectl,
                                                    tmp_path: Path) -> None:
    etcd = etcd_factory()
    cfg = tmp_path / "enc.yaml"
    cfg.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
        "  - resources: [secrets]\n    providers:\n      - aesgcm:\n          keys:\n"
        f"            - name: key1\n              secret: {base64.b64encode(os.urandom(32)).decode()}\n"
        "      - identity: {}\n")
    server = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--etcd-prefix", "/tenant-a",
                                           "--encryption-provider-config", str(cfg)))
    out = kubectl("create", "secret", "generic", "s1", f"--from-literal=password={MARKER}", server=server)
    assert out.returncode == 0, out.stderr
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}", server=server)
    assert base64.b64decode(out.stdout).decode() == MARKER
    raw = base64.b64decode(etcd_value(etcd, "/tenant-a/secrets/default/s1")["kvs"][0]["value"])
    assert raw.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert MARKER.encode() not in raw and base64.b64encode(MARKER.encode()) not in raw
    assert etcdctl(etcd, "get", "/registry/", "--prefix", "--keys-only").stdout.strip() == ""


def test_apiserver_on_etcd_over_tls(apiserver_factory, kubectl, tmp_path: Path) -> None:
    from tests.etcd_harness import make_tls, start_etcd

    tls = make_tls(tmp_path / "etcd-pki")
    etcd = start_etcd(tmp_path / "etcd", tls=tls)
    try:
        server = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--etcd-cafile", tls.ca,
                                               "--etcd-certfile", tls.client_cert, "--etcd-keyfile", tls.client_key))
        assert kubectl("create", "configmap", "over-tls", "--from-literal=k=v", server=server).returncode == 0
        out = kubectl("get", "configmap", "over-tls", "-o", "jsonpath={.data.k}", server=server)
        assert out.stdout == "v", out.stderr
        server.stop()
    finally:
        etcd.stop()


def test_object_at_the_size_limit_is_413_not_500_on_etcd(apiserver_factory, etcd_factory) -> None:
    # etcd refuses requests above 1.5 MiB (--max-request-bytes), the apiserver objects above
    # 1.5 MiB as stored: one just under the object limit is over etcd's with the transaction's
    # key and comparison. Either way the client hears 413, never 500.
    etcd = etcd_factory()
    server = apiserver_factory(extra_args=("--etcd-servers", etcd.url))
    base = "/api/v1/namespaces/default/pods"  # (ConfigMaps and Secrets stop at 1 MiB of data)
    limit = 1536 * 1024

    def create(size: int):
        return http.post(base, json={"metadata": {"name": f"big-{size}"}, "spec": {"containers": [
            {"name": "c", "image": "busybox", "args": ["x" * size]}]}})

    with server.http(timeout=60) as http:
        over = create(limit)  # the apiserver's own check says how large the object would be stored
        assert over.status_code == 413, over.text[:300]
        stored = int(re.search(r"stored as (\d+) bytes", over.json()["message"]).group(1))
        # Stored 60 bytes under the object limit: accepted by the apiserver's check, over etcd's.
        r = create(limit - (stored - limit) - 60)
        assert r.status_code == 413, r.text[:300]
        status = r.json()
        assert status["reason"] == "RequestEntityTooLarge" and "etcd" in status["message"]
        assert create(1000).status_code == 201


def test_two_clusters_share_one_etcd_under_their_prefixes(apiserver_factory, etcd_factory) -> None:
    # Writes of the other cluster move etcd's revision past every event this apiserver's watch
    # cache sees: consistent reads catch up through etcd's progress notifications.
    etcd = etcd_factory()
    a = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--etcd-prefix", "/cluster-a"))
    b = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--etcd-prefix", "/cluster-b"))
    base = "/api/v1/namespaces/default/configmaps"
    with a.http(timeout=30) as ha, b.http(timeout=30) as hb:
        assert ha.post(base, json={"metadata": {"name": "only-in-a"}}).status_code == 201
        for i in range(3):
            created = hb.post(base, json={"metadata": {"name": f"only-in-b-{i}"}})
            assert created.status_code == 201, created.text
        listed = ha.get(base)
        assert listed.status_code == 200, listed.text
        assert [o["metadata"]["name"] for o in listed.json()["items"]] == ["only-in-a"]
        # The list is as of etcd's current revision, the other cluster's writes included (both
        # apiservers' lease reconcilers keep writing too, so later reads may be newer still).
        assert int(listed.json()["metadata"]["resourceVersion"]) >= int(
            created.json()["metadata"]["resourceVersion"])
        got = ha.get(f"{base}/only-in-a")
        assert got.status_code == 200, got.text
        assert [o["metadata"]["name"] for o in hb.get(base).json()["items"]] == [f"only-in-b-{i}" for i in range(3)]


def test_pagination_and_compaction_on_etcd(apiserver_factory, etcd_factory, kubectl) -> None:
    # The apiserver compacts etcd every interval to the revision it saw one interval before (1 s
    # here instead of Kubernetes' 5 minutes); what is older is then answered 410 Expired.
    etcd = etcd_factory()
    server = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--etcd-compaction-interval", "1s"))
    base = "/api/v1/namespaces/default/configmaps"
    with server.http(timeout=30) as http:
        first = http.post(base, json={"metadata": {"name": "cm-00"}}).json()["metadata"]["resourceVersion"]
        for i in range(1, 7):
            assert http.post(base, json={"metadata": {"name": f"cm-{i:02d}"}}).status_code == 201
        # kubectl pages with limit/continue: every page read at the first page's etcd revision.
        out = kubectl("get", "configmaps", "--chunk-size=2", "-o", "name", server=server, timeout=60)
        assert out.stdout.split() == [f"configmap/cm-{i:02d}" for i in range(7)], out.stderr
        page = http.get(base, params={"limit": "3"}).json()
        token = page["metadata"]["continue"]
        assert [o["metadata"]["name"] for o in page["items"]] == ["cm-00", "cm-01", "cm-02"]
    # A restarted apiserver's watch cache starts after `first`: older watches go to etcd's history.
    server.stop()
    server.start()
    with server.http(timeout=30) as http:
        deadline = time.monotonic() + 30
        while True:
            rest = http.get(base, params={"limit": "3", "continue": token})
            if rest.status_code == 410:
                break
            assert rest.status_code == 200 and time.monotonic() < deadline, rest.text
            time.sleep(0.3)
        status = rest.json()
        assert status["reason"] == "Expired" and "continue parameter is too old" in status["message"]
        with http.stream("GET", base, params={"watch": "true", "resourceVersion": first}) as watch:
            event = json.loads(next(watch.iter_lines()))
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
        assert "too old resource version" in event["object"]["message"]


def test_etcd_outage_503_readyz_cache_reads_and_recovery(apiserver_factory, etcd_factory) -> None:
    etcd = etcd_factory()
    server = apiserver_factory(extra_args=("--etcd-servers", etcd.url))
    base = "/api/v1/namespaces/default/configmaps"
    acked: list[str] = []
    with server.http(timeout=30) as http:
        for i in range(20):
            r = http.post(base, json={"metadata": {"name": f"before-{i}"}, "data": {"i": str(i)}})
            assert r.status_code == 201, r.text
            acked.append(f"before-{i}")
        rv = http.get(base).json()["metadata"]["resourceVersion"]
        with http.stream("GET", base, params={"watch": "true", "resourceVersion": rv}) as watch:
            lines = watch.iter_lines()

            etcd.kill()
            r = http.post(base, json={"metadata": {"name": "during"}})
            assert r.status_code == 503, r.text
            status = r.json()
            assert status["kind"] == "Status" and status["reason"] == "ServiceUnavailable"
            assert "etcd" in status["message"]
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.text.startswith("[-]etcd failed: "), ready.text
            # Reads the watch cache serves (resourceVersion=0) keep working.
            cached = http.get(base, params={"resourceVersion": "0"})
            assert cached.status_code == 200
            assert {o["metadata"]["name"] for o in cached.json()["items"]} >= set(acked)

            etcd.start()
            deadline = time.monotonic() + 60
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "apiserver not ready again after etcd returned"
                time.sleep(0.2)
            r = http.post(base, json={"metadata": {"name": "after"}})
            assert r.status_code == 201, r.text
            acked.append("after")
            # The watch opened before the outage goes on and sees the write made after it.
            seen = None
            for line in lines:
                event = json.loads(line)
                if event["object"]["metadata"]["name"] == "after":
                    seen = event["type"]
                    break
            assert seen == "ADDED", "the watch ended instead of following the write made after the outage"
        names = {o["metadata"]["name"] for o in http.get(base).json()["items"]}
        assert set(acked) <= names
        assert "during" not in names


@pytest.mark.parametrize("flags,message", [
    (("--etcd-servers", "ftp://x:1"), "is not an http(s)://host:port URL"),
    (("--etcd-certfile", "/nonexistent"), "--etcd-certfile needs --etcd-servers"),
    (("--etcd-servers", "http://127.0.0.1:2379", "--etcd-compaction-interval", "soon"), "invalid duration"),
])
def test_bad_etcd_flags_are_refused_naming_the_flag(flags, message, tmp_path: Path) -> None:
    import sys

    from tests.conftest import REPO

    out = subprocess.run([sys.executable, "-m", "apiserver.main", "--data-dir", str(tmp_path), *flags],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and message in out.stderr, out.stderr
