"""Service ClusterIP / NodePort allocation: ranges, requested values, conflicts, release."""

from apiserver.allocators import IPAllocator, PortAllocator, ServiceAllocator


def svc(type_="ClusterIP", cluster_ip=None, ports=((80, None),)):
    spec = {"type": type_, "ports": [{"port": p, "protocol": "TCP", **({"nodePort": n} if n else {})} for p, n in ports]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"spec": spec}


def test_ip_allocator_round_robin_and_requested():
    a = IPAllocator("10.96.0.0/29")
    assert [a.allocate() for _ in range(3)] == ["10.96.0.1", "10.96.0.2", "10.96.0.3"]
    a.release("10.96.0.2")
    assert a.allocate() == "10.96.0.4"  # a freed IP is not handed out again at once
    assert a.allocate("10.96.0.2") == "10.96.0.2"
    for bad, why in (("10.96.0.2", "already allocated"), ("10.0.0.1", "not in the valid range")):
        try:
            a.allocate(bad)
        except ValueError as e:
            assert why in str(e)
        else:
            raise AssertionError("allocated twice")


def test_port_allocator_range():
    p = PortAllocator(30000, 30002)
    assert {p.allocate(), p.allocate(), p.allocate()} == {30000, 30001, 30002}
    try:
        p.allocate()
    except ValueError as e:
        assert "full" in str(e)


def test_service_allocation_and_release():
    al = ServiceAllocator()
    a = svc("NodePort")
    assert al.allocate(a, None) == []
    ip, np = a["spec"]["clusterIP"], a["spec"]["ports"][0]["nodePort"]
    assert a["spec"]["clusterIPs"] == [ip] and 30000 <= np <= 32767
    b = svc("NodePort", cluster_ip=ip, ports=((80, np),))
    errs = al.allocate(b, None)
    assert {e.field for e in errs} == {"spec.clusterIPs", "spec.ports[0].nodePort"}
    assert "provided IP is already allocated" in errs[0].message
    # an update keeps what the service had; switching to ClusterIP frees its node port
    c = svc("ClusterIP")
    assert al.allocate(c, a) == [] and c["spec"]["clusterIP"] == ip and "nodePort" not in c["spec"]["ports"][0]
    al.release_replaced(c, a)
    assert np not in al.ports.used
    al.release_replaced(None, c)
    assert not al.ips.used


def test_headless_and_external_name():
    al = ServiceAllocator()
    h = svc(cluster_ip="None")
    assert al.allocate(h, None) == [] and h["spec"]["clusterIPs"] == ["None"] and not al.ips.used
    e = {"spec": {"type": "ExternalName", "externalName": "example.com"}}
    assert al.allocate(e, None) == [] and "clusterIP" not in e["spec"]


def test_rebuild_from_stored():
    al = ServiceAllocator()
    al.rebuild([{"spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30080}]}}])
    errs = al.allocate(svc("NodePort", cluster_ip="10.96.0.10", ports=((80, 30080),)), None)
    assert len(errs) == 2
