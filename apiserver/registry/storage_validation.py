"""Validation of PersistentVolume, PersistentVolumeClaim and StorageClass, with Kubernetes'
field paths and messages (``pkg/apis/core/validation`` and ``pkg/apis/storage/validation``).

Each function returns a list of :class:`FieldError`, empty when the object is valid. Objects
have been defaulted by their model first (reclaim policy, volume mode, binding mode), and
every quantity has been parsed by it, so a malformed one never reaches these rules.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.validation import FieldError
from minik8s import labels, quantity
from minik8s.api.wellknown import volumes as vol_api

_ACCESS_MODES = sorted(vol_api.ACCESS_MODES)
_PV_RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"]
_SC_RECLAIM_POLICIES = ["Delete", "Retain"]
_BINDING_MODES = ["Immediate", "WaitForFirstConsumer"]
_VOLUME_MODES = ["Block", "Filesystem"]
_HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                    "FileOrCreate", "Socket"]
_NODE_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_MAX_PARAMETERS = 256
_MAX_PARAMETERS_BYTES = 256 * 1024

PVC_SPEC_IMMUTABLE = ("spec is immutable after creation except resources.requests and "
                      "volumeAttributesClassName for bound claims")


# ---- shared pieces ------------------------------------------------------------------------

def _access_modes(modes: list[str] | None, path: str, *, required_detail: str | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if not modes:
        errs.append(v.FieldError(path, v.REQUIRED, f"Required value: {required_detail}")
                    if required_detail else v.required(path))
        return errs
    for mode in modes:
        if mode not in vol_api.ACCESS_MODES:
            errs.append(v.not_supported(path, mode, _ACCESS_MODES))
    if vol_api.READ_WRITE_ONCE_POD in modes and len(modes) > 1:
        errs.append(v.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _class_name(name: str | None, path: str) -> list[FieldError]:
    if not name:  # "" is a valid request for "no class"
        return []
    return [v.invalid(path, name, m) for m in v.dns1123_subdomain(name)]


def _positive_quantity(value: str, path: str) -> list[FieldError]:
    if quantity.parse_quantity(value) <= 0:
        return [v.invalid(path, value, "must be greater than zero")]
    return []


def validate_node_selector(selector: dict[str, Any] | None, path: str) -> list[FieldError]:
    """A NodeSelector: at least one term, each requirement's operator and values as Kubernetes
    checks them (``validateNodeSelectorRequirement``)."""
    terms = (selector or {}).get("nodeSelectorTerms") or []
    if not terms:
        return [v.FieldError(f"{path}.nodeSelectorTerms", v.REQUIRED,
                             "Required value: must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        for fld in ("matchExpressions", "matchFields"):
            for j, req in enumerate(term.get(fld) or []):
                rp = f"{path}.nodeSelectorTerms[{i}].{fld}[{j}]"
                op, values = req.get("operator"), req.get("values") or []
                if op in ("In", "NotIn") and not values:
                    errs.append(v.FieldError(f"{rp}.values", v.REQUIRED, "Required value: must be specified "
                                             "when `operator` is 'In' or 'NotIn'"))
                elif op in ("Exists", "DoesNotExist") and values:
                    errs.append(v.forbidden(f"{rp}.values", "may not be specified when `operator` is "
                                            "'Exists' or 'DoesNotExist'"))
                elif op in ("Gt", "Lt") and len(values) != 1:
                    errs.append(v.FieldError(f"{rp}.values", v.REQUIRED, "Required value: must be specified "
                                             "single value when `operator` is 'Lt' or 'Gt'"))
                elif op not in _NODE_SELECTOR_OPS:
                    errs.append(v.invalid(f"{rp}.operator", op, "not a valid selector operator"))
                if fld == "matchExpressions":
                    errs += [v.invalid(f"{rp}.key", req.get("key", ""), m)
                             for m in v.qualified_name(req.get("key", ""))]
    return errs


def _no_backsteps(path_value: str, path: str) -> list[FieldError]:
    if ".." in path_value.split("/"):
        return [v.invalid(path, path_value, "must not contain '..'")]
    return []


# ---- PersistentVolume ---------------------------------------------------------------------

def validate_persistent_volume(pv: dict[str, Any]) -> list[FieldError]:
    spec = pv.get("spec") or {}
    errs = _access_modes(spec.get("accessModes"), "spec.accessModes", required_detail=None)
    capacity = spec.get("capacity") or {}
    if not capacity:
        errs.append(v.required("spec.capacity"))
    elif "storage" not in capacity or len(capacity) > 1:
        errs.append(v.not_supported("spec.capacity", ",".join(sorted(capacity)), ["storage"]))
    for res, qty in capacity.items():
        errs += _positive_quantity(qty, f"spec.capacity[{res}]")
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy not in _PV_RECLAIM_POLICIES:
        errs.append(v.not_supported("spec.persistentVolumeReclaimPolicy", policy, _PV_RECLAIM_POLICIES))
    errs += _class_name(spec.get("storageClassName"), "spec.storageClassName")
    affinity = spec.get("nodeAffinity")
    if affinity is not None:
        if affinity.get("required") is None:
            errs.append(v.FieldError("spec.nodeAffinity.required", v.REQUIRED,
                                     "Required value: must specify required node constraints"))
        else:
            errs += validate_node_selector(affinity["required"], "spec.nodeAffinity.required")
    sources = [s for s in vol_api.PV_SOURCES if spec.get(s) is not None]
    if not sources:
        errs.append(v.FieldError("spec", v.REQUIRED, "Required value: must specify a volume type"))
    elif len(sources) > 1:
        errs.append(v.forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    hp = spec.get("hostPath")
    if hp is not None:
        if not hp.get("path"):
            errs.append(v.required("spec.hostPath.path"))
        else:
            errs += _no_backsteps(hp["path"], "spec.hostPath.path")
        if hp.get("type", "") not in _HOST_PATH_TYPES:
            errs.append(v.not_supported("spec.hostPath.type", hp.get("type"), _HOST_PATH_TYPES))
    local = spec.get("local")
    if local is not None:
        if not local.get("path"):
            errs.append(v.required("spec.local.path"))
        else:
            errs += _no_backsteps(local["path"], "spec.local.path")
        if affinity is None:
            errs.append(v.FieldError("metadata.annotations", v.REQUIRED,
                                     "Required value: Local volume requires node affinity"))
    ref = spec.get("claimRef")
    if ref is not None and not ref.get("name"):
        errs.append(v.required("spec.claimRef.name"))
    if spec.get("volumeMode") not in _VOLUME_MODES:
        errs.append(v.not_supported("spec.volumeMode", spec.get("volumeMode"), _VOLUME_MODES))
    return errs


def validate_persistent_volume_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    errs: list[FieldError] = []
    if any(ns.get(s) != os_.get(s) for s in vol_api.PV_SOURCES):
        errs.append(v.forbidden("spec.persistentvolumesource",
                                "spec.persistentvolumesource is immutable after creation"))
    if ns.get("volumeMode") != os_.get("volumeMode"):
        errs.append(v.invalid("spec.volumeMode", ns.get("volumeMode"), "field is immutable"))
    if os_.get("nodeAffinity") is not None and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
        errs.append(v.forbidden("spec.nodeAffinity", "field is immutable"))
    return errs


# ---- PersistentVolumeClaim ----------------------------------------------------------------

def validate_persistent_volume_claim(pvc: dict[str, Any]) -> list[FieldError]:
    spec = pvc.get("spec") or {}
    errs = _access_modes(spec.get("accessModes"), "spec.accessModes",
                         required_detail="at least 1 access mode is required")
    if spec.get("selector") is not None:
        try:
            labels.from_label_selector(spec["selector"])
        except ValueError as e:
            errs.append(v.invalid("spec.selector", spec["selector"], str(e)))
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        errs.append(v.required("spec.resources[storage]"))
    else:
        errs += _positive_quantity(requests["storage"], "spec.resources[storage]")
    errs += _class_name(spec.get("storageClassName"), "spec.storageClassName")
    if spec.get("volumeMode") not in _VOLUME_MODES:
        errs.append(v.not_supported("spec.volumeMode", spec.get("volumeMode"), _VOLUME_MODES))
    return errs


def validate_persistent_volume_claim_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """The spec is fixed once created, but for the binder filling ``volumeName`` in.

    Resizing (``resources.requests`` of a bound claim) needs a volume expander, which minik8s
    does not have, so it is refused like any other spec change."""
    ns, os_ = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    if not os_.get("volumeName"):
        os_["volumeName"] = ns.get("volumeName")
        if os_["volumeName"] is None:
            os_.pop("volumeName")
    if ns != os_:
        return [v.forbidden("spec", PVC_SPEC_IMMUTABLE)]
    return []


# ---- StorageClass -------------------------------------------------------------------------

def validate_storage_class(sc: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    prov = sc.get("provisioner") or ""
    if not prov:
        errs.append(v.required("provisioner"))
    else:
        errs += [v.invalid("provisioner", prov, m) for m in v.qualified_name(prov.lower())]
    params = sc.get("parameters") or {}
    if len(params) > _MAX_PARAMETERS:
        errs.append(v.FieldError("parameters", v.TOO_LONG,
                                 f"Too long: may not have more than {_MAX_PARAMETERS} elements"))
    if sum(len(k) + len(val) for k, val in params.items()) > _MAX_PARAMETERS_BYTES:
        errs.append(v.FieldError("parameters", v.TOO_LONG,
                                 f"Too long: must have at most {_MAX_PARAMETERS_BYTES} bytes"))
    if any(not k for k in params):
        errs.append(v.invalid("parameters", params, "field can not be empty."))
    if sc.get("reclaimPolicy") not in _SC_RECLAIM_POLICIES:
        errs.append(v.not_supported("reclaimPolicy", sc.get("reclaimPolicy"), _SC_RECLAIM_POLICIES))
    if sc.get("volumeBindingMode") not in _BINDING_MODES:
        errs.append(v.not_supported("volumeBindingMode", sc.get("volumeBindingMode"), _BINDING_MODES))
    return errs


def validate_storage_class_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        errs.append(v.forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        errs.append(v.forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        errs.append(v.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.append(v.invalid("volumeBindingMode", new.get("volumeBindingMode"), "field is immutable"))
    return errs
