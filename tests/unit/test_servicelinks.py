"""Service environment variables, as Kubernetes' kubelet computes them."""

from __future__ import annotations

from kubelet.servicelinks import env_for_pod, from_services


def _svc(name: str, ns: str, ip: str | None, ports: list[dict]) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


def test_variables_of_one_service() -> None:
    env = from_services([_svc("my-web", "d", "10.96.0.20", [{"name": "http", "port": 80, "protocol": "TCP"},
                                                            {"name": "dns-udp", "port": 53, "protocol": "UDP"}])])
    assert env == {
        "MY_WEB_SERVICE_HOST": "10.96.0.20", "MY_WEB_SERVICE_PORT": "80",
        "MY_WEB_SERVICE_PORT_HTTP": "80", "MY_WEB_SERVICE_PORT_DNS_UDP": "53",
        "MY_WEB_PORT": "tcp://10.96.0.20:80",
        "MY_WEB_PORT_80_TCP": "tcp://10.96.0.20:80", "MY_WEB_PORT_80_TCP_PROTO": "tcp",
        "MY_WEB_PORT_80_TCP_PORT": "80", "MY_WEB_PORT_80_TCP_ADDR": "10.96.0.20",
        "MY_WEB_PORT_53_UDP": "udp://10.96.0.20:53", "MY_WEB_PORT_53_UDP_PROTO": "udp",
        "MY_WEB_PORT_53_UDP_PORT": "53", "MY_WEB_PORT_53_UDP_ADDR": "10.96.0.20",
    }


def test_which_services_a_pod_sees() -> None:
    services = [
        _svc("kubernetes", "default", "10.96.0.1", [{"name": "https", "port": 443}]),
        _svc("web", "team", "10.96.0.20", [{"port": 80}]),
        _svc("other", "elsewhere", "10.96.0.30", [{"port": 81}]),
        _svc("headless", "team", "None", [{"port": 82}]),
        {"metadata": {"name": "ext", "namespace": "team"}, "spec": {"type": "ExternalName", "externalName": "x.y"}},
    ]
    pod = {"metadata": {"namespace": "team"}, "spec": {}}
    env = env_for_pod(pod, services)
    assert env["WEB_SERVICE_HOST"] == "10.96.0.20" and env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert not any(k.startswith(("OTHER_", "HEADLESS_", "EXT_")) for k in env)
    # enableServiceLinks: false leaves only the master service.
    no_links = env_for_pod({"metadata": {"namespace": "team"}, "spec": {"enableServiceLinks": False}}, services)
    assert {k.split("_")[0] for k in no_links} == {"KUBERNETES"}
    # A service named kubernetes in the pod's namespace wins.
    mine = env_for_pod(pod, services + [_svc("kubernetes", "team", "10.96.0.99", [{"port": 8443}])])
    assert mine["KUBERNETES_SERVICE_HOST"] == "10.96.0.99"
