"""``mkctl describe``: kubectl's human-readable reports of pods, deployments, replica sets,
services, nodes and namespaces (a generic one for every other kind), each followed by its
Events.

Each describer writes tab-separated lines at indent levels, and the whole report goes through
Go's tabwriter with kubectl's describe settings (minimum width 0, padding 2), so columns line
up exactly where kubectl's do. Events come from
``events?fieldSelector=involvedObject.name=..,involvedObject.namespace=..,involvedObject.uid=..``.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

from minik8s import errors, quantity, timestamps
from minik8s.cli import printers
from minik8s.cli.resources import Resource, split_type_name_args
from minik8s.cli.session import CliError, Session, Subparsers, format_error
from minik8s.labels import format_label_selector, format_labels, label_selector_string
from minik8s.qos import qos_class

if TYPE_CHECKING:  # annotations only: the views cost mkctl's start ~7 ms (the import budget)
    from minik8s.api import typed

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_MAX_ANNOTATION = 140


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("describe", parents=[common_flags], allow_abbrev=False,
                       help="Show details of a specific resource or group of resources")
    p.add_argument("args", nargs="*", metavar="(TYPE [NAME_PREFIX] | TYPE/NAME)")
    p.add_argument("-l", "--selector", default=None)
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--show-events", default="true", choices=("true", "false"))
    p.add_argument("-f", "--filename", action="append", default=[])
    p.add_argument("-k", "--kustomize", action="append", dest="filename", type=_kustomize_dir,
                   help="directory of a kustomization whose objects to describe")
    p.add_argument("-R", "--recursive", action="store_true")
    p.set_defaults(func=cmd_describe, needs_loop=False)


def _kustomize_dir(value: str) -> str:
    from minik8s.cli import common  # local: only -k needs it (describe's import budget)

    return common.KustomizeDir(value)


# --- the writer -----------------------------------------------------------------------------


class Writer:
    """kubectl's PrefixWriter: text at indent levels (2 spaces each), tab-separated cells."""

    def __init__(self) -> None:
        self._buf: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._buf.append("  " * level + text)

    def line(self, *cells: str) -> None:
        self._buf.append("\t".join(cells) + "\n")

    def render(self) -> str:
        text = "".join(self._buf)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return printers.tabwriter(lines, min_width=0, padding=2)


# --- shared pieces --------------------------------------------------------------------------


