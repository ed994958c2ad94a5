"""``minik8s join --control-plane`` (issue #12): a second control-plane host joins a cluster that
``minik8s up --etcd`` started, with the line ``up`` printed (bootstrap token, CA pin, certificate
key), as ``kubeadm join --control-plane --certificate-key`` does. It gets the cluster's CA,
ServiceAccount keys and encryption key from the encrypted ``kube-system/minik8s-certs`` and runs
an apiserver on the same etcd, a scheduler and a controller-manager, both leader-elected against
the first host's. Both hosts are processes on this machine (the second on other ports and a data
dir of its own); the first runs a hollow node (fake runtime): no Docker needed."""

from __future__ import annotations

import base64
import re
import subprocess
import uuid

import yaml

from tests.conftest import REPO, ApiServer, pick_free_port
from tests.etcd_harness import require_etcd
from tests.integration.test_up_etcd import _two_free_ports
from tests.minik8s_up_harness import MINIK8S, Up, wait_until

JOIN_LINE = re.compile(r"other control-plane hosts join with: minik8s join --control-plane (\S+) --token (\S+) "
                       r"--discovery-token-ca-cert-hash (\S+) --certificate-key (\S+)")


def _join(data_dir, url: str, token: str, pin: str, key: str, port: int, out_path, *extra: str) -> subprocess.Popen:
    cmd = [*MINIK8S, "join", "--control-plane", url, "--token", token, "--discovery-token-ca-cert-hash", pin,
           "--certificate-key", key, "--data-dir", str(data_dir), "--port", str(port), "--disable-node",
           "--apiserver-arg=advertise-address=127.0.0.3",
           f"--scheduler-arg=secure-port={pick_free_port()}",
           f"--controller-manager-arg=secure-port={pick_free_port()}", *extra]
    with open(out_path, "ab") as out:
        return subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _down(data_dir) -> None:
    subprocess.run([*MINIK8S, "down", "--data-dir", str(data_dir)], cwd=REPO, capture_output=True, timeout=120)


