"""Pure rules of the StatefulSet controller: ordinals, the pod and claims of an ordinal."""

from __future__ import annotations

from controllers import statefulset_utils as su

STS = {"apiVersion": "apps/v1", "kind": "StatefulSet",
       "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
       "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c"}],
                                      "volumes": [{"name": "www", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"tier": "db"}},
                                          "spec": {"accessModes": ["ReadWriteOnce"]}}]}}


def test_ordinals():
    assert su.ordinal_of({"metadata": {"name": "web-12"}}, "web") == 12
    assert su.ordinal_of({"metadata": {"name": "web-x"}}, "web") is None
    assert su.ordinal_of({"metadata": {"name": "webby-1"}}, "web") is None
    assert su.ordinal_of({"metadata": {"name": "my-web-1"}}, "my-web") == 1


def test_pod_identity_and_volumes():
    pod = su.new_pod(STS, STS["spec"]["template"], 2, "abc")
    md = pod["metadata"]
    assert md["name"] == "web-2" and "generateName" not in md
    assert md["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-2",
                            "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "abc"}
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-2", "nginx")
    # The claim replaces the template's volume of the same name; other volumes stay.
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}},
                                      {"name": "cfg", "emptyDir": {}}]


def test_claims():
    (claim,) = su.new_claims(STS, 0)
    assert claim["metadata"]["name"] == "www-web-0"
    assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert claim["metadata"]["ownerReferences"][0]["uid"] == "u1"  # whenDeleted: Delete
