"""Two apiservers on one etcd (issue #12, several apiservers): each keeps its own watch cache fed
from etcd, so a write through one reaches the watchers of the other, and the lease endpoint
reconciler lists every live apiserver in ``default/kubernetes``'s Endpoints, dropping one that
stops."""

from __future__ import annotations

import json

from tests.etcd_harness import etcd_factory  # noqa: F401 (fixture)
from tests.minik8s_up_harness import wait_until

EP = "/api/v1/namespaces/default/endpoints/kubernetes"
SLICE = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"


def addresses(http) -> list[str]:
    subsets = http.get(EP).json().get("subsets") or []
    return [a["ip"] for s in subsets for a in s.get("addresses", [])]


def test_two_apiservers_share_watches_and_endpoints(apiserver_factory, etcd_factory) -> None:
    etcd = etcd_factory()
    a = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--advertise-address", "127.0.0.2"))
    b = apiserver_factory(extra_args=("--etcd-servers", etcd.url, "--advertise-address", "127.0.0.3"))
    base = "/api/v1/namespaces/default/configmaps"
    with a.http(timeout=30) as ha, b.http(timeout=30) as hb:
        rv = hb.get(base).json()["metadata"]["resourceVersion"]
        with hb.stream("GET", base, params={"watch": "true", "resourceVersion": rv}) as watch:
            made = ha.post(base, json={"metadata": {"name": "from-a"}, "data": {"k": "v"}})
            assert made.status_code == 201, made.text
            event = json.loads(next(watch.iter_lines()))
            assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "from-a"
            assert event["object"]["metadata"]["resourceVersion"] == made.json()["metadata"]["resourceVersion"]
        # Optimistic concurrency across the two: a stale update through b is a 409.
        obj = made.json()
        obj["data"] = {"k": "through-a"}
        assert ha.put(f"{base}/from-a", json=obj).status_code == 200
        obj["data"] = {"k": "stale-through-b"}
        conflict = hb.put(f"{base}/from-a", json=obj)
        assert conflict.status_code == 409 and conflict.json()["reason"] == "Conflict"

        # Both apiservers are in the kubernetes Endpoints (and its EndpointSlice), seen from either.
        both = ["127.0.0.2", "127.0.0.3"]
        wait_until(lambda: addresses(ha) == both and addresses(hb) == both, "both apiservers in the Endpoints")
        sl = hb.get(SLICE).json()
        assert sorted(e["addresses"][0] for e in sl["endpoints"]) == both
        leases = ha.get(EP).json()
    # One stops: it removes its lease and itself at once (a crash would wait for the 15 s TTL).
    b.stop()
    with a.http(timeout=30) as ha:
        wait_until(lambda: addresses(ha) == ["127.0.0.2"], "the stopped apiserver gone from the Endpoints")
    assert leases["subsets"][0]["ports"][0]["name"] == "https"
