"""The proxy's rule builder: chain names, rule shapes and the restore document.

Pure checks of :mod:`kubelet.proxy.iptables`, plus one pass of the rendered document through the
real ``iptables-restore --test`` (parsed and checked by the kernel's tables, committed nowhere).
"""

from __future__ import annotations

import shutil
import subprocess

from kubelet.proxy import iptables as ipt
from tests.conftest import missing

CIDR = "10.244.0.0/16"


def _svc(name="web", *, ns="default", ip="10.96.0.20", ports=None, type_="ClusterIP", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "type": type_, "ports": ports or [{"name": "http", "port": 80, "protocol": "TCP"}],
                     **spec},
            "status": spec.pop("status", {})}


def _slice(ips, *, port=8080, name="http", ready=True, serving=None, terminating=False) -> dict:
    return {"addressType": "IPv4", "ports": [{"name": name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                                                            "terminating": terminating}} for ip in ips]}


def _ports(svc: dict, slices: list[dict]) -> list[ipt.ServicePort]:
    import dataclasses
    return [dataclasses.replace(sp, endpoints=ipt.slice_endpoints(slices, sp.port_name, sp.protocol))
            for sp in ipt.service_ports(svc)]


def _lines(rules: list[list[str]], chain: str) -> list[list[str]]:
    return [r for r in rules if r[0] == chain]


def test_chain_names_are_kube_proxys() -> None:
    # The names every Kubernetes cluster shows for its kubernetes and kube-dns services.
    assert ipt.service_chain(ipt.ServicePort("default", "kubernetes", "https", "TCP", "10.96.0.1", 443)) \
        == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert ipt.service_chain(ipt.ServicePort("kube-system", "kube-dns", "dns", "UDP", "10.96.0.10", 53)) \
        == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert ipt.service_chain(ipt.ServicePort("kube-system", "kube-dns", "dns-tcp", "TCP", "10.96.0.10", 53)) \
        == "KUBE-SVC-ERIFXISQEP7F7OF4"


def test_cluster_ip_spreads_evenly_and_masquerades_hairpin_and_outside() -> None:
    ports = _ports(_svc(), [_slice(["10.244.1.2", "10.244.1.3", "10.244.2.4"])])
    r = ipt.build(ports, cluster_cidr=CIDR)
    svc = ipt.service_chain(ports[0])
    entry = [x for x in _lines(r.nat, "KUBE-SERVICES") if x[-1] == svc]
    assert len(entry) == 1 and "10.96.0.20/32" in entry[0] and "80" in entry[0]
    chain = _lines(r.nat, svc)
    assert chain[0][-1] == "KUBE-MARK-MASQ" and ["!", "-s", CIDR] == chain[0][-5:-2]
    jumps = chain[1:]
    probs = [j[j.index("--probability") + 1] if "--probability" in j else None for j in jumps]
    assert probs == ["0.3333333333", "0.5000000000", None]
    seps = [j[-1] for j in jumps]
    assert all(s.startswith("KUBE-SEP-") for s in seps) and len(set(seps)) == 3
    first = _lines(r.nat, seps[0])
    assert first[0][-4:] == ["-s", "10.244.1.2/32", "-j", "KUBE-MARK-MASQ"]  # hairpin
    assert first[1][-4:] == ["-j", "DNAT", "--to-destination", "10.244.1.2:8080"]
    # The nodeports jump stays the last rule of KUBE-SERVICES.
    assert _lines(r.nat, "KUBE-SERVICES")[-1][-1] == "KUBE-NODEPORTS"
    assert not any("REJECT" in x for x in r.filter)


