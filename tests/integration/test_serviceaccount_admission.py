"""The ServiceAccount admission on a real apiserver (one with the plugin on, as
kube-apiserver runs by default): the default account is filled in, a pod naming a missing
account is refused with Kubernetes' message, the projected ``kube-api-access-*`` volume and its
mounts are added exactly as Kubernetes adds them, and automount/imagePullSecrets/mirror-pod
rules hold."""

from __future__ import annotations

import re

import pytest

NS = "default"


@pytest.fixture
def api(apiserver_factory):
    server = apiserver_factory(extra_args=("--enable-admission-plugins", "ServiceAccount"))
    with server.http() as http:
        # the serviceaccount controller's job, done by hand: no controller-manager runs here
        assert http.post(f"/api/v1/namespaces/{NS}/serviceaccounts",
                         json={"metadata": {"name": "default"}}).status_code == 201
        yield http


def _pod(name: str, **spec) -> dict:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], "initContainers": [{"name": "i", "image": "busybox"}],
                     **spec}}


def test_default_account_and_token_volume(api) -> None:
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=_pod("p1"))
    assert r.status_code == 201, r.text
    spec = r.json()["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    [vol] = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"])
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]


def test_missing_account_is_refused(api) -> None:
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=_pod("p2", serviceAccountName="ghost"))
    assert r.status_code == 403
    body = r.json()
    assert body["reason"] == "Forbidden"
    assert body["message"] == ('pods "p2" is forbidden: error looking up service account default/ghost: '
                               'serviceaccount "ghost" not found')
    assert api.get(f"/api/v1/namespaces/{NS}/pods/p2").status_code == 404


def test_automount_and_pull_secrets(api) -> None:
    assert api.post(f"/api/v1/namespaces/{NS}/serviceaccounts", json={
        "metadata": {"name": "quiet"}, "automountServiceAccountToken": False,
        "imagePullSecrets": [{"name": "regcred"}]}).status_code == 201
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=_pod("p3", serviceAccountName="quiet"))
    spec = r.json()["spec"]
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    # the pod's own word wins over the account's
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=_pod("p4", serviceAccountName="quiet",
                                                             automountServiceAccountToken=True))
    assert r.json()["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    # a container with its own mount at the path keeps it; the volume is still added for the others
    pod = _pod("p5")
    pod["spec"]["volumes"] = [{"name": "mine", "emptyDir": {}}]
    pod["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "mine", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    spec = api.post(f"/api/v1/namespaces/{NS}/pods", json=pod).json()["spec"]
    assert spec["containers"][0]["volumeMounts"] == pod["spec"]["containers"][0]["volumeMounts"]
    assert [v["name"] for v in spec["volumes"]][0] == "mine" and len(spec["volumes"]) == 2


def test_mirror_pods(api) -> None:
    mirror = _pod("m1", serviceAccountName="default")
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=mirror)
    assert r.status_code == 403 and r.json()["message"].endswith("a mirror pod may not reference service accounts")
    del mirror["spec"]["serviceAccountName"]
    r = api.post(f"/api/v1/namespaces/{NS}/pods", json=mirror)
    assert r.status_code == 201 and "volumes" not in r.json()["spec"]


def test_admitted_fields_are_nobodys(api) -> None:
    """As Kubernetes' create handler: the creating manager owns what its request set (with the
    defaults and the strategy's preparation), not what mutating admission added."""
    r = api.post(f"/api/v1/namespaces/{NS}/pods?fieldManager=me", json=_pod("p5", volumes=[{"name": "mine", "emptyDir": {}}]))
    assert r.status_code == 201, r.text
    obj = r.json()
    token_volume = next(v["name"] for v in obj["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("me", "Update")
    spec = entry["fieldsV1"]["f:spec"]
    assert set(spec["f:volumes"]) == {'k:{"name":"mine"}', "."}
    assert token_volume not in str(entry["fieldsV1"])
    assert "f:volumeMounts" not in spec["f:containers"]['k:{"name":"c"}']
    assert "f:serviceAccountName" not in spec
    # what the request set and the defaults are the manager's, as before
    assert "f:image" in spec["f:containers"]['k:{"name":"c"}'] and "f:restartPolicy" in spec
    # the stored object is the same as the one the answer showed
    assert api.get(f"/api/v1/namespaces/{NS}/pods/p5").json()["metadata"]["managedFields"] == [entry]
