"""The Pod Security Standards checks (Kubernetes' ``pod-security-admission/policy``), pure
functions of a pod spec and its metadata: :func:`evaluate` answers the violations of a level as
``(reason, detail)`` pairs in Kubernetes' order (check id) and with its texts, e.g.
``("privileged", 'container "c" must not set securityContext.privileged=true')``.

Levels: ``privileged`` (no checks), ``baseline`` (host namespaces, privileged, capabilities
beyond the default set, hostPath volumes, hostPorts, AppArmor, SELinux, /proc mount, seccomp
Unconfined, unsafe sysctls, Windows hostProcess), ``restricted`` (baseline, with its hostPath,
capabilities and seccomp checks replaced by stricter ones, plus volume types, privilege
escalation, runAsNonRoot and runAsUser 0).

Versions: a policy ``v1.N`` runs the checks Kubernetes had by then (allowPrivilegeEscalation
from 1.8, seccompProfile_restricted 1.19, capabilities_restricted 1.22, runAsUser 1.23) and
the safe sysctls of that version (1.27, 1.29 and 1.32 added some); ``latest`` runs all. Other
checks are evaluated in their latest form at every version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LEVELS", "PRIVILEGED", "BASELINE", "RESTRICTED", "evaluate", "pod_of"]

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)

Violation = tuple[str, str]
Meta = dict[str, Any]
Spec = dict[str, Any]

BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"})
_VOLUME_SOURCES = frozenset({
    *RESTRICTED_VOLUMES, "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume",
    "quobyte", "azureDisk", "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos", "image"})
_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _containers(spec: Spec) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or ():
            if isinstance(c, dict):
                yield c


def _sc(c: dict[str, Any]) -> dict[str, Any]:
    return _d(c.get("securityContext"))


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _who(names: list[str], one: str = "container", many: str = "containers") -> str:
    return f'{one if len(names) == 1 else many} {_quoted(names)}'


def _uniq(xs: list[Any]) -> list[Any]:
    return list(dict.fromkeys(xs))


# ---- baseline -------------------------------------------------------------------------------

def _app_armor(meta: Meta, spec: Spec) -> Violation | None:
    bad: list[str] = []
    for key, value in sorted(_d(meta.get("annotations")).items()):
        if key.startswith(_APPARMOR_PREFIX) and value not in ("", "runtime/default") \
                and not str(value).startswith("localhost/"):
            bad.append(f'{key}="{value}"')
    ok = ("RuntimeDefault", "Localhost")
    if _d(_d(spec.get("securityContext")).get("appArmorProfile")).get("type", "RuntimeDefault") not in ok:
        bad.append(f'pod must not set securityContext.appArmorProfile.type to '
                   f'"{spec["securityContext"]["appArmorProfile"]["type"]}"')
    names = [c.get("name", "") for c in _containers(spec)
             if _d(_sc(c).get("appArmorProfile")).get("type", "RuntimeDefault") not in ok]
    if names:
        bad.append(f'{_who(names)} must not set securityContext.appArmorProfile.type to "Unconfined"')
    return ("forbidden AppArmor profiles", ", ".join(bad)) if bad else None


def _capabilities_baseline(meta: Meta, spec: Spec) -> Violation | None:
    names, caps = [], []
    for c in _containers(spec):
        added = [str(x) for x in _d(_sc(c).get("capabilities")).get("add") or () if x not in BASELINE_CAPABILITIES]
        if added:
            names.append(c.get("name", ""))
            caps.extend(added)
    if not names:
        return None
    return ("non-default capabilities",
            f"{_who(names)} must not include {_quoted(_uniq(caps))} in securityContext.capabilities.add")


def _host_namespaces(meta: Meta, spec: Spec) -> Violation | None:
    on = [f"{f}=true" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    return ("host namespaces", ", ".join(on)) if on else None


def _host_path(meta: Meta, spec: Spec) -> Violation | None:
    names = [v.get("name", "") for v in spec.get("volumes") or () if isinstance(v, dict) and "hostPath" in v]
    return ("hostPath volumes", _who(names, "volume", "volumes")) if names else None


def _host_ports(meta: Meta, spec: Spec) -> Violation | None:
    names, ports = [], []
    for c in _containers(spec):
        used = [p["hostPort"] for p in c.get("ports") or () if isinstance(p, dict) and p.get("hostPort")]
        if used:
            names.append(c.get("name", ""))
            ports.extend(used)
    if not names:
        return None
    ports = _uniq(ports)
    verb = "uses" if len(names) == 1 else "use"
    noun = "hostPort" if len(ports) == 1 else "hostPorts"
    return ("hostPort", f"{_who(names)} {verb} {noun} {', '.join(str(p) for p in ports)}")


def _privileged(meta: Meta, spec: Spec) -> Violation | None:
    names = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    return ("privileged", f"{_who(names)} must not set securityContext.privileged=true") if names else None


def _proc_mount(meta: Meta, spec: Spec) -> Violation | None:
    names, kinds = [], []
    for c in _containers(spec):
        pm = _sc(c).get("procMount")
        if pm not in (None, "", "Default"):
            names.append(c.get("name", ""))
            kinds.append(str(pm))
    if not names:
        return None
    return ("procMount", f"{_who(names)} must not set securityContext.procMount to {_quoted(_uniq(kinds))}")


def _selinux(meta: Meta, spec: Spec) -> Violation | None:
    where, bad = [], []
    for label, sc in [("pod", _d(spec.get("securityContext")))] + \
            [(c.get("name", ""), _sc(c)) for c in _containers(spec)]:
        opts = _d(sc.get("seLinuxOptions"))
        found = []
        if opts.get("type", "") not in SELINUX_TYPES:
            found.append(f'type "{opts["type"]}"')
        for f in ("user", "role"):
            if opts.get(f):
                found.append(f'{f} "{opts[f]}"')
        if found:
            where.append(label)
            bad.extend(found)
    if not where:
        return None
    pod = "pod" in where[:1]
    names = where[1:] if pod else where
    who = ("pod and " if pod and names else "pod" if pod else "") + (_who(names) if names else "")
    return ("seLinuxOptions", f"{who} set forbidden securityContext.seLinuxOptions: {'; '.join(_uniq(bad))}")


def _seccomp_baseline(meta: Meta, spec: Spec) -> Violation | None:
    bad = []
    if _d(_d(spec.get("securityContext")).get("seccompProfile")).get("type") == "Unconfined":
        bad.append('pod must not set securityContext.seccompProfile.type to "Unconfined"')
    names = [c.get("name", "") for c in _containers(spec)
             if _d(_sc(c).get("seccompProfile")).get("type") == "Unconfined"]
    if names:
        bad.append(f'{_who(names)} must not set securityContext.seccompProfile.type to "Unconfined"')
    return ("seccompProfile", "; ".join(bad)) if bad else None


# The safe set grew with the policy versions: (first minor, names added).
_SYSCTLS_ADDED = ((27, ("net.ipv4.ip_local_reserved_ports",)),
                  (29, ("net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                        "net.ipv4.tcp_keepalive_probes")),
                  (32, ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")))


def _safe_sysctls(minor: int) -> frozenset[str]:
    later = {n for since, names in _SYSCTLS_ADDED if minor < since for n in names}
    return SAFE_SYSCTLS - later


def _sysctls(meta: Meta, spec: Spec, allowed: frozenset[str] = SAFE_SYSCTLS) -> Violation | None:
    names = [str(s.get("name", "")) for s in _d(spec.get("securityContext")).get("sysctls") or ()
             if isinstance(s, dict) and s.get("name") not in allowed]
    return ("forbidden sysctls", ", ".join(names)) if names else None


# ---- restricted -----------------------------------------------------------------------------

def _allow_privilege_escalation(meta: Meta, spec: Spec) -> Violation | None:
    names = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if not names:
        return None
    return ("allowPrivilegeEscalation != false",
            f"{_who(names)} must set securityContext.allowPrivilegeEscalation=false")


def _capabilities_restricted(meta: Meta, spec: Spec) -> Violation | None:
    no_drop, adders, added = [], [], []
    for c in _containers(spec):
        caps = _d(_sc(c).get("capabilities"))
        if "ALL" not in (caps.get("drop") or ()):
            no_drop.append(c.get("name", ""))
        extra = [str(x) for x in caps.get("add") or () if x != "NET_BIND_SERVICE"]
        if extra:
            adders.append(c.get("name", ""))
            added.extend(extra)
    parts = []
    if no_drop:
        parts.append(f'{_who(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adders:
        parts.append(f"{_who(adders)} must not include {_quoted(_uniq(added))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(parts)) if parts else None


def _volumes_restricted(meta: Meta, spec: Spec) -> Violation | None:
    names, kinds = [], []
    for v in spec.get("volumes") or ():
        if not isinstance(v, dict):
            continue
        bad = [k for k in v if k in _VOLUME_SOURCES and k not in RESTRICTED_VOLUMES]
        if bad:
            names.append(v.get("name", ""))
            kinds.extend(bad)
    if not names:
        return None
    kinds = _uniq(kinds)
    verb = "uses" if len(names) == 1 else "use"
    noun = "restricted volume type" if len(kinds) == 1 else "restricted volume types"
    return ("restricted volume types", f"{_who(names, 'volume', 'volumes')} {verb} {noun} {_quoted(kinds)}")


def _run_as_non_root(meta: Meta, spec: Spec) -> Violation | None:
    pod = _d(spec.get("securityContext")).get("runAsNonRoot")
    bad, unset = [], []
    if pod is False:
        bad.append("pod must not set securityContext.runAsNonRoot=false")
    explicit_false = []
    for c in _containers(spec):
        v = _sc(c).get("runAsNonRoot")
        if v is False:
            explicit_false.append(c.get("name", ""))
        elif v is None and pod is not True:
            unset.append(c.get("name", ""))
    if explicit_false:
        bad.append(f"{_who(explicit_false)} must not set securityContext.runAsNonRoot=false")
    if unset and pod is not False:
        bad.append(f"pod or {_who(unset)} must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(bad)) if bad else None


def _run_as_user(meta: Meta, spec: Spec) -> Violation | None:
    bad = []
    if _d(spec.get("securityContext")).get("runAsUser") == 0:
        bad.append("pod must not set runAsUser=0")
    names = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if names:
        bad.append(f"{_who(names)} must not set runAsUser=0")
    return ("runAsUser=0", "; ".join(bad)) if bad else None


def _seccomp_restricted(meta: Meta, spec: Spec) -> Violation | None:
    ok = ("RuntimeDefault", "Localhost")
    pod_type = _d(_d(spec.get("securityContext")).get("seccompProfile")).get("type")
    bad, unset, wrong, wrong_types = [], [], [], []
    if pod_type is not None and pod_type not in ok:
        bad.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    for c in _containers(spec):
        t = _d(_sc(c).get("seccompProfile")).get("type")
        if t is None:
            if pod_type is None:
                unset.append(c.get("name", ""))
        elif t not in ok:
            wrong.append(c.get("name", ""))
            wrong_types.append(str(t))
    if wrong:
        bad.append(f"{_who(wrong)} must not set securityContext.seccompProfile.type to {_quoted(_uniq(wrong_types))}")
    if unset:
        bad.append(f'pod or {_who(unset)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"')
    return ("seccompProfile", "; ".join(bad)) if bad else None


def _windows_host_process(meta: Meta, spec: Spec) -> Violation | None:
    names = [c.get("name", "") for c in _containers(spec)
             if _d(_sc(c).get("windowsOptions")).get("hostProcess") is True]
    setters = ["pod"] if _d(_d(spec.get("securityContext")).get("windowsOptions")).get("hostProcess") is True else []
    if names:
        setters.append(_who(names))
    if not setters:
        return None
    return ("hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true")


Check = Callable[[Meta, Spec], "Violation | None"]
# (check id, first policy minor version, check): Kubernetes registers its checks file by file
# (check_<id>.go, so in file-name order), and evaluates a level's non-overlapping baseline
# checks first, then either the overlapping baseline ones (baseline) or the restricted ones
# (restricted, which replace capabilities_baseline, hostPathVolumes and seccompProfile_baseline).
_BASELINE: list[tuple[str, int, Check]] = [
    ("appArmorProfile", 0, _app_armor), ("hostNamespaces", 0, _host_namespaces), ("hostPorts", 0, _host_ports),
    ("privileged", 0, _privileged), ("procMount", 0, _proc_mount), ("seLinuxOptions", 0, _selinux),
    ("sysctls", 0, _sysctls), ("windowsHostProcess", 0, _windows_host_process)]
_OVERLAPPING: list[tuple[str, int, Check]] = [
    ("capabilities_baseline", 0, _capabilities_baseline), ("hostPathVolumes", 0, _host_path),
    ("seccompProfile_baseline", 0, _seccomp_baseline)]
_RESTRICTED: list[tuple[str, int, Check]] = [
    ("allowPrivilegeEscalation", 8, _allow_privilege_escalation),
    ("capabilities_restricted", 22, _capabilities_restricted),
    ("restrictedVolumes", 0, _volumes_restricted), ("runAsNonRoot", 0, _run_as_non_root),
    ("runAsUser", 23, _run_as_user), ("seccompProfile_restricted", 19, _seccomp_restricted)]


def _minor(version: str) -> int | None:
    """``v1.N`` → N; ``latest`` (or anything else) → None (every check, newest form)."""
    return int(version[3:]) if version.startswith("v1.") and version[3:].isdigit() else None


@functools.lru_cache(maxsize=256)
def _checks(level: str, version: str) -> tuple[Check, ...]:
    """The checks of a level at a version, made once per (level, version): every pod
    admitted asks, as Kubernetes' evaluator builds its check lists once."""
    if level == BASELINE:
        chosen = _BASELINE + _OVERLAPPING
    elif level == RESTRICTED:
        chosen = _BASELINE + _RESTRICTED
    else:
        return ()
    minor = _minor(version)
    out: list[Check] = []
    for _, since, check in chosen:
        if minor is not None and minor < since:
            continue
        if check is _sysctls and minor is not None:
            allowed = _safe_sysctls(minor)
            out.append(functools.partial(_sysctls, allowed=allowed))
        else:
            out.append(check)
    return tuple(out)


def evaluate(level: str, meta: Meta, spec: Spec, version: str = "latest") -> list[Violation]:
    """The violations of ``level`` at policy ``version`` (``latest`` or ``v1.N``) by a pod of
    ``meta`` and ``spec`` (empty when allowed), in Kubernetes' order."""
    out = []
    checks = _checks(level, version)
    if checks:
        meta, spec = _d(meta), _d(spec)
        for check in checks:
            v = check(meta, spec)
            if v is not None:
                out.append(v)
    return out


def pod_of(kind: str, obj: dict[str, Any]) -> tuple[Meta, Spec] | None:
    """The pod (metadata, spec) a workload object carries (a Pod's own; a CronJob's job's
    template; other workloads' ``spec.template``), None when it carries none."""
    if kind == "Pod":
        return _d(obj.get("metadata")), _d(obj.get("spec"))
    spec = _d(obj.get("spec"))
    if kind == "CronJob":
        spec = _d(_d(spec.get("jobTemplate")).get("spec"))
    template = spec.get("template")
    if not isinstance(template, dict):
        return None
    return _d(template.get("metadata")), _d(template.get("spec"))