def rfc1123z(ts: str | None) -> str:
    if not ts:
        return "<unset>"
    t = timestamps.parse(ts)
    if t is None:
        return ts
    return t.astimezone(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def labels_multiline(w: Writer, title: str, labels: dict[str, Any] | None, *, indent: str = "") -> None:
    w.write(0, f"{indent}{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, f"{indent}\t")
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: Writer, title: str, annotations: dict[str, Any] | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = (annotations or {})[key].removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            w.write(0, f"{key}:\n")
            for s in value.split("\n"):
                short = s if len(s) <= _MAX_ANNOTATION - 2 else s[:_MAX_ANNOTATION - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: Writer, title: str, tolerations: list[Any] | None, *, indent: str = "") -> None:
    w.write(0, f"{indent}{title}:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.get("key", ""))):
        if i:
            w.write(0, f"{indent}\t")
        text = t.get("key", "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def taints_multiline(w: Writer, title: str, taints: list[Any] | None) -> None:
    w.write(0, f"{title}:\t")
    if not taints:
        w.write(0, "<none>\n")
        return
    ordered = sorted(taints, key=lambda t: (t.get("effect", ""), t.get("key", "")))
    for i, t in enumerate(ordered):
        if i:
            w.write(0, "\t")
        text = t.get("key", "") + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"
        w.write(0, text + "\n")


def _int_or_str(v: Any) -> str:
    return str(v) if v is not None else ""


def probe_text(probe: dict[str, Any]) -> str:
    attrs = (f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
             f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
             f"#failure={probe.get('failureThreshold', 3)}")
    if probe.get("exec"):
        return f"exec [{' '.join(probe['exec'].get('command') or [])}] {attrs}"
    if probe.get("httpGet"):
        h = probe["httpGet"]
        scheme = (h.get("scheme") or "HTTP").lower()
        port = _int_or_str(h.get("port"))
        host = f"{h.get('host', '')}:{port}" if port else ""
        return f"http-get {scheme}://{host}{h.get('path', '')} {attrs}"
    if probe.get("tcpSocket"):
        t = probe["tcpSocket"]
        return f"tcp-socket {t.get('host', '')}:{_int_or_str(t.get('port'))} {attrs}"
    if probe.get("grpc"):
        g = probe["grpc"]
        return f"grpc <pod>:{g.get('port')} {g.get('service', '')} {attrs}"
    return f"unknown {attrs}"


def field_path_value(pod: typed.Pod | None, path: str) -> str:
    """kubectl's ``ExtractFieldPathAsString`` for the downward-API paths a pod's env may name."""
    if pod is None:
        return ""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    for prefix, source in (("metadata.labels", meta.get("labels")), ("metadata.annotations", meta.get("annotations"))):
        if path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted((source or {}).items()))
        if path.startswith(prefix + "['") and path.endswith("']"):
            return (source or {}).get(path[len(prefix) + 2:-2], "")
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": status.get("hostIP"),
              "status.podIP": status.get("podIP"),
              "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or [])}
    return simple.get(path) or ""


def describe_containers(w: Writer, label: str, containers: list[Any],
                        statuses: Mapping[str | None, typed.ContainerStatus] | None, space: str,
                        pod: typed.Pod | None = None) -> None:
    w.write(0, f"{space}{label}:\n")
    name_indent = " " if space else ""
    for c in containers:
        status = (statuses or {}).get(c.get("name"))
        w.write(1, f"{name_indent}{c.get('name')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
        w.write(2, f"Image:\t{c.get('image', '')}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
        ports = ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or [])
        if "," in ports:
            w.write(2, f"Ports:\t{ports}\n")
        else:
            w.write(2, f"Port:\t{ports or '<none>'}\n")
        host_ports = ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or [])
        if "," in host_ports:
            w.write(2, f"Host Ports:\t{host_ports}\n")
        else:
            w.write(2, f"Host Port:\t{host_ports or '<none>'}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                w.write(2, f"{title}:\n")
                for item in c[key]:
                    for s in str(item).split("\n"):
                        w.write(3, f"{s}\n")
        if status is not None:
            _container_state(w, "State", status.get("state") or {})
            last = status.get("lastState") or {}
            if last.get("terminated"):
                _container_state(w, "Last State", last)
            w.write(2, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
        resources = c.get("resources") or {}
        for title, key in (("Limits", "limits"), ("Requests", "requests")):
            if resources.get(key):
                w.write(2, f"{title}:\n")
                for name in _sorted_resources(resources[key]):
                    w.write(3, f"{name}:\t{resources[key][name]}\n")
        for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"), ("Startup", "startupProbe")):
            if c.get(key):
                w.write(2, f"{title}:\t{probe_text(c[key])}\n")
        if c.get("envFrom"):
            w.write(2, "Environment Variables from:\n")
            for ef in c["envFrom"]:
                if ef.get("configMapRef"):
                    ref, what = ef["configMapRef"], "ConfigMap"
                else:
                    ref, what = ef.get("secretRef") or {}, "Secret"
                optional = "true" if ref.get("optional") else "false"
                prefix = ef.get("prefix", "")
                if prefix:
                    w.write(3, f"{ref.get('name', '')}\t{what} with prefix '{prefix}'\tOptional: {optional}\n")
                else:
                    w.write(3, f"{ref.get('name', '')}\t{what}\tOptional: {optional}\n")
        env = c.get("env") or []
        w.write(2, "Environment:" + ("\t<none>" if not env else "") + "\n")
        for e in env:
            vf = e.get("valueFrom")
            if not vf:
                for i, s in enumerate(str(e.get("value", "")).split("\n")):
                    w.write(3, f"{e.get('name')}:\t{s}\n" if i == 0 else f"\t{s}\n")
                continue
            if vf.get("fieldRef"):
                fr = vf["fieldRef"]
                value = field_path_value(pod, fr.get("fieldPath", ""))
                w.write(3, f"{e.get('name')}:\t{value} ({fr.get('apiVersion', 'v1')}:{fr.get('fieldPath', '')})\n")
            elif vf.get("resourceFieldRef"):
                rf = vf["resourceFieldRef"]
                w.write(3, f"{e.get('name')}:\t{rf.get('resource', '')} ({rf.get('resource', '')})\n")
            elif vf.get("secretKeyRef"):
                s = vf["secretKeyRef"]
                w.write(3, f"{e.get('name')}:\t<set to the key '{s.get('key')}' in secret '{s.get('name')}'>\t"
                           f"Optional: {'true' if s.get('optional') else 'false'}\n")
            elif vf.get("configMapKeyRef"):
                s = vf["configMapKeyRef"]
                w.write(3, f"{e.get('name')}:\t<set to the key '{s.get('key')}' of config map '{s.get('name')}'>\t"
                           f"Optional: {'true' if s.get('optional') else 'false'}\n")
        mounts = sorted(c.get("volumeMounts") or [], key=lambda m: m.get("mountPath", ""))
        w.write(2, "Mounts:" + ("\t<none>" if not mounts else "") + "\n")
        for m in mounts:
            flags = ["ro" if m.get("readOnly") else "rw"]
            if m.get("subPath"):
                flags.append(f'path="{m["subPath"]}"')
            w.write(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


def _sorted_resources(rl: dict[str, Any]) -> list[str]:
    order = {"cpu": 0, "memory": 1, "ephemeral-storage": 2}
    return sorted(rl, key=lambda k: (order.get(k, 3), k))


def _container_state(w: Writer, title: str, state: typed.ContainerState) -> None:
    if state.get("running"):
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("waiting"):
        w.write(2, f"{title}:\tWaiting\n")
        if state["waiting"].get("reason"):
            w.write(3, f"Reason:\t{state['waiting']['reason']}\n")
    elif state.get("terminated"):
        t = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        if t.get("reason"):
            w.write(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            w.write(3, f"Message:\t{t['message']}\n")
        w.write(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if t.get("signal"):
            w.write(3, f"Signal:\t{t['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")


def describe_volumes(w: Writer, volumes: list[Any] | None, space: str) -> None:
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    name_indent = " " if space else ""
    for v in volumes:
        w.write(1, f"{name_indent}{v.get('name')}:\n")
        if v.get("hostPath") is not None:
            hp = v["hostPath"]
            w.write(2, f"Type:\tHostPath (bare host directory volume)\n    Path:\t{hp.get('path', '')}\n"
                       f"    HostPathType:\t{hp.get('type', '')}\n")
        elif v.get("emptyDir") is not None:
            ed = v["emptyDir"]
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{ed.get('medium', '')}\n    SizeLimit:\t{ed.get('sizeLimit', '<unset>')}\n")
        elif v.get("secret") is not None:
            s = v["secret"]
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{s.get('secretName', '')}\n"
                       f"    Optional:\t{'true' if s.get('optional') else 'false'}\n")
        elif v.get("configMap") is not None:
            c = v["configMap"]
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{c.get('name', '')}\n    Optional:\t{'true' if c.get('optional') else 'false'}\n")
        elif v.get("persistentVolumeClaim") is not None:
            c = v["persistentVolumeClaim"]
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                       f"    ClaimName:\t{c.get('claimName', '')}\n"
                       f"    ReadOnly:\t{'true' if c.get('readOnly') else 'false'}\n")
        elif v.get("downwardAPI") is not None:
            w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
            for item in v["downwardAPI"].get("items") or []:
                fr = item.get("fieldRef") or {}
                w.write(3, f"{fr.get('fieldPath', '')} -> {item.get('path', '')}\n")
        elif v.get("projected") is not None:
            w.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
        else:
            w.write(2, "<unknown>\n")


def describe_pod_template(w: Writer, template: typed.PodTemplateSpec | None) -> None:
    w.write(0, "Pod Template:\n")
    if template is None:
        w.write(1, "<unset>")
        return
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels_multiline(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        describe_containers(w, "Init Containers", spec["initContainers"], None, "  ")
    describe_containers(w, "Containers", spec.get("containers") or [], None, "  ")
    describe_volumes(w, spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(w, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, "  Tolerations", spec.get("tolerations"))


def describe_events(w: Writer, events: list[dict[str, Any]] | None) -> None:
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=_event_time):
        first = printers.age(e.get("eventTime") and e["eventTime"][:19] + "Z" or e.get("firstTimestamp"))
        series = e.get("series")
        if series:
            interval = f"{printers.age((series.get('lastObservedTime') or '')[:19] + 'Z')} (x{series.get('count')} over {first})"
        elif (e.get("count") or 0) > 1:
            interval = f"{printers.age(e.get('lastTimestamp'))} (x{e['count']} over {first})"
        else:
            interval = first
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{(e.get('message') or '').strip()}\n")


def _event_time(e: dict[str, Any]) -> str:
    return e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or ""


def controller_of(obj: Mapping[str, Any]) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


# --- describers ----------------------------------------------------------------------------


class Describer:
    """Fetches what one report needs and writes it."""

    def __init__(self, session: Session, res: Resource, show_events: bool) -> None:
        self.session = session
        self.res = res
        self.show_events = show_events

    async def events_for(self, obj: Mapping[str, Any], *, with_kind: bool = False) -> list[dict[str, Any]] | None:
        if not self.show_events:
            return None
        meta = obj.get("metadata") or {}
        events_res = await self.session.resolver.find("events")
        if events_res is None:
            return None
        uids = [meta.get("uid", "")]
        if self.res.rt.kind == "Node":
            # controllers record a node's events against its uid, kubelets against its name: kubectl
            # asks for both and shows them together
            uids.append(meta.get("name", ""))
        fields = [f"involvedObject.name={meta.get('name', '')}", f"involvedObject.namespace={meta.get('namespace', '')}"]
        if with_kind:
            fields.append(f"involvedObject.kind={self.res.rt.kind}")
        events: list[dict[str, Any]] = []
        try:
            for uid in uids:
                selector = ",".join([*fields, f"involvedObject.uid={uid}"])
                doc = await self.session.client.list_all(events_res.rt, namespace=meta.get("namespace") or None,
                                                         field_selector=selector)
                events.extend(doc.get("items") or [])
        except errors.ApiError:
            return None
        return events

    async def describe(self, obj: dict[str, Any]) -> str:
        w = Writer()
        kind = self.res.rt.kind
        handler: Callable[[Writer, dict[str, Any]], Any] = {
            ("", "Pod"): self.pod, ("apps", "Deployment"): self.deployment, ("apps", "ReplicaSet"): self.replicaset,
            ("", "Service"): self.service, ("", "Node"): self.node, ("", "Namespace"): self.namespace,
        }.get((self.res.rt.group, kind), self.generic)
        await handler(w, obj)
        return w.render()

    async def pod(self, w: Writer, obj: dict[str, Any]) -> None:
        pod = cast("typed.Pod", obj)
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
        if spec.get("priority") is not None:
            w.write(0, f"Priority:\t{spec['priority']}\n")
        if spec.get("priorityClassName"):
            w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
        if spec.get("runtimeClassName"):
            w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
        if spec.get("serviceAccountName"):
            w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
        if spec.get("nodeName"):
            w.write(0, f"Node:\t{spec['nodeName']}/{status.get('hostIP', '')}\n")
        else:
            w.write(0, "Node:\t<none>\n")
        if status.get("startTime"):
            w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        if meta.get("deletionTimestamp"):
            w.write(0, f"Status:\tTerminating (lasts {printers.age(meta['deletionTimestamp'])})\n")
            w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
        else:
            w.write(0, f"Status:\t{status.get('phase', '')}\n")
        if status.get("reason"):
            w.write(0, f"Reason:\t{status['reason']}\n")
        if status.get("message"):
            w.write(0, f"Message:\t{status['message'].strip()}\n")
        w.write(0, f"IP:\t{status.get('podIP', '')}\n")
        ips = status.get("podIPs") or []
        if not ips:
            w.write(0, "IPs:\t<none>\n")
        else:
            w.write(0, "IPs:\n")
            for ip in ips:
                w.write(1, f"IP:\t{ip.get('ip', '')}\n")
        ctrl = controller_of(pod)
        if ctrl:
            w.write(0, f"Controlled By:\t{ctrl}\n")
        if status.get("nominatedNodeName"):
            w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
        if spec.get("initContainers"):
            statuses = {s.get("name"): s for s in status.get("initContainerStatuses") or []}
            describe_containers(w, "Init Containers", spec["initContainers"], statuses, "", pod)
        statuses = {s.get("name"): s for s in status.get("containerStatuses") or []}
        describe_containers(w, "Containers", spec.get("containers") or [], statuses, "", pod)
        if spec.get("readinessGates"):
            w.write(0, "Readiness Gates:\n  Type\tStatus\n")
            conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            for g in spec["readinessGates"]:
                w.write(1, f"{g.get('conditionType')} \t{conds.get(g.get('conditionType'), '<none>')} \n")
        if status.get("conditions"):
            w.write(0, "Conditions:\n  Type\tStatus\n")
            for c in status["conditions"]:
                w.write(1, f"{c.get('type')} \t{c.get('status')} \n")
        describe_volumes(w, spec.get("volumes"), "")
        w.write(0, f"QoS Class:\t{status.get('qosClass') or qos_class(spec)}\n")
        labels_multiline(w, "Node-Selectors", spec.get("nodeSelector"))
        tolerations_multiline(w, "Tolerations", spec.get("tolerations"))
        describe_events(w, await self.events_for(pod))

    async def deployment(self, w: Writer, obj: dict[str, Any]) -> None:
        d = cast("typed.Deployment", obj)
        meta, spec, status = d.get("metadata") or {}, d.get("spec") or {}, d.get("status") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
        w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        w.write(0, f"Selector:\t{format_label_selector(spec.get('selector'))}\n")
        w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
                   f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
                   f"{status.get('unavailableReplicas', 0)} unavailable\n")
        strategy = spec.get("strategy") or {}
        w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
        w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
        if strategy.get("rollingUpdate") is not None:
            ru = strategy["rollingUpdate"]
            w.write(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '')} max unavailable, "
                       f"{ru.get('maxSurge', '')} max surge\n")
        describe_pod_template(w, spec.get("template"))
        if status.get("conditions"):
            w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
            w.write(1, "----\t------\t------\n")
            for c in status["conditions"]:
                w.write(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")
        old, new = await self._replicasets_of(d)
        if old or new:
            w.write(0, f"OldReplicaSets:\t{_rs_list(old)}\n")
            w.write(0, f"NewReplicaSet:\t{_rs_list([new] if new else [])}\n")
        describe_events(w, await self.events_for(d, with_kind=True))

    async def _replicasets_of(self, d: typed.Deployment) -> tuple[list[typed.ReplicaSet], typed.ReplicaSet | None]:
        from minik8s.cli import deployments  # local: only describe deployment needs it

        rss = await deployments.owned_replicasets(self.session, d)
        template = (d.get("spec") or {}).get("template") or {}
        new = None
        for rs in sorted(rss, key=lambda r: (r.get("metadata") or {}).get("creationTimestamp") or ""):
            if deployments.equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
                new = rs
                break
        # kubectl lists every old ReplicaSet, scaled to zero or not (deploymentutil's allOldRSs)
        old = [r for r in rss if r is not new]
        return old, new

    async def replicaset(self, w: Writer, obj: dict[str, Any]) -> None:
        rs = cast("typed.ReplicaSet", obj)
        meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
        w.write(0, f"Selector:\t{format_label_selector(spec.get('selector'))}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        ctrl = controller_of(rs)
        if ctrl:
            w.write(0, f"Controlled By:\t{ctrl}\n")
        w.write(0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
        counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
        pods_res = await self.session.resolver.resolve("pods")
        # the whole selector, matchExpressions too (kubectl's getPodStatusForController)
        label_sel = label_selector_string(spec.get("selector")) or ""
        pods = await self.session.client.list_all(pods_res.rt, namespace=meta.get("namespace"), label_selector=label_sel)
        for p in pods.get("items") or []:
            if any(r.get("uid") == meta.get("uid") and r.get("controller")
                   for r in (p.get("metadata") or {}).get("ownerReferences") or []):
                phase = (p.get("status") or {}).get("phase", "Pending")
                counts[phase] = counts.get(phase, 0) + 1
        w.write(0, f"Pods Status:\t{counts['Running']} Running / {counts['Pending']} Waiting / "
                   f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed\n")
        describe_pod_template(w, spec.get("template"))
        if status.get("conditions"):
            w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
            w.write(1, "----\t------\t------\n")
            for c in status["conditions"]:
                w.write(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")
        describe_events(w, await self.events_for(rs))

    async def service(self, w: Writer, obj: dict[str, Any]) -> None:
        svc = cast("typed.Service", obj)
        meta, spec, status = svc.get("metadata") or {}, svc.get("spec") or {}, svc.get("status") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
        w.write(0, f"Type:\t{spec.get('type', '')}\n")
        if spec.get("ipFamilyPolicy"):
            w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
        w.write(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
        w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
        w.write(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
        if spec.get("externalIPs"):
            w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
        if spec.get("loadBalancerIP"):
            w.write(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        if ingress:
            w.write(0, f"LoadBalancer Ingress:\t{', '.join(i.get('ip') or i.get('hostname', '') for i in ingress)}\n")
        slices = await self._endpoint_slices(svc)
        for sp in spec.get("ports") or []:
            name = sp.get("name") or "<unset>"
            proto = sp.get("protocol", "TCP")
            w.write(0, f"Port:\t{name}\t{sp.get('port')}/{proto}\n")
            tp = sp.get("targetPort", sp.get("port"))
            w.write(0, f"TargetPort:\t{tp}/{proto}\n")
            if sp.get("nodePort"):
                w.write(0, f"NodePort:\t{name}\t{sp['nodePort']}/{proto}\n")
            w.write(0, f"Endpoints:\t{_format_slices(slices, sp.get('name', ''))}\n")
        w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
        if spec.get("externalTrafficPolicy"):
            w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
        if spec.get("internalTrafficPolicy"):
            w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
        if spec.get("healthCheckNodePort"):
            w.write(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
        if spec.get("loadBalancerSourceRanges"):
            w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec['loadBalancerSourceRanges'])}\n")
        describe_events(w, await self.events_for(svc))

    async def _endpoint_slices(self, svc: typed.Service) -> list[typed.EndpointSlice] | None:
        res = await self.session.resolver.find("endpointslices.discovery.k8s.io")
        if res is None:
            return None
        meta = svc.get("metadata") or {}
        doc = await self.session.client.list_all(res.rt, namespace=meta.get("namespace"),
                                                 label_selector=f"kubernetes.io/service-name={meta.get('name')}")
        slices: list[typed.EndpointSlice] = doc.get("items") or []
        return slices

    async def namespace(self, w: Writer, obj: dict[str, Any]) -> None:
        ns = cast("typed.Namespace", obj)
        meta, status = ns.get("metadata") or {}, ns.get("status") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        w.write(0, f"Status:\t{status.get('phase', '')}\n")
        if status.get("conditions"):
            w.write(0, "Conditions:\n  Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
            w.write(1, "----\t------\t------------------\t------\t-------\n")
            for c in status["conditions"]:
                w.write(1, f"{c.get('type')}\t{c.get('status')}\t{rfc1123z(c.get('lastTransitionTime'))}\t"
                           f"{c.get('reason', '')}\t{c.get('message', '')}\n")
        quotas = await self.session.resolver.find("resourcequotas")
        if quotas is not None:
            doc = await self.session.client.list_all(quotas.rt, namespace=meta.get("name"))
            w.write(0, "\n")
            items = sorted(doc.get("items") or [], key=lambda q: q["metadata"]["name"])
            if not items:
                w.write(0, "No resource quota.\n")
            else:
                w.write(0, "Resource Quotas\n")
                for q in items:
                    w.write(1, f"Name:\t{q['metadata']['name']}\n")
                    w.write(1, "Resource\tUsed\tHard\n")
                    w.write(1, "--------\t---\t---\n")
                    hard = (q.get("spec") or {}).get("hard") or {}
                    st = q.get("status") or {}
                    for r in sorted(hard):
                        used = (st.get("used") or {}).get(r, "0")
                        w.write(1, f"{r}\t{used}\t{(st.get('hard') or {}).get(r, '0')}\n")
        limits = await self.session.resolver.find("limitranges")
        if limits is not None:
            doc = await self.session.client.list_all(limits.rt, namespace=meta.get("name"))
            if not doc.get("items"):
                w.write(0, "\nNo LimitRange resource.\n")

    async def node(self, w: Writer, obj: dict[str, Any]) -> None:
        node = cast("typed.Node", obj)
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        labels = meta.get("labels") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        roles = sorted({k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")
                        and k.split("/", 1)[1]} | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role")
                                                   else set()))
        w.write(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
        labels_multiline(w, "Labels", labels)
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
        taints_multiline(w, "Taints", spec.get("taints"))
        w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
        lease_res = await self.session.resolver.find("leases.coordination.k8s.io")
        if lease_res is not None:
            try:
                lease = await self.session.client.get(lease_res.rt, meta.get("name", ""), namespace="kube-node-lease")
                ls = lease.get("spec") or {}
                w.write(0, "Lease:\n")
                w.write(1, f"HolderIdentity:\t{ls.get('holderIdentity') or '<unset>'}\n")
                w.write(1, f"AcquireTime:\t{rfc1123z(ls.get('acquireTime')) if ls.get('acquireTime') else '<unset>'}\n")
                w.write(1, f"RenewTime:\t{rfc1123z(ls.get('renewTime')) if ls.get('renewTime') else '<unset>'}\n")
            except errors.ApiError as e:
                w.write(0, f"Lease:\tFailed to get lease: {e.message}\n")
        if status.get("conditions"):
            w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
            w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
            for c in status["conditions"]:
                w.write(1, f"{c.get('type')} \t{c.get('status')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                           f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
        w.write(0, "Addresses:\n")
        for a in status.get("addresses") or []:
            w.write(1, f"{a.get('type')}:\t{a.get('address')}\n")
        for title, amounts in (("Capacity", status.get("capacity")), ("Allocatable", status.get("allocatable"))):
            if amounts:
                w.write(0, f"{title}:\n")
                for r in sorted(amounts):
                    w.write(0, f"  {r}:\t{amounts[r]}\n")
        info = status.get("nodeInfo") or {}
        w.write(0, "System Info:\n")
        for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                           ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                           ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                           ("Container Runtime Version", "containerRuntimeVersion"),
                           ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion")):
            w.write(0, f"  {title}:\t{info.get(key, '')}\n")
        if spec.get("podCIDR"):
            w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
        if spec.get("podCIDRs"):
            w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
        if spec.get("providerID"):
            w.write(0, f"ProviderID:\t{spec['providerID']}\n")
        await self._node_pods(w, node)
        describe_events(w, await self.events_for(node))

    async def _node_pods(self, w: Writer, node: typed.Node) -> None:
        pods_res = await self.session.resolver.resolve("pods")
        name = (node.get("metadata") or {}).get("name")
        doc = await self.session.client.list_all(
            pods_res.rt, field_selector=f"spec.nodeName={name},status.phase!=Failed,status.phase!=Succeeded")
        pods: list[typed.Pod] = doc.get("items") or []
        status = node.get("status") or {}
        alloc = status.get("allocatable") or status.get("capacity") or {}
        cpu_alloc = quantity.parse_cpu_millis(alloc.get("cpu", "0"))
        mem_alloc = quantity.parse_bytes(alloc.get("memory", "0"))

        def pct(v: int, total: int) -> int:
            return int(v / total * 100) if total else 0

        w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
        w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
        w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
        totals = [0, 0, 0, 0]
        for p in pods:
            req, lim = _pod_requests_limits(p)
            cr, cl, mr, ml = req.get("cpu", 0), lim.get("cpu", 0), req.get("memory", 0), lim.get("memory", 0)
            for i, v in enumerate((cr, cl, mr, ml)):
                totals[i] += v
            pm = p.get("metadata") or {}
            w.write(1, f"{pm.get('namespace')}\t{pm.get('name')}\t\t{_cpu(cr)} ({pct(cr, cpu_alloc)}%)\t"
                       f"{_cpu(cl)} ({pct(cl, cpu_alloc)}%)\t{_mem(mr)} ({pct(mr, mem_alloc)}%)\t"
                       f"{_mem(ml)} ({pct(ml, mem_alloc)}%)\t{printers.age(pm.get('creationTimestamp'))}\n")
        w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
        w.write(1, "Resource\tRequests\tLimits\n")
        w.write(1, "--------\t--------\t------\n")
        w.write(1, f"cpu\t{_cpu(totals[0])} ({pct(totals[0], cpu_alloc)}%)\t{_cpu(totals[1])} ({pct(totals[1], cpu_alloc)}%)\n")
        w.write(1, f"memory\t{_mem(totals[2])} ({pct(totals[2], mem_alloc)}%)\t{_mem(totals[3])} ({pct(totals[3], mem_alloc)}%)\n")
        w.write(1, "ephemeral-storage\t0 (0%)\t0 (0%)\n")

    async def generic(self, w: Writer, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        w.write(0, f"Name:\t{meta.get('name', '')}\n")
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
        labels_multiline(w, "Labels", meta.get("labels"))
        annotations_multiline(w, "Annotations", meta.get("annotations"))
        _unstructured(w, 0, obj, "", {".metadata.name", ".metadata.namespace", ".metadata.labels",
                                     ".metadata.annotations"})
        describe_events(w, await self.events_for(obj))


def _cpu(millis: int) -> str:
    return quantity.format_cpu_millis(millis) if millis else "0"


def _mem(n: int) -> str:
    return quantity.format_bytes(n) if n else "0"


def _pod_requests_limits(pod: typed.Pod) -> tuple[dict[str, int], dict[str, int]]:
    """The pod's effective requests and limits in CPU millis and bytes (containers summed,
    each init container as a floor), as kubectl's resource helper computes them."""
    def of(container: typed.Container, key: Literal["requests", "limits"]) -> dict[str, int]:
        rl = (container.get("resources") or {}).get(key) or {}
        out = {}
        if "cpu" in rl:
            out["cpu"] = quantity.parse_cpu_millis(rl["cpu"])
        if "memory" in rl:
            out["memory"] = quantity.parse_bytes(rl["memory"])
        return out

    spec = pod.get("spec") or {}
    result: list[dict[str, int]] = []
    keys: tuple[Literal["requests", "limits"], ...] = ("requests", "limits")
    for key in keys:
        total: dict[str, int] = {}
        for c in spec.get("containers") or []:
            for r, v in of(c, key).items():
                total[r] = total.get(r, 0) + v
        for c in spec.get("initContainers") or []:
            for r, v in of(c, key).items():
                total[r] = max(total.get(r, 0), v)
        result.append(total)
    return result[0], result[1]


def _rs_list(rss: list[typed.ReplicaSet]) -> str:
    if not rss:
        return "<none>"
    return ", ".join(f"{r['metadata']['name']} ({(r.get('status') or {}).get('replicas', 0)}/"
                     f"{(r.get('spec') or {}).get('replicas', 0)} replicas created)" for r in rss)


def _format_slices(slices: list[typed.EndpointSlice] | None, port_name: str) -> str:
    if not slices:
        return "<none>"
    shown: list[str] = []
    count = 0
    for s in slices:
        ports = s.get("ports") or []
        if not ports:
            for ep in s.get("endpoints") or []:
                if len(shown) < 3:
                    shown.append((ep.get("addresses") or [""])[0])
                count += 1
            continue
        for port in ports:
            if (port.get("name") or "") != port_name:
                continue
            for ep in s.get("endpoints") or []:
                if len(shown) < 3:
                    shown.append(f"{(ep.get('addresses') or [''])[0]}:{port.get('port')}")
                count += 1
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def smart_label(field: str) -> str:
    """kubectl's ``smartLabelFor``: ``apiVersion`` → ``API Version``; fields with characters
    other than letters and ``-`` stay as they are."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = _CAMEL.findall(field)
    out = []
    for part in parts:
        out.append(part.upper() if part.upper() in ("API", "URL", "UID", "OSB", "GUID") else part[:1].upper() + part[1:])
    return " ".join(out) if out else field


def _unstructured(w: Writer, level: int, content: dict[str, Any], prefix: str, skip: set[str]) -> None:
    for field in sorted(content):
        value = content[field]
        expr = f"{prefix}.{field}"
        if expr in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(field)}:\n")
            _unstructured(w, level + 1, value, expr, skip)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _unstructured(w, level + 1, child, expr, skip)
                else:
                    w.write(level + 1, f"{printers.go_value(child)}\n")
        else:
            w.write(level, f"{smart_label(field)}:\t{printers.go_value(value)}\n")


# --- the verb -------------------------------------------------------------------------------


async def cmd_describe(session: Session, args: argparse.Namespace) -> int:
    show_events = args.show_events == "true"
    work: list[tuple[Resource, list[str] | None]] = []
    if args.filename:
        from minik8s.cli import common

        for m in await common.read_manifests(args):
            res, _ = await common.resolve_manifest(session, m)
            work.append((res, [m.name]))
    else:
        if not args.args:
            raise CliError("You must specify the type of resource to describe. Use \"mkctl api-resources\" for a "
                           "complete list of supported resources.")
        types, pairs, names = split_type_name_args(args.args)
        for t, n in pairs:
            work.append((await session.resolver.resolve(t), [n]))
        for t in types:
            work.append((await session.resolver.resolve(t), names or None))
    namespace = None if args.all_namespaces else session.namespace
    outputs: list[str] = []
    prefix_matched = False
    failures: list[BaseException] = []
    for res, wanted in work:
        ns = namespace if res.rt.namespaced else None
        objects: list[dict[str, Any]] = []
        if wanted:
            for name in wanted:
                try:
                    objects.append(await session.client.get(res.rt, name, namespace=ns or session.namespace))
                except errors.NotFound as e:
                    # kubectl falls back to every object whose name starts with the one given
                    doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector)
                    matches = [o for o in doc.get("items") or [] if o["metadata"]["name"].startswith(name)]
                    if not matches:
                        failures.append(e)
                    prefix_matched = True
                    objects.extend(matches)
        else:
            doc = await session.client.list_all(res.rt, namespace=ns, label_selector=args.selector)
            objects.extend(doc.get("items") or [])
        describer = Describer(session, res, show_events)
        for obj in objects:
            obj = {"apiVersion": res.rt.api_version, "kind": res.rt.kind, **obj}
            outputs.append(await describer.describe(obj))
    # kubectl prints prefix matches each followed by a newline, other reports separated by one
    sys.stdout.write("".join(o + "\n" for o in outputs) if prefix_matched else "\n\n".join(outputs))
    sys.stdout.flush()
    for failure in failures:
        print(format_error(failure, server=session.server), file=sys.stderr)
    if not outputs and not failures:
        if namespace and all(r.rt.namespaced for r, _ in work):
            print(f"No resources found in {namespace} namespace.", file=sys.stderr)
        else:
            print("No resources found", file=sys.stderr)
    return 1 if failures else 0
