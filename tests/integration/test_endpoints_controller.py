"""The Endpoints, EndpointSlice and ServiceLB controllers against a real apiserver.

Pods are created through the API and their status (IP, Ready) written through
``pods/{name}/status`` as a kubelet would, so the controllers see exactly what they would in a
cluster; the tests wait for the objects the controllers write.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from controllers.endpoints import EndpointsController
from controllers.endpointslice import EndpointSliceController
from controllers.servicelb import ServiceLBController
from minik8s import errors
from minik8s.api.resources import ENDPOINTS, ENDPOINTSLICES, NODES, PODS, SERVICES
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually


@pytest.fixture
async def ns(client: ApiClient) -> AsyncIterator[str]:
    name = await new_namespace(client, "ep")
    yield name
    with contextlib.suppress(errors.ApiError):
        from minik8s.api.resources import NAMESPACES
        await client.delete(NAMESPACES, name)


def _both(client: ApiClient):
    def build(factory):
        return [EndpointsController(client, factory), EndpointSliceController(client, factory)]
    return build


class _Pair:
    """Two controllers behind the one-controller harness."""

    def __init__(self, ctrls) -> None:
        self.ctrls = ctrls

    async def run(self, workers: int) -> None:
        import asyncio
        await asyncio.gather(*(c.run(workers) for c in self.ctrls))


async def _pod(client: ApiClient, ns: str, name: str, *, labels: dict, ip: str | None, ready: bool,
               ports: list[dict] | None = None, node: str = "n1", **spec) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x", "ports": ports or []}], **spec}}
    created = await client.create(PODS, pod, namespace=ns)
    if ip is not None:
        await _set_status(client, created, ip=ip, ready=ready)
    return created


async def _set_status(client: ApiClient, pod: dict, *, ip: str, ready: bool, phase: str = "Running") -> dict:
    cur = await client.get(PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
    cur["status"] = {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}],
                     "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                     "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    return await client.update_status(PODS, cur)


async def _service(client: ApiClient, ns: str, name: str, *, selector: dict | None, ports: list[dict],
                   **spec) -> dict:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"tier": "web"}},
           "spec": {"ports": ports, **({"selector": selector} if selector is not None else {}), **spec}}
    return await client.create(SERVICES, svc, namespace=ns)


def _ips(ep: dict | None, field: str = "addresses") -> list[str]:
    return sorted(a["ip"] for s in (ep or {}).get("subsets") or [] for a in s.get(field) or [])


async def _slices(client: ApiClient, ns: str, svc: str) -> list[dict]:
    lst = await client.list(ENDPOINTSLICES, namespace=ns, label_selector=f"kubernetes.io/service-name={svc}")
    return lst.get("items") or []


async def test_ready_and_unready_pods_named_ports_and_changes(client, ns) -> None:
    async with running(client, lambda f: _Pair(_both(client)(f))):
        await _pod(client, ns, "a", labels={"app": "web"}, ip="10.244.1.2", ready=True,
                   ports=[{"name": "http", "containerPort": 8080}])
        await _pod(client, ns, "b", labels={"app": "web"}, ip="10.244.1.3", ready=False,
                   ports=[{"name": "http", "containerPort": 9090}])
        await _pod(client, ns, "other", labels={"app": "db"}, ip="10.244.1.4", ready=True)
        await _pod(client, ns, "noip", labels={"app": "web"}, ip=None, ready=False)
        await _service(client, ns, "web", selector={"app": "web"},
                       ports=[{"name": "http", "port": 80, "targetPort": "http"},
                              {"name": "raw", "port": 81, "targetPort": 7000}])

        async def settled():
            ep = await get_or_none(client, ENDPOINTS, "web", namespace=ns)
            return ep if len(_ips(ep)) + len(_ips(ep, "notReadyAddresses")) == 2 else None
        ep = await eventually(settled, what="Endpoints with both pods")
        md = ep["metadata"]
        assert md["labels"]["endpoints.kubernetes.io/managed-by"] == "endpoint-controller"
        assert md["labels"]["tier"] == "web"
        assert "endpoints.kubernetes.io/last-change-trigger-time" in (md.get("annotations") or {})
        assert not md.get("ownerReferences")
        # Each pod resolves "http" to its own container port: two port sets, two subsets.
        by_ip = {}
        for s in ep["subsets"]:
            for field in ("addresses", "notReadyAddresses"):
                for a in s.get(field) or []:
                    by_ip[a["ip"]] = (field, sorted((p["name"], p["port"]) for p in s["ports"]), a)
        assert by_ip["10.244.1.2"][:2] == ("addresses", [("http", 8080), ("raw", 7000)])
        assert by_ip["10.244.1.3"][:2] == ("notReadyAddresses", [("http", 9090), ("raw", 7000)])
        addr = by_ip["10.244.1.2"][2]
        assert addr["nodeName"] == "n1"
        assert addr["targetRef"]["kind"] == "Pod" and addr["targetRef"]["name"] == "a"

        slices = await eventually(lambda: _slices(client, ns, "web"), what="EndpointSlices")

        async def two_slice_endpoints():
            found = await _slices(client, ns, "web")
            return found if sum(len(s.get("endpoints") or []) for s in found) == 2 else None
        slices = await eventually(two_slice_endpoints, what="both pods in slices")
        for s in slices:
            assert s["addressType"] == "IPv4"
            assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
            owner = s["metadata"]["ownerReferences"][0]
            assert owner["kind"] == "Service" and owner["name"] == "web" and owner["controller"] is True
        eps = {e["addresses"][0]: e for s in slices for e in s["endpoints"]}
        assert eps["10.244.1.2"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert eps["10.244.1.3"]["conditions"] == {"ready": False, "serving": False, "terminating": False}

        # b becomes ready: it moves to addresses; a loses its label: it leaves.
        b = await client.get(PODS, "b", namespace=ns)
        await _set_status(client, b, ip="10.244.1.3", ready=True)
        a = await client.get(PODS, "a", namespace=ns)
        a["metadata"]["labels"] = {"app": "gone"}
        await client.update(PODS, a)

        async def moved():
            ep = await get_or_none(client, ENDPOINTS, "web", namespace=ns)
            return ep if _ips(ep) == ["10.244.1.3"] and not _ips(ep, "notReadyAddresses") else None
        await eventually(moved, what="b ready, a gone")

        async def slices_moved():
            found = await _slices(client, ns, "web")
            eps = [e for s in found for e in s.get("endpoints") or []]
            return len(eps) == 1 and eps[0]["addresses"] == ["10.244.1.3"] and eps[0]["conditions"]["ready"]
        await eventually(slices_moved, what="slices follow")

        # Deleting the service removes its Endpoints and slices.
        await client.delete(SERVICES, "web", namespace=ns)

        async def gone():
            return (await get_or_none(client, ENDPOINTS, "web", namespace=ns) is None
                    and not await _slices(client, ns, "web"))
        await eventually(gone, what="Endpoints and slices deleted with the service")


async def test_headless_publish_not_ready_hostnames_and_placeholder(client, ns) -> None:
    async with running(client, lambda f: _Pair(_both(client)(f))):
        await _service(client, ns, "db", selector={"app": "db"}, ports=[], clusterIP="None",
                       publishNotReadyAddresses=True)
        # No pods yet: Endpoints without subsets, one empty placeholder slice.
        ep = await eventually(lambda: get_or_none(client, ENDPOINTS, "db", namespace=ns), what="empty Endpoints")
        assert not ep.get("subsets")
        assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
        placeholder = await eventually(lambda: _slices(client, ns, "db"), what="placeholder slice")
        assert len(placeholder) == 1 and not placeholder[0].get("endpoints")

        await _pod(client, ns, "db-0", labels={"app": "db"}, ip="10.244.2.2", ready=False,
                   hostname="db-0", subdomain="db")

        async def listed():
            ep = await get_or_none(client, ENDPOINTS, "db", namespace=ns)
            return ep if _ips(ep) == ["10.244.2.2"] else None
        ep = await eventually(listed, what="unready pod published")
        addr = ep["subsets"][0]["addresses"][0]
        assert addr["hostname"] == "db-0"
        assert "ports" not in ep["subsets"][0]

        async def one_slice():
            found = await _slices(client, ns, "db")
            return found if len(found) == 1 and found[0].get("endpoints") else None
        s = (await eventually(one_slice, what="placeholder replaced by a real slice"))[0]
        e = s["endpoints"][0]
        assert e["hostname"] == "db-0"
        assert e["conditions"] == {"ready": True, "serving": False, "terminating": False}


async def test_service_without_selector_is_left_alone(client, ns) -> None:
    async with running(client, lambda f: _Pair(_both(client)(f))) as pair:
        await _service(client, ns, "ext", selector=None, ports=[{"port": 80}])
        mine = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
                "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]}
        await client.create(ENDPOINTS, mine, namespace=ns)
        for ctrl in pair.ctrls:
            await ctrl.sync(f"{ns}/ext")
        ep = await client.get(ENDPOINTS, "ext", namespace=ns)
        assert _ips(ep) == ["192.0.2.10"]
        assert "endpoints.kubernetes.io/managed-by" not in (ep["metadata"].get("labels") or {})
        assert not await _slices(client, ns, "ext")


async def test_many_pods_split_into_slices_of_at_most_the_maximum(client, ns) -> None:
    def build(f):
        return EndpointSliceController(client, f, max_endpoints_per_slice=3)
    async with running(client, build):
        await _service(client, ns, "many", selector={"app": "many"}, ports=[{"port": 80}])
        for i in range(7):
            await _pod(client, ns, f"p{i}", labels={"app": "many"}, ip=f"10.244.3.{10 + i}", ready=True)

        async def all_in():
            found = await _slices(client, ns, "many")
            n = sum(len(s.get("endpoints") or []) for s in found)
            return found if n == 7 else None
        found = await eventually(all_in, what="7 endpoints in slices")
        assert all(len(s["endpoints"]) <= 3 for s in found)
        assert len(found) == 3
        addrs = [e["addresses"][0] for s in found for e in s["endpoints"]]
        assert len(set(addrs)) == 7


async def test_servicelb_sets_ingress_to_ready_node_addresses(client, ns) -> None:
    node = f"lb-{ns}"
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    try:
        n = await client.get(NODES, node)
        n["status"] = {"addresses": [{"type": "InternalIP", "address": "198.51.100.7"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}
        await client.update_status(NODES, n)
        async with running(client, lambda f: ServiceLBController(client, f)):
            await _service(client, ns, "lb", selector={"app": "x"}, ports=[{"port": 80}], type="LoadBalancer")

            async def ingress():
                svc = await client.get(SERVICES, "lb", namespace=ns)
                ips = [i.get("ip") for i in svc["status"].get("loadBalancer", {}).get("ingress") or []]
                return ips if "198.51.100.7" in ips else None
            await eventually(ingress, what="ingress with the node's InternalIP")

            # Back to ClusterIP: the ingress is cleared.
            svc = await client.get(SERVICES, "lb", namespace=ns)
            svc["spec"]["type"] = "ClusterIP"
            for p in svc["spec"]["ports"]:
                p.pop("nodePort", None)
            svc["spec"].pop("externalTrafficPolicy", None)
            svc["spec"].pop("allocateLoadBalancerNodePorts", None)
            await client.update(SERVICES, svc)

            async def cleared():
                svc = await client.get(SERVICES, "lb", namespace=ns)
                return not svc["status"].get("loadBalancer", {}).get("ingress")
            await eventually(cleared, what="ingress cleared")
    finally:
        await client.delete(NODES, node)
