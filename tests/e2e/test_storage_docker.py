"""Persistent storage end to end on real Docker, driven by the real kubectl against a
``minik8s up`` cluster: the default ``local-path`` class provisions a directory on the node
when the first pod is scheduled; data a pod wrote is read by the next pod on the claim;
``Delete`` removes the volume and its directory with the claim, ``Retain`` keeps both and the
volume goes Released; a pod whose claim is unbound is not started, with Kubernetes' event; on
a second node (a kubelet of its own data dir, as ``minik8s join`` runs one) the directory is
made, and removed, under that node's data dir by that node.

The cluster is this module's own (its own data dir, ports and node name).
"""

from __future__ import annotations

import json
import shutil
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.kubelet_harness import KubeletProc, remove_node_containers
from tests.minik8s_up_harness import Up, kubectl_for, remove_node_network, up_cluster, wait_until

pytestmark = pytest.mark.docker

BUSYBOX = "minik8s/busybox:latest"


@pytest.fixture(scope="module")
def up(tmp_path_factory, docker_client, test_images):
    with up_cluster(tmp_path_factory, docker_client, "st") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kubectl(up, kubectl_path, tmp_path_factory):
    return kubectl_for(up, kubectl_path, tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture
def ns(kubectl):
    name = f"st-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def apply(kubectl, ns: str, manifest: str) -> None:
    out = kubectl("apply", "-n", ns, "-f", "-", input=textwrap.dedent(manifest))
    assert out.returncode == 0, out.stderr


def claim(name: str, cls: str | None = None) -> str:
    cls_line = f'\n          storageClassName: "{cls}"' if cls is not None else ""
    return f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: {name}}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 32Mi}}}}{cls_line}
        """


def pod(name: str, claim_name: str, script: str) -> str:
    return f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {BUSYBOX}
            imagePullPolicy: Never
            command: [sh, -c, "{script}"]
            volumeMounts: [{{name: data, mountPath: /data}}]
          volumes:
          - name: data
            persistentVolumeClaim: {{claimName: {claim_name}}}
        """


def get_json(kubectl, *args: str) -> dict | None:
    out = kubectl("get", *args, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def phase(kubectl, *args: str) -> str | None:
    obj = get_json(kubectl, *args)
    return (obj.get("status") or {}).get("phase") if obj else None


def succeeded(kubectl, ns: str, name: str, up: Up) -> None:
    wait_until(lambda: phase(kubectl, "pod", name, "-n", ns) == "Succeeded", f"pod {name} Succeeded",
               diag=lambda: kubectl("describe", "pod", name, "-n", ns).stdout + up.diag())


def test_default_class_keeps_data_across_pods_and_delete_removes_it(up, kubectl, ns) -> None:
    lines = kubectl("get", "sc").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                "ALLOWVOLUMEEXPANSION", "AGE"]
    assert lines[1].split()[:6] == ["local-path", "(default)", "minik8s.io/local-path", "Delete",
                                    "WaitForFirstConsumer", "false"]

    apply(kubectl, ns, claim("data"))
    # Nothing is provisioned before a pod needs the claim.
    assert phase(kubectl, "pvc", "data", "-n", ns) == "Pending"
    apply(kubectl, ns, pod("writer", "data", "echo kept-across-pods > /data/msg"))
    succeeded(kubectl, ns, "writer", up)

    pvc = get_json(kubectl, "pvc", "data", "-n", ns)
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["storageClassName"] == "local-path"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == up.node
    pv_name = pvc["spec"]["volumeName"]
    pv = get_json(kubectl, "pv", pv_name)
    host_dir = Path(pv["spec"]["hostPath"]["path"])
    assert host_dir.name == f"{pv_name}_{ns}_data"
    assert (host_dir / "msg").read_text() == "kept-across-pods\n"  # made by the node, on its disk
    row = kubectl("get", "pv", pv_name, "--no-headers").stdout.split()
    assert row[1:7] == ["32Mi", "RWO", "Delete", "Bound", f"{ns}/data", "local-path"]
    row = kubectl("get", "pvc", "data", "-n", ns, "--no-headers").stdout.split()
    assert row[:6] == ["data", "Bound", pv_name, "32Mi", "RWO", "local-path"]

    assert kubectl("delete", "pod", "writer", "-n", ns).returncode == 0
    apply(kubectl, ns, pod("reader", "data", "cat /data/msg"))
    succeeded(kubectl, ns, "reader", up)
    assert kubectl("logs", "reader", "-n", ns).stdout == "kept-across-pods\n"

    # Delete: the claim goes once no pod holds it, then the volume and its directory.
    assert kubectl("delete", "pod", "reader", "-n", ns).returncode == 0
    assert kubectl("delete", "pvc", "data", "-n", ns).returncode == 0
    wait_until(lambda: get_json(kubectl, "pv", pv_name) is None, "the volume deleted",
               diag=lambda: kubectl("get", "pv", pv_name, "-o", "yaml").stdout + up.diag())
    assert not host_dir.exists()


