"""``mkctl expose``: a Service in front of a deployment, replica set, pod or service, built as
kubectl's service generator builds it — selector from the object (``spec.selector.matchLabels``
or, for a pod, its labels), labels copied from the object, ports from ``--port`` or the
containers' ports — and POSTed with ``fieldManager=kubectl-expose``."""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.cli import common
from minik8s.cli.create import create_object
from minik8s.cli.resources import Resource
from minik8s.cli.scale import scale_targets
from minik8s.cli.session import CliError, Session, Subparsers

_EXPOSABLE = {"Deployment", "ReplicaSet", "Pod", "Service", "ReplicationController"}


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    p = sub.add_parser("expose", parents=[common_flags], allow_abbrev=False,
                       help="Take a replication controller, service, deployment or pod and expose it as a new "
                            "Kubernetes service")
    p.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME)")
    common.add_filename_flags(p)
    p.add_argument("--port", default="", help="the port the service serves on")
    p.add_argument("--target-port", default="", help="the container port (number or name) traffic goes to")
    p.add_argument("--protocol", default="", help="TCP (default), UDP or SCTP")
    p.add_argument("--name", default="", help="the service's name (default: the object's)")
    p.add_argument("--type", default="", choices=("", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"))
    p.add_argument("--selector", default="", help="a label selector of the pods (default: the object's)")
    p.add_argument("-l", "--labels", default="", help="labels of the service (default: the object's)")
    p.add_argument("--external-ip", default="")
    p.add_argument("--cluster-ip", default="")
    p.add_argument("--load-balancer-ip", default="")
    p.add_argument("--session-affinity", default="", choices=("", "None", "ClientIP"))
    common.add_output_flag(p)
    common.add_dry_run(p)
    common.add_field_manager(p, "kubectl-expose")
    p.set_defaults(func=cmd_expose, needs_loop=False)


def _selector_of(obj: dict[str, Any]) -> dict[str, str]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not labels:
            raise CliError("the pod has no labels and cannot be exposed")
        return dict(labels)
    if kind == "Service":
        selector = spec.get("selector") or {}
        if not selector:
            raise CliError("the service has no pod selector set")
        return dict(selector)
    selector = spec.get("selector") or {}
    if kind == "ReplicationController":
        return dict(selector)
    if selector.get("matchExpressions"):
        raise CliError("couldn't convert expressions - \"" + str(selector["matchExpressions"]) +
                       "\" to map-based selector format")
    return dict(selector.get("matchLabels") or {})


def _ports_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Service":
        return [{"port": p.get("port"), "protocol": p.get("protocol", "TCP"), "name": p.get("name", "")}
                for p in spec.get("ports") or []]
    pod_spec = spec if kind == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    out = []
    for c in pod_spec.get("containers") or []:
        for p in c.get("ports") or []:
            out.append({"port": p.get("containerPort"), "protocol": p.get("protocol", "TCP"), "name": ""})
    return out


def _parse_map(text: str, what: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise CliError(f"invalid {what}: {part}")
        out[k] = v
    return out


def _int_or_str(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def service_for(obj: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The Service kubectl's generator makes for ``obj`` and the flags."""
    meta = obj.get("metadata") or {}
    if args.selector:
        selector = _parse_map(args.selector, "selector")
    else:
        selector = _selector_of(obj)
    labels = _parse_map(args.labels, "labels") if args.labels else dict(meta.get("labels") or {})
    if args.port:
        ports_in = [{"port": int(p), "protocol": args.protocol or "TCP", "name": ""} for p in args.port.split(",")]
    else:
        ports_in = _ports_of(obj)
        if args.protocol:
            for p in ports_in:
                p["protocol"] = args.protocol
    if not ports_in and args.type != "ExternalName":
        raise CliError("couldn't find port via --port flag or introspection")
    ports = []
    for idx, p in enumerate(ports_in):
        port: dict[str, Any] = {}
        if len(ports_in) > 1:
            port["name"] = p["name"] or f"port-{idx + 1}"
        port["port"] = p["port"]
        port["protocol"] = p["protocol"] or "TCP"
        port["targetPort"] = _int_or_str(args.target_port) if args.target_port else p["port"]
        ports.append(port)
    spec: dict[str, Any] = {"ports": ports, "selector": selector}
    if args.type:
        spec["type"] = args.type
    if args.cluster_ip:
        spec["clusterIP"] = args.cluster_ip
    if args.external_ip:
        spec["externalIPs"] = [args.external_ip]
    if args.load_balancer_ip:
        spec["loadBalancerIP"] = args.load_balancer_ip
    if args.session_affinity:
        spec["sessionAffinity"] = args.session_affinity
    svc_meta: dict[str, Any] = {"name": args.name or meta.get("name"), "creationTimestamp": None}
    if labels:
        svc_meta["labels"] = labels
    return {"kind": "Service", "apiVersion": "v1", "metadata": svc_meta, "spec": spec,
            "status": {"loadBalancer": {}}}


async def cmd_expose(session: Session, args: argparse.Namespace) -> int:
    targets = await scale_targets(session, args)
    svc_res = await session.resolver.resolve("services")
    for res, ns, name in targets:
        if res.rt.kind not in _EXPOSABLE:
            raise CliError(f"cannot expose a {res.rt.kind}")
        obj = await session.client.get(res.rt, name, namespace=ns)
        obj.setdefault("kind", res.rt.kind)
        svc = service_for(obj, args)
        if session.namespace_explicit:
            svc["metadata"]["namespace"] = session.namespace
        await _create(session, args, svc_res, svc)
    return 0


async def _create(session: Session, args: argparse.Namespace, res: Resource, svc: dict[str, Any]) -> None:
    if args.dry_run == "client":
        common.print_done(res, svc, "exposed", output=args.output, dry_run="client")
        return
    created = await create_object(session, res, session.namespace, svc, args)
    common.print_done(res, created, "exposed", output=args.output, dry_run=args.dry_run)
