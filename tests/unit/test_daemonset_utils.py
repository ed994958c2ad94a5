"""Pure rules of the DaemonSet controller: node eligibility (selector, affinity, taints and the
daemon tolerations), the pod pinned to a node, revisions' hash and data, the update budget."""

from __future__ import annotations

import datetime

from controllers import daemonset_utils as du


def node(labels=None, taints=None, name="n1"):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


TPL = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


def test_eligibility():
    assert du.node_should_run(node(), TPL) == (True, True)
    sel = {**TPL, "spec": {**TPL["spec"], "nodeSelector": {"disk": "ssd"}}}
    assert du.node_should_run(node({"disk": "hdd"}), sel) == (False, False)
    assert du.node_should_run(node(taints=[{"key": "x", "effect": "NoSchedule"}]), TPL) == (False, True)
    assert du.node_should_run(node(taints=[{"key": "x", "effect": "NoExecute"}]), TPL) == (False, False)
    assert du.node_should_run(node(taints=[{"key": "x", "effect": "PreferNoSchedule"}]), TPL) == (True, True)
    # Tolerated by the daemon tolerations.
    for key, effect in (("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unschedulable",
                                                                         "NoSchedule")):
        assert du.node_should_run(node(taints=[{"key": key, "effect": effect}]), TPL) == (True, True)
    aff = {**TPL, "spec": {**TPL["spec"], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}}
    assert du.node_should_run(node({"zone": "a"}), aff)[0] and not du.node_should_run(node({"zone": "b"}), aff)[0]


def test_pod_for_node_is_pinned_by_affinity_and_keeps_the_templates_terms():
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "ns", "uid": "u",
                                                                    "generation": 3},
          "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {
              "containers": [{"name": "c"}], "hostNetwork": True,
              "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                  {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}}}}
    pod = du.pod_for_node(ds, "n7", "abc")
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]
    assert term["matchExpressions"][0]["key"] == "zone"
    assert du.target_node(pod) == "n7"
    assert pod["metadata"]["labels"] == {"app": "a", "controller-revision-hash": "abc", "pod-template-generation": "3"}
    assert {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"} in \
        pod["spec"]["tolerations"]


def test_hash_is_stable_and_changes_with_the_template_and_collisions():
    h = du.compute_hash(TPL, None)
    assert h == du.compute_hash(dict(TPL), 0) and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert h != du.compute_hash(TPL, 1)
    assert h != du.compute_hash({**TPL, "spec": {"containers": [{"name": "c", "image": "j"}]}}, None)
    data = du.revision_data({"spec": {"template": TPL}})
    assert data == {"spec": {"template": {**TPL, "$patch": "replace"}}}


def test_budget():
    ds = {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 0}}}}
    assert du.surge_and_unavailable(ds, 10) == (0, 3)
    ds = {"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "10%"}}}}
    assert du.surge_and_unavailable(ds, 10) == (1, 0)


def test_status_counts_per_node():
    t = "2026-12-04T10:00:00Z"
    ready = {"metadata": {"name": "p", "labels": {"controller-revision-hash": "h"}, "creationTimestamp": t},
             "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}}
    old = {"metadata": {"name": "q", "labels": {"controller-revision-hash": "old"}, "creationTimestamp": t}}
    nodes = [node(name="a"), node(name="b"), node(name="c", taints=[{"key": "x", "effect": "NoSchedule"}])]
    st = du.calculate_status({"spec": {"template": TPL}}, nodes, {"a": [ready], "c": [old]}, "h",
                             datetime.datetime(2026, 12, 4, 11, tzinfo=datetime.UTC))
    assert st == {"currentNumberScheduled": 1, "numberMisscheduled": 1, "desiredNumberScheduled": 2,
                  "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberUnavailable": 1}
