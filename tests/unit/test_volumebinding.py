"""Which volume a claim binds to: the binder's pure matching rules."""

from __future__ import annotations

from minik8s import volumebinding as util
from minik8s.nodeselector import NodeView


def pv(name: str, size: str, *, modes=("ReadWriteOnce",), cls: str = "", labels=None, claim=None,
       node: str | None = None, deleting: bool = False, mode: str = "Filesystem") -> dict:
    md: dict = {"name": name, "labels": labels or {}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                  "volumeMode": mode, "hostPath": {"path": f"/tmp/{name}"}}
    if claim:
        spec["claimRef"] = claim
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"metadata": md, "spec": spec}


def pvc(size: str, *, modes=("ReadWriteOnce",), cls: str = "", selector=None, name="c", uid="u1") -> dict:
    spec: dict = {"accessModes": list(modes), "resources": {"requests": {"storage": size}},
                  "storageClassName": cls, "volumeMode": "Filesystem"}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "spec": spec}


def best(claim, volumes, **kw):
    found = util.find_best_volume(claim, volumes, **kw)
    return found["metadata"]["name"] if found else None


def test_smallest_volume_that_fits_wins() -> None:
    vols = [pv("big", "10Gi"), pv("small", "1Gi"), pv("tiny", "100Mi"), pv("mid", "2Gi")]
    assert best(pvc("500Mi"), vols) == "small"
    assert best(pvc("1Gi"), vols) == "small"  # exactly the size fits
    assert best(pvc("1025Mi"), vols) == "mid"
    assert best(pvc("11Gi"), vols) is None


def test_class_access_modes_mode_and_selector_must_match() -> None:
    vols = [pv("rox", "1Gi", modes=("ReadOnlyMany",)), pv("fast", "1Gi", cls="fast"),
            pv("both", "5Gi", modes=("ReadWriteOnce", "ReadOnlyMany")),
            pv("block", "1Gi", mode="Block"), pv("gold", "8Gi", labels={"tier": "gold"})]
    assert best(pvc("1Gi", cls="fast"), vols) == "fast"
    assert best(pvc("1Gi", modes=("ReadOnlyMany",)), vols) == "rox"
    assert best(pvc("1Gi", modes=("ReadWriteOnce", "ReadOnlyMany")), vols) == "both"
    assert best(pvc("1Gi", modes=("ReadWriteMany",)), vols) is None
    assert best(pvc("1Gi", selector={"matchLabels": {"tier": "gold"}}), vols) == "gold"
    assert best(pvc("1Gi", selector={"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
                vols) == "both"


def test_bound_and_deleted_volumes_are_skipped_but_prebound_wins() -> None:
    other = {"namespace": "ns", "name": "other", "uid": "u9"}
    mine = {"namespace": "ns", "name": "c", "uid": ""}
    vols = [pv("taken", "1Gi", claim=other), pv("going", "1Gi", deleting=True), pv("big", "9Gi"),
            pv("reserved", "20Gi", claim=mine)]
    assert best(pvc("1Gi"), vols) == "reserved"
    assert best(pvc("1Gi", name="d"), vols) == "big"
    # A claimRef with another claim's uid is not this claim's, even by name.
    assert best(pvc("1Gi", uid="u2"), [pv("old", "1Gi", claim={"namespace": "ns", "name": "c", "uid": "u1"})]) is None


def test_wait_for_first_consumer_binds_only_on_the_chosen_node() -> None:
    vols = [pv("on-a", "1Gi", node="a"), pv("on-b", "1Gi", node="b"), pv("anywhere", "5Gi")]
    assert best(pvc("1Gi"), vols, delay_binding=True) is None
    assert best(pvc("1Gi"), vols, delay_binding=True, node=NodeView("b", {"kubernetes.io/hostname": "b"})) == "on-b"
    assert best(pvc("1Gi"), vols, node=NodeView("c", {"kubernetes.io/hostname": "c"})) == "anywhere"


def test_mismatch_reasons_name_the_problem() -> None:
    assert util.mismatch(pv("p", "1Gi"), pvc("2Gi")) == "requested PV is too small"
    assert util.mismatch(pv("p", "1Gi", cls="a"), pvc("1Gi")) == "storageClassName does not match"
    assert util.mismatch(pv("p", "1Gi", modes=("ReadOnlyMany",)), pvc("1Gi")) == "incompatible accessMode"
    assert util.mismatch(pv("p", "1Gi"), pvc("1Gi")) is None


def test_bound_claim_status_copies_the_volume() -> None:
    status = util.bound_claim_status(pvc("1Gi"), pv("p", "2Gi", modes=("ReadWriteOnce", "ReadOnlyMany")))
    assert status == {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "2Gi"}}


def test_a_volume_prebound_to_the_claim_is_taken_whatever_the_node() -> None:
    mine = {"namespace": "ns", "name": "c", "uid": "u1"}
    vols = [pv("provisioned", "1Gi", claim=mine, node="a")]
    # The node object may not be known yet: its labels do not decide a pre-bound volume.
    assert best(pvc("1Gi"), vols, delay_binding=True, node=NodeView("a", {})) == "provisioned"
