"""The small verbs: ``version``, ``cluster-info``, ``api-resources`` and ``service NAME --url`` (the node URLs of a NodePort service,
as ``minikube service --url`` prints them)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from minik8s import errors
from minik8s.cli import printers
from minik8s.cli.session import CliError, Session, Subparsers

if TYPE_CHECKING:  # annotations only: `version --client` imports nothing it does not run
    from minik8s.api import typed

CLIENT_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-mkctl", "gitCommit": "", "gitTreeState": "",
    "buildDate": "", "goVersion": f"python{sys.version_info.major}.{sys.version_info.minor}", "compiler": "cpython",
    "platform": f"{sys.platform}/amd64",
}


def add_parsers(sub: Subparsers, common_flags: argparse.ArgumentParser) -> None:
    v = sub.add_parser("version", parents=[common_flags], help="Print the client and server version information")
    v.add_argument("--client", action="store_true")
    v.add_argument("-o", "--output", default="", choices=("", "json", "yaml"))
    v.set_defaults(func=cmd_version, needs_loop=False, offline=_client_only)
    c = sub.add_parser("cluster-info", parents=[common_flags], help="Display cluster information")
    c.set_defaults(func=cmd_cluster_info, needs_loop=False)
    a = sub.add_parser("api-resources", parents=[common_flags], help="Print the supported API resources on the server")
    a.add_argument("-o", "--output", default="", choices=("", "wide", "name"))
    a.add_argument("--namespaced", default=None, choices=("true", "false"))
    a.add_argument("--api-group", default=None)
    a.add_argument("--verbs", action="append", default=[])
    a.add_argument("--no-headers", action="store_true")
    a.add_argument("--sort-by", default="", choices=("", "name", "kind"))
    a.add_argument("--categories", action="append", default=[])
    a.add_argument("--cached", action="store_true", help="use the cached list of resources if available")
    a.set_defaults(func=cmd_api_resources, needs_loop=False)
    s = sub.add_parser("service", parents=[common_flags], help="Print the URL of a NodePort service")
    s.add_argument("name")
    s.add_argument("--url", action="store_true", help="print the URLs (the only mode)")
    s.add_argument("--https", action="store_true")
    s.set_defaults(func=cmd_service, needs_loop=False)


def _client_only(args: argparse.Namespace) -> bool:
    """``version --client`` reads no kubeconfig and asks no server."""
    return bool(args.client)


async def cmd_version(session: Session | None, args: argparse.Namespace) -> int:
    server = None
    failure: BaseException | None = None
    if not args.client and session is not None:  # main opens a session unless --client
        try:
            server = (await session.client.request("GET", "/version")).json()
        except errors.MiniK8sError as e:
            failure = e
    if args.output:
        data: dict[str, Any] = {"clientVersion": CLIENT_VERSION}
        if server is not None:
            data["serverVersion"] = server
        fmt = printers.OutputFormat(args.output)
        sys.stdout.write(fmt.render([data], single=True))
    else:
        print(f"Client Version: {CLIENT_VERSION['gitVersion']}")
        if server is not None:
            print(f"Server Version: {server.get('gitVersion', '')}")
    if failure is not None:
        raise failure
    return 0


async def cmd_cluster_info(session: Session, args: argparse.Namespace) -> int:
    # kubectl asks the server before saying it runs: an unreachable one fails here.
    services = await session.resolver.resolve("services")
    doc = await session.client.list_all(services.rt, namespace="kube-system",
                                        label_selector="kubernetes.io/cluster-service=true")
    print(f"Kubernetes control plane is running at {session.server}")
    for svc in doc.get("items") or []:
        meta = svc.get("metadata") or {}
        name = (meta.get("labels") or {}).get("kubernetes.io/name") or meta.get("name")
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if ingress:
            ip = ingress[0].get("ip") or ingress[0].get("hostname")
            port = ((svc.get("spec") or {}).get("ports") or [{}])[0].get("port")
            url = f"http://{ip}:{port}"
        else:
            ports = (svc.get("spec") or {}).get("ports") or []
            suffix = f":{ports[0]['name']}" if ports and ports[0].get("name") else ""
            url = f"{session.server}/api/v1/namespaces/kube-system/services/{meta.get('name')}{suffix}/proxy"
        print(f"{name} is running at {url}")
    print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0


async def cmd_api_resources(session: Session, args: argparse.Namespace) -> int:
    if not args.cached:
        session.resolver.invalidate()  # as kubectl: always the server's current list unless --cached
    resources = [r for r in await session.resolver.all() if r.preferred]
    if args.namespaced is not None:
        resources = [r for r in resources if r.rt.namespaced == (args.namespaced == "true")]
    if args.api_group is not None:
        resources = [r for r in resources if r.rt.group == args.api_group]
    if args.verbs:
        resources = [r for r in resources if all(v in r.verbs for v in args.verbs)]
    if args.categories:
        resources = [r for r in resources if all(c in r.categories for c in args.categories)]
    key = {"name": lambda r: r.rt.plural, "kind": lambda r: r.rt.kind}.get(args.sort_by, lambda r: (r.rt.group, r.rt.plural))
    resources = sorted(resources, key=key)
    if args.output == "name":
        for r in resources:
            print(f"{r.rt.plural}.{r.rt.group}" if r.rt.group else r.rt.plural)
        return 0
    lines = []
    if not args.no_headers:
        head = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if args.output == "wide":
            head += ["VERBS", "CATEGORIES"]
        lines.append("\t".join(head))
    for r in resources:
        cells = [r.rt.plural, ",".join(r.rt.short_names), r.rt.group_version,
                 "true" if r.rt.namespaced else "false", r.rt.kind]
        if args.output == "wide":
            cells += [",".join(sorted(r.verbs)), ",".join(r.categories)]
        lines.append("\t".join(cells))
    sys.stdout.write(printers.tabwriter(lines))
    return 0


async def cmd_service(session: Session, args: argparse.Namespace) -> int:
    services = await session.resolver.resolve("services")
    svc = await session.client.get(services.rt, args.name, namespace=session.namespace)
    ports = [p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("nodePort")]
    if not ports:
        raise CliError(f'service "{args.name}" in namespace "{session.namespace}" has no node port')
    nodes_res = await session.resolver.resolve("nodes")
    nodes = (await session.client.list_all(nodes_res.rt)).get("items") or []
    ip = node_ip(nodes)
    if ip is None:
        raise CliError("no node has an InternalIP address: is a node running?")
    scheme = "https" if args.https else "http"
    for p in ports:
        print(f"{scheme}://{ip}:{p['nodePort']}")
    return 0


def node_ip(nodes: list[typed.Node]) -> str | None:
    """The InternalIP of the first Ready node (else of the first node with one)."""
    def ready(n: typed.Node) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (n.get("status") or {}).get("conditions") or [])

    for n in sorted(nodes, key=lambda n: (not ready(n), n["metadata"]["name"])):
        for a in (n.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP" and a.get("address"):
                return a["address"]
    return None
