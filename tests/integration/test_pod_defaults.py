"""What the apiserver gives a request by default, as Kubernetes does (issue #14).

* DefaultTolerationSeconds admission: a new pod tolerates the not-ready and unreachable
  NoExecute taints for 300 s unless it already tolerates them (an empty key or effect counts);
  the seconds are kube-apiserver's ``--default-*-toleration-seconds``.
* The field manager of a write that names none is its User-Agent's first path segment
  (``kubectl`` for ``kubectl scale``, recorded with subresource ``scale``); a request with no
  User-Agent has no manager, never a made-up one.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

from tests.conftest import REPO

NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}


def pod(name: str, tolerations: list[dict] | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_new_pods_get_the_default_not_ready_and_unreachable_tolerations(api_http, kubectl) -> None:
    ns = f"pd-{uuid.uuid4().hex[:8]}"
    assert api_http.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
    base = f"/api/v1/namespaces/{ns}/pods"
    cases = {
        "plain": (None, [NOT_READY, UNREACHABLE]),
        # Tolerating the taint already (a NoSchedule toleration does not count).
        "short": ([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": 5}], None),
        "noschedule": ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}], None),
        "everything": ([{"operator": "Exists"}], []),  # empty key and effect: tolerates every taint
        "any-effect": ([{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}], None),
    }
    for name, (tols, _) in cases.items():
        r = api_http.post(base, json=pod(name, tols))
        assert r.status_code == 201, r.text
    got = {name: api_http.get(f"{base}/{name}").json()["spec"].get("tolerations") or [] for name in cases}
    assert got["plain"] == [NOT_READY, UNREACHABLE]
    assert got["short"] == [cases["short"][0][0], NOT_READY]
    assert got["noschedule"] == [cases["noschedule"][0][0], NOT_READY, UNREACHABLE]
    assert got["everything"] == [{"operator": "Exists"}]
    assert got["any-effect"] == [cases["any-effect"][0][0], UNREACHABLE]

    # kubectl run gets the same defaults.
    r = kubectl("run", "-n", ns, "by-kubectl", "--image=minik8s/busybox:latest")
    assert r.returncode == 0, r.stderr
    made = api_http.get(f"{base}/by-kubectl").json()
    assert made["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]
    r = kubectl("get", "pod", "-n", ns, "by-kubectl", "-o",
                "jsonpath={.spec.tolerations[*].key}={.spec.tolerations[*].tolerationSeconds}")
    assert r.stdout == "node.kubernetes.io/not-ready node.kubernetes.io/unreachable=300 300"
    api_http.delete(f"/api/v1/namespaces/{ns}")


def test_the_toleration_seconds_are_the_apiservers_flags(apiserver_factory) -> None:
    server = apiserver_factory(extra_args=("--default-not-ready-toleration-seconds", "30",
                                           "--default-unreachable-toleration-seconds", "60"))
    with server.http() as http:
        r = http.post("/api/v1/namespaces/default/pods", json=pod("p"))
        assert r.status_code == 201, r.text
        assert [(t["key"], t["tolerationSeconds"]) for t in r.json()["spec"]["tolerations"]] == [
            ("node.kubernetes.io/not-ready", 30), ("node.kubernetes.io/unreachable", 60)]
    off = apiserver_factory(extra_args=("--disable-admission-plugins", "DefaultTolerationSeconds"))
    with off.http() as http:
        r = http.post("/api/v1/namespaces/default/pods", json=pod("p"))
        assert r.status_code == 201, r.text
        assert "tolerations" not in r.json()["spec"]
    bad = subprocess.run([sys.executable, "-m", "apiserver.main", "--default-unreachable-toleration-seconds", "-1"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--default-unreachable-toleration-seconds must be 0 or more" in bad.stderr


def test_the_field_manager_comes_from_the_user_agent(api_http, kubectl) -> None:
    name = f"fm-{uuid.uuid4().hex[:8]}"
    base = "/apis/apps/v1/namespaces/default/deployments"
    r = kubectl("create", "deployment", name, "--image=minik8s/busybox:latest")
    assert r.returncode == 0, r.stderr
    try:
        r = kubectl("scale", f"deployment/{name}", "--replicas=3")
        assert r.returncode == 0, r.stderr
        # A client naming no manager and sending no User-Agent: no manager, as Kubernetes.
        r = api_http.patch(f"{base}/{name}", json={"metadata": {"labels": {"x": "y"}}},
                           headers={"Content-Type": "application/merge-patch+json", "User-Agent": ""})
        assert r.status_code == 200, r.text
        # Another client's own User-Agent names it.
        r = api_http.patch(f"{base}/{name}", json={"metadata": {"annotations": {"a": "b"}}},
                           headers={"Content-Type": "application/merge-patch+json", "User-Agent": "my-operator/2.1"})
        assert r.status_code == 200, r.text
        entries = api_http.get(f"{base}/{name}").json()["metadata"]["managedFields"]
        summary = [(e.get("manager"), e["operation"], e.get("subresource")) for e in entries]
        assert ("kubectl-create", "Update", None) in summary
        assert ("kubectl", "Update", "scale") in summary
        assert ("my-operator", "Update", None) in summary
        assert (None, "Update", None) in summary  # the anonymous client's entry has no manager key
        assert not any(e.get("manager") == "unknown" for e in entries)
        scale = next(e for e in entries if e.get("subresource") == "scale")
        assert scale["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    finally:
        api_http.delete(f"{base}/{name}")
