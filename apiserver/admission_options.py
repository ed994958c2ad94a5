"""``--enable-admission-plugins`` / ``--disable-admission-plugins``, as kube-apiserver names
them, for the admission plugins that can be turned on or off here (``ServiceAccount``,
``LimitRanger``, ``Priority``, ``DefaultTolerationSeconds``, ``ResourceQuota``, all on by default
as in kube-apiserver). The others this apiserver has (NamespaceLifecycle,
DefaultStorageClass, NodeRestriction, RBAC's escalation checks) are always on.
``--default-not-ready-toleration-seconds`` / ``--default-unreachable-toleration-seconds`` set
what DefaultTolerationSeconds gives a pod (300 each, as kube-apiserver).
``--admission-control-config-file``: an AdmissionConfiguration whose ``PodSecurity`` entry
gives PodSecurity's defaults and exemptions (``admission/podsecurity_config.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

from apiserver import serviceaccount_admission
from apiserver.admission import defaulttolerationseconds as dts
from apiserver.admission import plugins as policy_plugins
from apiserver.admission import podsecurity_config
from minik8s.api.resources import PODS

__all__ = ["DEFAULT_ON", "add_flags", "enabled", "install", "toleration_seconds", "install_toleration_seconds",
           "pod_security"]

DEFAULT_ON: tuple[str, ...] = (serviceaccount_admission.PLUGIN_NAME, *policy_plugins.NAMES)
KNOWN = frozenset({serviceaccount_admission.PLUGIN_NAME, *policy_plugins.NAMES})


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("admission")
    g.add_argument("--enable-admission-plugins", default="",
                   help=f"comma-separated admission plugins to turn on besides the defaults ({', '.join(DEFAULT_ON)})")
    g.add_argument("--disable-admission-plugins", default="",
                   help=f"comma-separated admission plugins to turn off (of: {', '.join(sorted(KNOWN))})")
    g.add_argument("--default-not-ready-toleration-seconds", type=int, default=dts.DEFAULT_SECONDS,
                   help="tolerationSeconds of the not-ready:NoExecute toleration every pod gets by default "
                        f"(default {dts.DEFAULT_SECONDS})")
    g.add_argument("--default-unreachable-toleration-seconds", type=int, default=dts.DEFAULT_SECONDS,
                   help="tolerationSeconds of the unreachable:NoExecute toleration every pod gets by default "
                        f"(default {dts.DEFAULT_SECONDS})")
    g.add_argument("--admission-control-config-file", default=None,
                   help="AdmissionConfiguration file (apiserver.config.k8s.io/v1) configuring admission plugins "
                        "(PodSecurity: defaults and exemptions)")


def pod_security(a: argparse.Namespace, p: argparse.ArgumentParser) -> podsecurity_config.Config | None:
    """PodSecurity's configuration from ``--admission-control-config-file``; a bad file is a
    usage error naming the field."""
    if not a.admission_control_config_file:
        return None
    try:
        return podsecurity_config.load_admission_config(a.admission_control_config_file)
    except podsecurity_config.ConfigError as e:
        p.error(f"--admission-control-config-file: {e}")
    return None


def toleration_seconds(a: argparse.Namespace, p: argparse.ArgumentParser) -> tuple[int, int]:
    """(not-ready, unreachable) seconds from the flags; a negative one is a usage error."""
    for flag, value in (("--default-not-ready-toleration-seconds", a.default_not_ready_toleration_seconds),
                        ("--default-unreachable-toleration-seconds", a.default_unreachable_toleration_seconds)):
        if value < 0:
            p.error(f"{flag} must be 0 or more, not {value}")
    return a.default_not_ready_toleration_seconds, a.default_unreachable_toleration_seconds


def install_toleration_seconds(server: Any, seconds: tuple[int, int]) -> None:
    """Give the server's DefaultTolerationSeconds admission (when on) the configured seconds."""
    for plugin in server.rest.admission_chain.plugins:
        if isinstance(plugin, dts.DefaultTolerationSeconds):
            plugin.seconds = {dts.NOT_READY: seconds[0], dts.UNREACHABLE: seconds[1]}


def enabled(a: argparse.Namespace, p: argparse.ArgumentParser) -> tuple[str, ...]:
    """The plugins on, after the flags; an unknown name is a usage error naming the flag."""
    on = {x.strip() for x in a.enable_admission_plugins.split(",") if x.strip()}
    off = {x.strip() for x in a.disable_admission_plugins.split(",") if x.strip()}
    for flag, names in (("--enable-admission-plugins", on), ("--disable-admission-plugins", off)):
        unknown = sorted(names - KNOWN)
        if unknown:
            p.error(f"{flag}: unknown admission plugin(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}")
    if on & off:
        p.error(f"{', '.join(sorted(on & off))} both enabled and disabled")
    return tuple(n for n in sorted(KNOWN) if (n in DEFAULT_ON or n in on) and n not in off)


def install(server: Any, plugins: tuple[str, ...], *,
            pod_security: podsecurity_config.Config | None = None) -> None:
    """Put the enabled plugins into the server's REST storage."""
    server.rest.admission_chain = policy_plugins.default_chain(server.rest, server.cache, enabled=plugins,
                                                               pod_security=pod_security)
    if serviceaccount_admission.PLUGIN_NAME in plugins:
        server.rest.admission.setdefault(PODS, []).append(serviceaccount_admission.ServiceAccountAdmission(server.cache))