def _stop_hosts(first: Up, joiner: subprocess.Popen | None, second_dir) -> None:
    """``down`` the joined host, then the first, killing a supervisor that does not exit."""
    if joiner is not None:
        _down(second_dir)
    first.run("down")
    for proc in (joiner, first.proc):
        if proc is not None:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_second_control_plane_host_joins(tmp_path) -> None:
    require_etcd()
    etcd_port = _two_free_ports()
    first = Up(data_dir=tmp_path / "first" / "data", port=pick_free_port(), kubelet_port=pick_free_port(),
               node=f"cpjoin-{uuid.uuid4().hex[:6]}",
               extra_args=("--etcd", "--etcd-port", str(etcd_port), "--runtime", "fake", "--disable-proxy",
                           "--disable-dns"))
    first.data_dir.parent.mkdir(parents=True)
    first.start()
    second_dir = tmp_path / "second" / "data"
    second_dir.parent.mkdir(parents=True)
    second_out = second_dir.parent / "join.out"
    second_port = pick_free_port()
    joiner = None
    try:
        m = JOIN_LINE.search(first.out_path.read_text())
        assert m, first.out_path.read_text()
        url, token, pin, key = m.groups()
        assert re.fullmatch(r"[0-9a-f]{64}", key)
        comps = first.state()["components"]
        # The first host's control loops elect a leader too: other hosts may join.
        assert "--leader-elect=true" in comps["scheduler"]["command"]
        assert "--leader-elect=true" in comps["controller-manager"]["command"]
        api1 = first.api
        with api1.http(timeout=30) as h1:
            sealed = h1.get("/api/v1/namespaces/kube-system/secrets/minik8s-certs").json()
            # the bundle is encrypted with the certificate key, which is not in the cluster
            ca_in_secret = base64.b64decode(sealed["data"]["ca.key"])
            assert b"PRIVATE KEY" not in ca_in_secret and key.encode() not in ca_in_secret
            assert sealed["metadata"]["ownerReferences"][0]["name"] == "bootstrap-token-" + token.split(".")[0]
            made = h1.post("/api/v1/namespaces/default/secrets",
                           json={"metadata": {"name": "shared"}, "stringData": {"k": "v"}})
            assert made.status_code == 201, made.text

        # A wrong certificate key is refused, naming the Secret; nothing starts.
        wrong_dir = tmp_path / "wrong" / "data"
        wrong_dir.parent.mkdir(parents=True)
        bad = _join(wrong_dir, url, token, pin, "0" * 64, pick_free_port(), wrong_dir.parent / "join.out")
        assert bad.wait(120) == 1
        assert "does not decrypt with this --certificate-key" in (wrong_dir.parent / "join.out").read_text()

        joiner = _join(second_dir, url, token, pin, key, second_port, second_out)

        def joined() -> bool:
            assert joiner.poll() is None, second_out.read_text()
            return "minik8s is up:" in second_out.read_text()

        wait_until(joined, "the second control-plane host up",
                   diag=lambda: second_out.read_text() + _tail(second_dir / "logs" / "apiserver.log"))
        state2 = Up(data_dir=second_dir, port=second_port, kubelet_port=0, node="").state()["components"]
        # each a process of its own (the default layout; --single-process adds the "host" that runs them)
        assert set(state2) == {"apiserver", "scheduler", "controller-manager"}
        assert f"--etcd-servers=http://127.0.0.1:{etcd_port}" in state2["apiserver"]["command"]
        assert "--leader-elect=true" in state2["scheduler"]["command"]
        assert "--leader-elect=true" in state2["controller-manager"]["command"]
        # The same CA and ServiceAccount keys; the same encryption-at-rest key.
        for name in ("ca.crt", "ca.key", "sa.key", "sa.pub"):
            assert (second_dir / "pki" / name).read_bytes() == (first.data_dir / "pki" / name).read_bytes(), name
        assert (second_dir / "encryption-config.yaml").read_bytes() == \
            (first.data_dir / "encryption-config.yaml").read_bytes()
        # Its kubeconfig names its own apiserver first and the joined one for failover.
        kc = yaml.safe_load((second_dir / "kubeconfig").read_text())["clusters"][0]["cluster"]
        assert kc["server"] == f"https://127.0.0.1:{second_port}"
        assert kc["extensions"][0]["extension"]["servers"] == [url]

        api2 = ApiServer(data_dir=second_dir, port=second_port, log_path=second_dir / "logs" / "apiserver.log")
        with api2.http(timeout=30) as h2, api1.http(timeout=30) as h1:
            # The Secret written (encrypted) through the first is read through the second.
            got = h2.get("/api/v1/namespaces/default/secrets/shared")
            assert got.status_code == 200, got.text
            assert base64.b64decode(got.json()["data"]["k"]) == b"v"
            # A ServiceAccount token the first issued is valid at the second (the same signing key).
            h1.post("/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": "cp-join"}})
            tr = h1.post("/api/v1/namespaces/default/serviceaccounts/cp-join/token",
                         json={"spec": {"expirationSeconds": 600}})
            assert tr.status_code == 201, tr.text
            bearer = tr.json()["status"]["token"]
            with api2.http(anonymous=True, timeout=30) as anon:
                review = anon.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                   json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                                   headers={"Authorization": f"Bearer {bearer}"})
            assert review.status_code == 201, review.text
            assert review.json()["status"]["userInfo"]["username"] == "system:serviceaccount:default:cp-join"
            # One leader each for the scheduler and the controller-manager, two candidates.
            for lease in ("kube-scheduler", "kube-controller-manager"):
                spec = h2.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{lease}").json()["spec"]
                assert spec["holderIdentity"], spec
    finally:
        _stop_hosts(first, joiner, second_dir)


def _tail(path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(none)"
