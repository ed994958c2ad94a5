"""``minik8s up`` flags → UpConfig → the component table and its command lines; back-off
arithmetic; preflight's one-line messages."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from minik8s.up import components, preflight
from minik8s.up.config import config_from_args
from minik8s.up.main import parser
from minik8s.up.supervisor import next_backoff


def cfg_of(*argv: str):
    p = parser()
    args = p.parse_args(list(argv))
    return config_from_args(args.subparser, args, join=args.command == "join")


def flags(c: components.Component) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for a in c.argv:
        name, sep, value = a[2:].partition("=")
        out[name] = value if sep else None
    return out


def test_defaults_fill_in_one_place():
    cfg = cfg_of("up")
    assert cfg.data_dir == Path("~/.minik8s").expanduser()
    assert cfg.port == 6443 and cfg.nodes == 1 and cfg.mode == "up"
    assert cfg.server_url == "https://127.0.0.1:6443"  # the apiserver serves HTTPS only
    assert cfg.cert_dir == cfg.data_dir / "pki"
    assert cfg.node_names() == [socket.gethostname().lower()]
    assert cfg.kubeconfig_path == cfg.data_dir / "kubeconfig"


def test_component_table_in_start_order_with_entry_points():
    table = components.build(cfg_of("up", "--data-dir", "/d", "--port", "7000"))
    assert [(c.name, c.module, c.wave) for c in table] == [
        ("apiserver", "apiserver.main", 0),
        ("controller-manager", "controllers.main", 1),
        ("scheduler", "scheduler.main", 1),
        ("kubelet", "kubelet.main", 2),
    ]
    api = table[0]
    assert api.command[:3] == [sys.executable, "-m", "apiserver.main"]
    assert flags(api)["data-dir"] == "/d" and flags(api)["port"] == "7000"
    assert api.log_path == Path("/d/logs/apiserver.log")
    assert flags(api)["cert-dir"] == "/d/pki"
    assert flags(api)["encryption-provider-config"] == "/d/encryption-config.yaml"
    # Each component reaches the apiserver with credentials of its own, from its kubeconfig.
    assert flags(table[1])["kubeconfig"] == "/d/kubeconfigs/controller-manager.kubeconfig"
    assert flags(table[2])["kubeconfig"] == "/d/kubeconfigs/scheduler.kubeconfig"
    node = table[3].node
    assert flags(table[3])["kubeconfig"] == f"/d/kubeconfigs/kubelet-{node}.kubeconfig"
    assert not any("apiserver" in flags(c) for c in table[1:])
    # The node API serves a certificate of the cluster CA and accepts the CA's clients.
    assert flags(table[3])["tls-cert-file"] == f"/d/pki/kubelets/{node}.crt"
    assert flags(table[3])["tls-private-key-file"] == f"/d/pki/kubelets/{node}.key"
    assert flags(table[3])["client-ca-file"] == "/d/pki/ca.crt"
    assert flags(table[3])["authorization-mode"] == "Webhook"
    assert flags(table[3])["root-dir"] == "/d/kubelet"
    # The control loops' secure ports serve the self-signed certificates they would make in
    # pki/<component>/, made by up beforehand (so neither loads cryptography for them).
    assert flags(table[1])["tls-cert-file"] == "/d/pki/controller-manager/kube-controller-manager.crt"
    assert flags(table[1])["tls-private-key-file"] == "/d/pki/controller-manager/kube-controller-manager.key"
    assert flags(table[2])["tls-cert-file"] == "/d/pki/scheduler/kube-scheduler.crt"
    assert flags(table[2])["tls-private-key-file"] == "/d/pki/scheduler/kube-scheduler.key"
    assert "cert-dir" not in flags(table[1]) and "cert-dir" not in flags(table[2])


def test_a_users_serving_flag_keeps_the_control_loops_own_certificate():
    table = components.build(cfg_of("up", "--data-dir", "/d", "--scheduler-arg=cert-dir=/mine"))
    scheduler = next(c for c in table if c.kind == "scheduler")
    assert flags(scheduler)["cert-dir"] == "/mine"
    assert "tls-cert-file" not in flags(scheduler) and "tls-private-key-file" not in flags(scheduler)
    cm = next(c for c in table if c.kind == "controller-manager")
    assert flags(cm)["tls-cert-file"] == "/d/pki/controller-manager/kube-controller-manager.crt"


def test_three_nodes_get_names_and_ports_of_their_own():
    cfg = cfg_of("up", "--nodes", "3", "--node-name", "box", "--kubelet-port", "11000")
    kubelets = [c for c in components.build(cfg) if c.kind == "kubelet"]
    assert [(c.name, c.node, flags(c)["port"]) for c in kubelets] == [
        ("kubelet", "box", "11000"), ("kubelet-2", "box-2", "11001"), ("kubelet-3", "box-3", "11002")]
    assert [c.log_path.name for c in kubelets] == ["kubelet.log", "kubelet-2.log", "kubelet-3.log"]
    # One service proxy per host (its iptables rules are the host's): the first node's.
    assert ["disable-proxy" in flags(c) for c in kubelets] == [False, True, True]
    assert not any("disable-dns" in flags(c) for c in kubelets)  # each node serves its own DNS


def test_disable_flags_drop_components_or_reach_the_kubelet():
    table = components.build(cfg_of("up", "--disable-scheduler", "--disable-controller-manager"))
    assert [c.name for c in table] == ["apiserver", "kubelet"]
    table = components.build(cfg_of("up", "--disable-node"))
    assert [c.name for c in table] == ["apiserver", "controller-manager", "scheduler"]
    # Proxy and DNS run inside the kubelet: their switches are its flags.
    kubelet = components.build(cfg_of("up", "--disable-proxy", "--disable-dns"))[-1]
    assert {"disable-proxy", "disable-dns"} <= set(flags(kubelet))


def test_cluster_cidr_reaches_node_ipam_and_the_kubelets():
    table = {c.name: flags(c) for c in components.build(cfg_of("up", "--cluster-cidr", "10.50.0.0/16"))}
    assert table["controller-manager"]["cluster-cidr"] == table["kubelet"]["cluster-cidr"] == "10.50.0.0/16"
    assert "cluster-cidr" not in {c.name: flags(c) for c in components.build(cfg_of("up"))}["kubelet"]


def test_node_flags_pass_through_and_extra_args_override_defaults():
    cfg = cfg_of("up", "--pod-infra-image", "me/pause:1", "--runtime", "fake", "--node-ip", "10.1.2.3",
                 "--max-pods", "7", "--node-labels", "a=b", "--kubelet-arg", "sync-frequency=5",
                 "--kubelet-arg=--root-dir=/elsewhere", "--scheduler-arg", "leader-elect=true",
                 "--apiserver-arg", "watch-history=9")
    table = {c.name: c for c in components.build(cfg)}
    k = flags(table["kubelet"])
    assert k["pod-infra-image"] == "me/pause:1" and k["runtime"] == "fake" and k["address"] == "10.1.2.3"
    assert k["max-pods"] == "7" and k["node-labels"] == "a=b" and k["sync-frequency"] == "5"
    assert k["root-dir"] == "/elsewhere"
    assert "register-with-taints" not in k  # unset pass-through flags leave the kubelet's default
    assert flags(table["scheduler"])["leader-elect"] == "true"
    assert flags(table["controller-manager"])["leader-elect"] == "false"
    assert flags(table["apiserver"])["watch-history"] == "9"


def test_render_flags_keeps_order_and_valueless_flags():
    assert components.render_flags({"a": "1", "b": "2"}, ("b=3", "c", "d="), flag="--x-arg") == (
        "--a=1", "--b=3", "--c", "--d=")


PIN = "sha256:" + "ab" * 32


def test_join_is_up_without_the_control_plane():
    cfg = cfg_of("join", "https://10.0.0.5:6443/", "--token", "s3cret", "--node-name", "far", "--data-dir", "/j",
                 "--discovery-token-ca-cert-hash", PIN)
    assert cfg.discovery_hashes == (PIN,)
    assert cfg.mode == "join" and cfg.server_url == "https://10.0.0.5:6443"
    table = components.build(cfg)
    assert [c.name for c in table] == ["kubelet"]
    k = flags(table[0])
    # The token reaches the kubelet through the kubeconfig, never through argv.
    assert k["kubeconfig"] == "/j/kubeconfig" and "apiserver" not in k
    assert all("s3cret" not in a for c in table for a in c.argv)
    assert "s3cret" not in cfg.summary()


def test_join_control_plane_is_up_on_the_clusters_etcd_with_leader_election():
    key = "ab" * 32
    cfg = cfg_of("join", "--control-plane", "https://10.0.0.5:6443", "--token", "abcdef.0123456789abcdef",
                 "--discovery-token-ca-cert-hash", PIN, "--certificate-key", key, "--data-dir", "/c",
                 "--port", "7443", "--etcd-servers", "http://10.0.0.9:2379", "--disable-node")
    assert cfg.mode == "up" and cfg.server_url == "https://127.0.0.1:7443"
    assert cfg.join_control_plane == "https://10.0.0.5:6443" and cfg.other_servers == ("https://10.0.0.5:6443",)
    table = {c.name: flags(c) for c in components.build(cfg)}
    assert set(table) == {"apiserver", "scheduler", "controller-manager"}  # no etcd of its own
    assert table["apiserver"]["etcd-servers"] == "http://10.0.0.9:2379"
    assert table["scheduler"]["leader-elect"] == table["controller-manager"]["leader-elect"] == "true"
    # up --etcd elects leaders too (other control-plane hosts may join); plain up does not
    up_etcd = {c.name: flags(c) for c in components.build(cfg_of("up", "--etcd", "--data-dir", "/u"))}
    assert up_etcd["scheduler"]["leader-elect"] == "true"
    external = cfg_of("up", "--apiserver-arg=etcd-servers=http://10.0.0.9:2379", "--data-dir", "/u")
    assert external.highly_available and not cfg_of("up", "--data-dir", "/u").highly_available


@pytest.mark.parametrize("argv, message", [
    (("join", "--control-plane", "https://h:1", "--token", "abcdef.0123456789abcdef"), "--control-plane needs"),
    (("join", "--control-plane", "https://h:1", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash",
      "sha256:" + "ab" * 32, "--certificate-key", "xyz"), "--certificate-key must be 64 hex digits"),
    (("join", "https://h:1", "--discovery-token-ca-cert-hash", "sha256:" + "ab" * 32, "--certificate-key", "ab" * 32),
     "are for --control-plane"),
    (("up", "--nodes", "0"), "--nodes must be at least 1"),
    (("up", "--nodes", "2", "--disable-node"), "--nodes and --disable-node conflict"),
    (("up", "--port", "70000"), "--port must be between 1 and 65535"),
    (("up", "--kubelet-arg", "=x"), "--kubelet-arg"),
    (("up", "--cluster-cidr", "10.0.0.0/33"), "--cluster-cidr"),
    (("join", "10.0.0.5:6443"), "URL must start with https://"),
    (("join", "http://10.0.0.5:6443"), "URL must start with https://"),
    (("join", "https://h:1", "--certificate-authority", "/nonexistent/ca.crt"), "--certificate-authority"),
    (("join", "https://h:1", "--disable-node", "--discovery-token-ca-cert-hash", "sha256:" + "ab" * 32), "--disable-node"),
    (("join", "https://h:1", "--token", "abcdef.0123456789abcdef"), "one of --discovery-token-ca-cert-hash"),
    (("join", "https://h:1", "--discovery-token-ca-cert-hash", "md5:00"), "is not sha256:<64 hex digits>"),
])
def test_bad_flags_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        cfg_of(*argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_backoff_doubles_to_a_minute_and_resets_after_a_stable_run():
    wait, nxt, waits = 1.0, 1.0, []
    for _ in range(8):
        wait, nxt = next_backoff(nxt, uptime=0.5)
        waits.append(wait)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert next_backoff(60.0, uptime=61.0) == (1.0, 2.0)


def test_preflight_messages_are_one_actionable_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    msg = preflight.check_data_dir(blocker / "data")
    assert msg is not None and msg.startswith(f"data dir {blocker / 'data'} is not writable: ")
    assert "--data-dir" in msg and "\n" not in msg
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        port = s.getsockname()[1]
        assert preflight.check_port(port, what="apiserver", flag="--port") == (
            f"port {port} (apiserver) is already in use (choose another with --port)")
    assert preflight.check_port(port, what="apiserver", flag="--port") is None
    sock = tmp_path / "no-docker.sock"
    assert preflight.check_docker(f"unix://{sock}") == (
        f"Docker is not reachable at unix://{sock}: No such file or directory (start dockerd or run `make run`)")


def test_certificate_key_seals_the_bundle():
    from minik8s.up import tlsbootstrap, uploadcerts

    key = uploadcerts.new_key()
    sealed = uploadcerts.encrypt(key, b"the CA key")
    assert b"the CA key" not in sealed and uploadcerts.decrypt(key, sealed) == b"the CA key"
    with pytest.raises(tlsbootstrap.JoinError, match="does not decrypt"):
        uploadcerts.decrypt(uploadcerts.new_key(), sealed)
    with pytest.raises(tlsbootstrap.JoinError, match="64 hex digits"):
        uploadcerts.encrypt("00", b"x")


def test_each_component_is_a_process_unless_single_process_is_asked():
    # The design's layout by default (crash isolation, a GIL each); k3s' one process on request.
    assert not any(c.embedded for c in components.build(cfg_of("up")))
    assert not any(c.embedded for c in components.build(cfg_of("up", "--process-per-component")))
    single = components.build(cfg_of("up", "--single-process"))
    assert {c.kind for c in single if c.embedded} >= {"apiserver", "scheduler", "controller-manager", "kubelet"}
    with pytest.raises(SystemExit) as e:
        cfg_of("up", "--single-process", "--process-per-component")
    assert e.value.code == 2
