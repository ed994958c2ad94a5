"""PersistentVolume, PersistentVolumeClaim and StorageClass through the real apiserver and the
real kubectl: defaults, protection finalizers, printed columns, the default class, and bad
input answered with Kubernetes' field paths and messages (nothing stored)."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest


def _apply(kubectl, manifest: str, *args: str, server=None):
    return kubectl("apply", "-f", "-", *args, input=textwrap.dedent(manifest), server=server)


@pytest.fixture
def names() -> str:
    return "st" + uuid.uuid4().hex[:6]


def test_columns_defaults_and_finalizers(kubectl, names: str) -> None:
    ns = names
    assert kubectl("create", "namespace", ns).returncode == 0
    out = _apply(kubectl, f"""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {{name: {names}-sc}}
        provisioner: example.com/none
        ---
        apiVersion: v1
        kind: PersistentVolume
        metadata: {{name: {names}-pv}}
        spec:
          capacity: {{storage: 2Gi}}
          accessModes: [ReadWriteOncePod]
          hostPath: {{path: /tmp/{names}}}
          storageClassName: {names}-sc
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: data, namespace: {ns}}}
        spec:
          accessModes: [ReadWriteOnce, ReadOnlyMany, ReadWriteOnce]
          storageClassName: {names}-sc
          resources: {{requests: {{storage: 1024Mi}}}}
        """)
    assert out.returncode == 0, out.stderr

    pv = json.loads(kubectl("get", "pv", f"{names}-pv", "-o", "json").stdout)
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem"
    assert pv["spec"]["hostPath"] == {"path": f"/tmp/{names}", "type": ""}
    assert pv["status"]["phase"] == "Pending" and pv["status"]["lastPhaseTransitionTime"]
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    pvc = json.loads(kubectl("get", "pvc", "data", "-n", ns, "-o", "json").stdout)
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["status"] == {"phase": "Pending"}
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    sc = json.loads(kubectl("get", "sc", f"{names}-sc", "-o", "json").stdout)
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")

    lines = kubectl("get", "pv", f"{names}-pv").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM",
                                "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]
    assert lines[1].split()[:7] == [f"{names}-pv", "2Gi", "RWOP", "Retain", "Pending", f"{names}-sc", "<unset>"]
    wide = kubectl("get", "pv", f"{names}-pv", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-1] == "VOLUMEMODE" and wide[1].split()[-1] == "Filesystem"
    lines = kubectl("get", "pvc", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                                "VOLUMEATTRIBUTESCLASS", "AGE"]
    # Unbound: no volume, capacity or access modes are shown.
    assert lines[1].split()[:4] == ["data", "Pending", f"{names}-sc", "<unset>"]
    lines = kubectl("get", "sc", f"{names}-sc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                "ALLOWVOLUMEEXPANSION", "AGE"]
    assert lines[1].split()[:5] == [f"{names}-sc", "example.com/none", "Delete", "Immediate", "false"]

    explained = kubectl("explain", "pvc.spec.accessModes")
    assert explained.returncode == 0 and "FIELD: accessModes <[]string>" in explained.stdout, explained.stderr
    explained = kubectl("explain", "storageclass.volumeBindingMode")
    assert explained.returncode == 0 and "GROUP:      storage.k8s.io" in explained.stdout, explained.stderr

    # Deleting a volume leaves it Terminating while its protection finalizer stays.
    assert kubectl("delete", "pv", f"{names}-pv", "--wait=false").returncode == 0
    row = kubectl("get", "pv", f"{names}-pv", "--no-headers").stdout.split()
    assert row[4] == "Terminating"
    kubectl("patch", "pv", f"{names}-pv", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert kubectl("delete", "sc", f"{names}-sc").returncode == 0
    assert kubectl("delete", "namespace", ns, "--wait=false").returncode == 0


def test_bad_input_names_the_fields(kubectl, names: str) -> None:
    out = _apply(kubectl, f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: {names}}}
        spec:
          accessModes: [ReadWriteSometimes]
          resources: {{requests: {{storage: "0"}}}}
        """)
    assert out.returncode != 0
    assert f'The PersistentVolumeClaim "{names}" is invalid' in out.stderr
    assert ('spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
            '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"') in out.stderr
    assert 'spec.resources[storage]: Invalid value: "0": must be greater than zero' in out.stderr

    out = _apply(kubectl, f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: {names}}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gx}}}}
        """)
    assert out.returncode != 0
    assert ("spec.resources.requests.storage: Invalid value: \"1Gx\": unable to parse quantity's suffix"
            in out.stderr)

    out = _apply(kubectl, f"""
        apiVersion: v1
        kind: PersistentVolume
        metadata: {{name: {names}}}
        spec:
          capacity: {{storage: 1Gi}}
          accessModes: [ReadWriteOncePod, ReadWriteOnce]
          persistentVolumeReclaimPolicy: Keep
          local: {{path: /data/../etc}}
        """)
    assert out.returncode != 0
    for line in ("spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                 'spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: '
                 '"Delete", "Recycle", "Retain"',
                 "spec.local.path: Invalid value: \"/data/../etc\": must not contain '..'",
                 "metadata.annotations: Required value: Local volume requires node affinity"):
        assert line in out.stderr

    out = _apply(kubectl, f"""
        apiVersion: v1
        kind: PersistentVolume
        metadata: {{name: {names}}}
        spec:
          capacity: {{storage: 1Gi}}
          accessModes: [ReadWriteOnce]
          nodeAffinity:
            required:
              nodeSelectorTerms:
              - matchExpressions: [{{key: kubernetes.io/hostname, operator: In}}]
        """)
    assert out.returncode != 0
    assert "spec: Required value: must specify a volume type" in out.stderr
    assert ("spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Required value: "
            "must be specified when `operator` is 'In' or 'NotIn'") in out.stderr

    out = _apply(kubectl, f"""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {{name: {names}}}
        provisioner: ""
        volumeBindingMode: Later
        """)
    assert out.returncode != 0
    assert "provisioner: Required value" in out.stderr
    assert ('volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", '
            '"WaitForFirstConsumer"') in out.stderr

    # Nothing half-written.
    for kind in ("pvc", "pv", "sc"):
        assert "NotFound" in kubectl("get", kind, names).stderr


def test_updates_keep_what_kubernetes_keeps(kubectl, names: str) -> None:
    out = _apply(kubectl, f"""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {{name: {names}}}
        provisioner: example.com/a
        parameters: {{speed: slow}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: {names}}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 1Gi}}}}
          storageClassName: ""
        """)
    assert out.returncode == 0, out.stderr
    out = kubectl("patch", "pvc", names, "-p", '{"spec":{"accessModes":["ReadWriteMany"]}}')
    assert ("spec: Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims") in out.stderr
    # The binder's one change: filling in volumeName.
    out = kubectl("patch", "pvc", names, "-p", '{"spec":{"volumeName":"some-pv"}}')
    assert out.returncode == 0, out.stderr
    out = kubectl("patch", "sc", names, "--type=merge",
                  "-p", '{"provisioner":"example.com/b","parameters":{"speed":"fast"}}')
    assert "provisioner: Forbidden: updates to provisioner are forbidden." in out.stderr
    assert "parameters: Forbidden: updates to parameters are forbidden." in out.stderr
    kubectl("patch", "pvc", names, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    kubectl("delete", "pvc", names)
    kubectl("delete", "sc", names)


def test_status_phase_change_stamps_transition_time(apiserver_process, names: str) -> None:
    with apiserver_process.http() as http:
        body = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": names},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                         "hostPath": {"path": f"/tmp/{names}"}}}
        created = http.post("/api/v1/persistentvolumes", json=body).json()
        stamped = "2000-01-01T00:00:00Z"
        created["status"]["lastPhaseTransitionTime"] = stamped
        same = http.put(f"/api/v1/persistentvolumes/{names}/status", json=created).json()
        assert same["status"] == {"phase": "Pending", "lastPhaseTransitionTime": stamped}
        same["status"]["phase"] = "Available"
        moved = http.put(f"/api/v1/persistentvolumes/{names}/status", json=same).json()
        assert moved["status"]["phase"] == "Available"
        assert moved["status"]["lastPhaseTransitionTime"] != stamped
        # A spec write cannot touch status.
        moved["status"]["phase"] = "Bound"
        kept = http.put(f"/api/v1/persistentvolumes/{names}", json=moved).json()
        assert kept["status"]["phase"] == "Available"
        http.patch(f"/api/v1/persistentvolumes/{names}", json={"metadata": {"finalizers": None}},
                   headers={"Content-Type": "application/merge-patch+json"})
        assert http.delete(f"/api/v1/persistentvolumes/{names}").status_code == 200


def test_default_storage_class_fills_claims(apiserver_factory, kubectl) -> None:
    # A server of its own: a default class would reach every claim of the shared one.
    server = apiserver_factory()
    first = _apply(kubectl, """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata:
          name: older
          annotations: {storageclass.kubernetes.io/is-default-class: "true"}
        provisioner: example.com/a
        """, server=server)
    assert first.returncode == 0, first.stderr
    assert _apply(kubectl, """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: implicit}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: none}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
          storageClassName: ""
        """, server=server).returncode == 0
    assert _apply(kubectl, """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: legacy
          annotations: {volume.beta.kubernetes.io/storage-class: older}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        """, server=server).returncode == 0
    def get(n):
        return json.loads(kubectl("get", "pvc", n, "-o", "json", server=server).stdout)["spec"]
    assert get("implicit")["storageClassName"] == "older"
    assert get("none")["storageClassName"] == ""
    assert "storageClassName" not in get("legacy")
    sc = kubectl("get", "sc", server=server).stdout.splitlines()
    assert sc[1].split()[:2] == ["older", "(default)"]
