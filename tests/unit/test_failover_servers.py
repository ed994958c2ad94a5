"""Failover between a cluster's apiservers, decided in minik8s.client.connection and applied by
the blocking transport of mkctl: the kubeconfig's ``minik8s.io/servers`` extension, which server
is in use, and which failed requests are asked again on the next one (never sent: always; sent
and then cut off: only reads). Local servers answering canned bytes stand for the apiservers;
the integration test does it against real ones."""

from __future__ import annotations

import socket

import pytest
import yaml

from minik8s import errors
from minik8s.client import connection, http1, kubeconfig
from tests.unit.test_http1 import CannedServer

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def refused_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connecting is refused
    return f"http://127.0.0.1:{port}"


def test_servers_move_on_once_per_failure_and_wrap_around() -> None:
    servers = connection.Servers(["https://a/", "https://b", "https://a", "https://c"])
    assert servers.urls == ["https://a", "https://b", "https://c"] and servers.current == "https://a"
    assert servers.failed("https://a") and servers.current == "https://b"
    # a concurrent request that also failed on a does not skip b
    assert servers.failed("https://a") and servers.current == "https://b"
    assert servers.failed("https://b") and servers.failed("https://c") and servers.current == "https://a"
    assert not connection.Servers(["https://only"]).failed("https://only")
    with pytest.raises(ValueError):
        connection.Servers([])


def test_may_retry_only_what_was_not_sent_or_changes_nothing() -> None:
    assert connection.may_retry("POST", sent=False)
    assert connection.may_retry("GET", sent=True)
    assert not connection.may_retry("POST", sent=True)
    assert not connection.may_retry("PATCH", sent=True)


def write_ha_kubeconfig(path, *others: str) -> kubeconfig.ClusterAccess:
    kubeconfig.write(str(path), "https://10.0.0.1:6443", token="t", other_servers=list(others))
    return kubeconfig.load(str(path)).resolve()


def test_kubeconfig_keeps_the_primary_as_server_and_the_others_in_an_extension(tmp_path) -> None:
    path = tmp_path / "config"
    access = write_ha_kubeconfig(path, "https://10.0.0.2:6443", "https://10.0.0.3:6443")
    cluster = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.0.0.1:6443"
    assert cluster["extensions"] == [{"name": "minik8s.io/servers",
                                      "extension": {"servers": ["https://10.0.0.2:6443", "https://10.0.0.3:6443"]}}]
    conn = connection.from_access(access)
    assert conn.servers.urls == ["https://10.0.0.1:6443", "https://10.0.0.2:6443", "https://10.0.0.3:6443"]
    # --server names one apiserver: no failover away from it
    assert connection.from_access(access, server="https://10.0.0.9:6443").servers.urls == ["https://10.0.0.9:6443"]


def test_a_malformed_servers_extension_is_named(tmp_path) -> None:
    path = tmp_path / "config"
    write_ha_kubeconfig(path, "https://10.0.0.2:6443")
    doc = yaml.safe_load(path.read_text())
    doc["clusters"][0]["cluster"]["extensions"][0]["extension"] = {"servers": "https://10.0.0.2:6443"}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(kubeconfig.ConfigError, match="minik8s.io/servers"):
        kubeconfig.load(str(path)).resolve()


def test_a_refused_server_hands_any_request_to_the_next() -> None:
    live = CannedServer([[OK]])
    try:
        dead = refused_url()
        conn = connection.Connection(dead, others=[f"http://127.0.0.1:{live.port}"])
        http = http1.HTTPConnection(conn, timeout=5)
        resp = http.request("POST", "/api/v1/namespaces/default/configmaps", [], b"{}")
        assert resp.status == 200 and resp.content == b"ok"
        assert conn.server == f"http://127.0.0.1:{live.port}" and live.requests[0].startswith(b"POST ")
    finally:
        live.close()


def test_a_write_cut_off_after_sending_is_not_sent_again_but_a_read_is() -> None:
    # The first server reads each request and closes without answering (it died meanwhile).
    first = CannedServer([[None], [None]])
    second = CannedServer([[OK]])
    try:
        conn = connection.Connection(f"http://127.0.0.1:{first.port}", others=[f"http://127.0.0.1:{second.port}"])
        http = http1.HTTPConnection(conn, timeout=5)
        with pytest.raises(errors.ConnectionFailed):
            http.request("POST", "/api/v1/namespaces/default/configmaps", [], b"{}")
        assert second.requests == []  # the server may have acted on it: not asked twice
        assert conn.server == f"http://127.0.0.1:{second.port}"  # but the next request goes on
        conn.servers.failed(conn.server)  # back to the first, to show a read moving on by itself
        resp = http.request("GET", "/api/v1/namespaces/default/configmaps", [], None)
        assert resp.status == 200 and second.requests[0].startswith(b"GET ")
    finally:
        first.close()
        second.close()


def test_every_server_refused_raises_once() -> None:
    conn = connection.Connection(refused_url(), others=[refused_url()])
    with pytest.raises(errors.ConnectionFailed, match="connection failed"):
        http1.HTTPConnection(conn, timeout=5).request("GET", "/version", [], None)