def test_retain_keeps_the_directory_and_the_volume_goes_released(up, kubectl, ns) -> None:
    keep = f"keep-{ns}"
    out = kubectl("apply", "-f", "-", input=textwrap.dedent(f"""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {{name: {keep}}}
        provisioner: minik8s.io/local-path
        reclaimPolicy: Retain
        volumeBindingMode: WaitForFirstConsumer
        """))
    assert out.returncode == 0, out.stderr
    apply(kubectl, ns, claim("kept", keep))
    apply(kubectl, ns, pod("writer", "kept", "echo retained > /data/msg"))
    succeeded(kubectl, ns, "writer", up)
    pv_name = get_json(kubectl, "pvc", "kept", "-n", ns)["spec"]["volumeName"]
    host_dir = Path(get_json(kubectl, "pv", pv_name)["spec"]["hostPath"]["path"])

    assert kubectl("delete", "pod", "writer", "-n", ns).returncode == 0
    assert kubectl("delete", "pvc", "kept", "-n", ns).returncode == 0
    wait_until(lambda: phase(kubectl, "pv", pv_name) == "Released", "the volume Released", diag=up.diag)
    row = kubectl("get", "pv", pv_name, "--no-headers").stdout.split()
    assert row[3:6] == ["Retain", "Released", f"{ns}/kept"]
    assert (host_dir / "msg").read_text() == "retained\n"

    # Deleting a retained volume by hand removes the object, never the data.
    assert kubectl("delete", "pv", pv_name).returncode == 0
    assert get_json(kubectl, "pv", pv_name) is None
    assert (host_dir / "msg").read_text() == "retained\n"
    kubectl("delete", "sc", keep)
    shutil.rmtree(host_dir, ignore_errors=True)


def test_a_pod_whose_claim_is_unbound_is_not_started(up, kubectl, ns) -> None:
    apply(kubectl, ns, claim("nothing-to-bind", ""))
    # Placed on the node directly, as a scheduler would not place it.
    body = textwrap.dedent(pod("stuck", "nothing-to-bind", "echo never")).replace(
        "spec:\n  restartPolicy", f"spec:\n  nodeName: {up.node}\n  restartPolicy", 1)
    out = kubectl("apply", "-n", ns, "-f", "-", input=body)
    assert out.returncode == 0, out.stderr

    def failed_mount() -> str | None:
        evs = get_json(kubectl, "events", "-n", ns, "--field-selector", "involvedObject.name=stuck")
        msgs = [e["message"] for e in (evs or {}).get("items", []) if e["reason"] == "FailedMount"]
        return msgs[0] if msgs else None

    msg = wait_until(failed_mount, "a FailedMount event", diag=up.diag)
    assert msg == (f"Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data], "
                   f"failed to process volumes=[data]: error processing PVC {ns}/nothing-to-bind: PVC "
                   f'{ns}/nothing-to-bind has non-bound phase ("Pending") or empty pvc.Spec.VolumeName ("")')
    stuck = get_json(kubectl, "pod", "stuck", "-n", ns)
    assert stuck["status"]["phase"] == "Pending"
    assert not any(s.get("state", {}).get("running") for s in stuck["status"].get("containerStatuses") or [])
    # The claim's event says why it is not bound.
    evs = get_json(kubectl, "events", "-n", ns, "--field-selector", "involvedObject.name=nothing-to-bind")
    assert ("FailedBinding", "no persistent volumes available for this claim and no storage class is set") in {
        (e["reason"], e["message"]) for e in evs["items"]}