def test_service_without_endpoints_is_rejected_not_dnated() -> None:
    ports = _ports(_svc(type_="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}]), [])
    r = ipt.build(ports, cluster_cidr=CIDR)
    assert not r.owned_nat_chains()
    rejects = [x for x in r.filter if "REJECT" in x]
    assert any(x[0] == "KUBE-SERVICES" and "10.96.0.20/32" in x for x in rejects)
    assert any(x[0] == "KUBE-EXTERNAL-SERVICES" and "30080" in x and "LOCAL" in x for x in rejects)


def test_unready_endpoints_are_skipped_and_terminating_serving_ones_are_the_fallback() -> None:
    ready = ipt.slice_endpoints([_slice(["10.244.1.2"]), _slice(["10.244.1.3"], ready=False)], "http", "TCP")
    sp = ipt.ServicePort("d", "s", "http", "TCP", "10.96.0.2", 80, endpoints=ready)
    assert [e.ip for e in sp.usable_endpoints()] == ["10.244.1.2"]
    only_terminating = ipt.slice_endpoints([_slice(["10.244.1.4"], ready=False, serving=True, terminating=True)],
                                           "http", "TCP")
    sp = ipt.ServicePort("d", "s", "http", "TCP", "10.96.0.2", 80, endpoints=only_terminating)
    assert [e.ip for e in sp.usable_endpoints()] == ["10.244.1.4"]


def test_slice_ports_are_matched_by_name_and_protocol() -> None:
    s = {"ports": [{"name": "a", "port": 1000, "protocol": "TCP"}, {"name": "b", "port": 2000, "protocol": "UDP"}],
         "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {}}]}
    assert [e.port for e in ipt.slice_endpoints([s], "b", "UDP")] == [2000]
    assert ipt.slice_endpoints([s], "b", "TCP") == ()
    # A nil ready condition means ready.
    assert ipt.slice_endpoints([s], "a", "TCP")[0].ready


def test_session_affinity_uses_recent() -> None:
    ports = _ports(_svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
                   [_slice(["10.244.1.2", "10.244.1.3"])])
    r = ipt.build(ports, cluster_cidr=CIDR)
    chain = _lines(r.nat, ipt.service_chain(ports[0]))
    checks = [x for x in chain if "--rcheck" in x]
    assert len(checks) == 2 and all(x[x.index("--seconds") + 1] == "60" and "--reap" in x for x in checks)
    # Checks come before the random spread.
    assert chain.index(checks[-1]) < min(chain.index(x) for x in chain if "statistic" in x)
    for sep in {x[-1] for x in checks}:
        assert any("--set" in x and "DNAT" in x for x in _lines(r.nat, sep))


def test_nodeport_and_loadbalancer_go_through_the_external_chain() -> None:
    svc = _svc(type_="LoadBalancer", ports=[{"name": "http", "port": 80, "nodePort": 31000}],
               status={"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}, {"hostname": "lb.example"}]}})
    ports = _ports(svc, [_slice(["10.244.1.2"])])
    r = ipt.build(ports, cluster_cidr=CIDR)
    ext = ipt.external_chain(ports[0])
    assert _lines(r.nat, ext) == [[ext, "-m", "comment", "--comment",
                                   "masquerade traffic for default/web:http external destinations", "-j", "KUBE-MARK-MASQ"],
                                  [ext, "-j", ipt.service_chain(ports[0])]]
    assert any(x[-1] == ext and "31000" in x for x in _lines(r.nat, "KUBE-NODEPORTS"))
    lb = [x for x in _lines(r.nat, "KUBE-SERVICES") if x[-1] == ext]
    assert len(lb) == 1 and "192.0.2.2/32" in lb[0] and "80" in lb[0] and "default/web:http loadbalancer IP" in lb[0]


def test_headless_and_external_name_services_get_no_rules() -> None:
    assert ipt.service_ports(_svc(ip="None")) == []
    assert ipt.service_ports({"metadata": {"name": "x", "namespace": "d"},
                              "spec": {"type": "ExternalName", "externalName": "example.com"}}) == []


def test_render_declares_fills_and_deletes_stale_chains() -> None:
    ports = _ports(_svc(), [_slice(["10.244.1.2"])])
    r = ipt.build(ports, cluster_cidr=CIDR)
    text = ipt.render(r, stale_nat={"KUBE-SEP-OLDOLDOLDOLDOLD1", ipt.service_chain(ports[0])})
    nat = text[text.index("*nat"):]
    assert ":KUBE-SEP-OLDOLDOLDOLDOLD1 - [0:0]" in nat and "-X KUBE-SEP-OLDOLDOLDOLDOLD1" in nat
    # A chain still wanted is never deleted, even when named stale.
    assert f"-X {ipt.service_chain(ports[0])}" not in nat
    assert '--comment "default/web:http cluster IP"' in nat
    assert text.count("COMMIT") == 2


def test_render_is_deterministic_whatever_the_input_order() -> None:
    a = _ports(_svc("a", ip="10.96.0.3"), [_slice(["10.244.1.2", "10.244.1.3"])])
    b = _ports(_svc("b", ip="10.96.0.4"), [_slice(["10.244.1.5"])])
    t1 = ipt.render(ipt.build(a + b, cluster_cidr=CIDR))
    t2 = ipt.render(ipt.build(b + a, cluster_cidr=CIDR))
    assert t1 == t2


def test_rendered_rules_pass_iptables_restore_test() -> None:
    if shutil.which("iptables-restore") is None:
        missing("no iptables-restore (scripts/setup.sh installs iptables)")
    svc = _svc(type_="LoadBalancer", ports=[{"name": "http", "port": 80, "nodePort": 31000},
                                            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 31001}],
               sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
               status={"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}})
    slices = [_slice(["10.244.1.2", "10.244.1.3"]),
              {"ports": [{"name": "dns", "port": 5353, "protocol": "UDP"}], "endpoints": []}]
    empty = _svc("empty", ip="10.96.0.30", type_="NodePort", ports=[{"name": "x", "port": 81, "nodePort": 31002}])
    text = ipt.render(ipt.build(_ports(svc, slices) + _ports(empty, []), cluster_cidr=CIDR))
    proc = subprocess.run(["iptables-restore", "--test", "--noflush"], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + "\n" + text


def test_unchanged_service_chains_are_left_out_of_a_partial_document() -> None:
    a = _ports(_svc("a", ip="10.96.0.3"), [_slice(["10.244.1.2"])])
    b = _ports(_svc("b", ip="10.96.0.4"), [_slice(["10.244.1.5"])])
    before = ipt.chain_texts(ipt.build(a + b, cluster_cidr=CIDR))
    b2 = _ports(_svc("b", ip="10.96.0.4"), [_slice(["10.244.1.6"])])
    rules = ipt.build(a + b2, cluster_cidr=CIDR)
    after = ipt.chain_texts(rules)
    unchanged = {c for c in rules.owned_nat_chains() if before.get(c) == after[c]}
    assert ipt.service_chain(a[0]) in unchanged and ipt.service_chain(b2[0]) not in unchanged
    doc = ipt.render(rules, unchanged_nat=unchanged)
    assert f":{ipt.service_chain(a[0])} " not in doc and f"-A {ipt.service_chain(a[0])} " not in doc
    assert f":{ipt.service_chain(b2[0])} " in doc and "10.244.1.6:8080" in doc
    # The shared chains are always rewritten whole: they still jump to a's chain.
    assert f"-j {ipt.service_chain(a[0])}" in doc and ":KUBE-SERVICES - [0:0]" in doc