def test_a_second_node_makes_and_removes_the_directory_on_its_own_disk(up, kubectl, ns, tmp_path,
                                                                       docker_client) -> None:
    node = f"st2-{uuid.uuid4().hex[:6]}"
    second = KubeletProc(server=up.api, node=node, root=tmp_path / "root",
                         log_path=tmp_path / "kubelet.log", extra_args=["--disable-proxy", "--disable-dns"])
    try:
        second.start()
        wait_until(lambda: (get_json(kubectl, "node", node) or {}).get("metadata", {}).get("annotations", {})
                   .get("local-path.minik8s.io/dir"), "the node advertising its local-path dir",
                   diag=second.log_tail)
        apply(kubectl, ns, claim("there"))
        body = textwrap.dedent(pod("writer", "there", "echo on-the-second-node > /data/msg")).replace(
            "spec:\n  restartPolicy", f"spec:\n  nodeSelector: {{kubernetes.io/hostname: {node}}}\n  restartPolicy", 1)
        out = kubectl("apply", "-n", ns, "-f", "-", input=body)
        assert out.returncode == 0, out.stderr
        wait_until(lambda: phase(kubectl, "pod", "writer", "-n", ns) == "Succeeded", "writer Succeeded",
                   diag=lambda: kubectl("describe", "pod", "writer", "-n", ns).stdout + second.log_tail())
        pvc = get_json(kubectl, "pvc", "there", "-n", ns)
        assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
        pv = get_json(kubectl, "pv", pvc["spec"]["volumeName"])
        host_dir = Path(pv["spec"]["hostPath"]["path"])
        assert host_dir.parent == tmp_path / "root" / node / "local-path"  # the second node's data dir
        assert (host_dir / "msg").read_text() == "on-the-second-node\n"
        assert kubectl("delete", "pod", "writer", "-n", ns).returncode == 0
        assert kubectl("delete", "pvc", "there", "-n", ns).returncode == 0
        wait_until(lambda: get_json(kubectl, "pv", pv["metadata"]["name"]) is None, "the volume deleted",
                   diag=second.log_tail)
        assert not host_dir.exists()
    finally:
        second.stop()
        kubectl("delete", "node", node, "--wait=false")
        remove_node_containers(docker_client, node)
        remove_node_network(docker_client, node)


def test_a_static_local_volume_binds_and_mounts(up, kubectl, ns, tmp_path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "seed").write_text("from-the-admin\n")
    name = f"local-{ns}"
    out = kubectl("apply", "-f", "-", input=textwrap.dedent(f"""
        apiVersion: v1
        kind: PersistentVolume
        metadata: {{name: {name}}}
        spec:
          capacity: {{storage: 1Gi}}
          accessModes: [ReadWriteOnce]
          storageClassName: ""
          local: {{path: {disk}}}
          nodeAffinity:
            required:
              nodeSelectorTerms:
              - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{up.node}]}}]
        """))
    assert out.returncode == 0, out.stderr
    apply(kubectl, ns, claim("static", ""))
    wait_until(lambda: phase(kubectl, "pvc", "static", "-n", ns) == "Bound", "the claim bound", diag=up.diag)
    apply(kubectl, ns, pod("reader", "static", "cat /data/seed; echo written > /data/new"))
    succeeded(kubectl, ns, "reader", up)
    assert kubectl("logs", "reader", "-n", ns).stdout == "from-the-admin\n"
    assert (disk / "new").read_text() == "written\n"
    # Released under Retain (a static volume's default), the data stays where it was.
    assert kubectl("delete", "pod", "reader", "-n", ns).returncode == 0
    assert kubectl("delete", "pvc", "static", "-n", ns).returncode == 0
    wait_until(lambda: phase(kubectl, "pv", name) == "Released", "the volume Released", diag=up.diag)
    assert (disk / "new").exists()
    assert kubectl("delete", "pv", name).returncode == 0
