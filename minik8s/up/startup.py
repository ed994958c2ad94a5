"""The start-up of a supervised minik8s (``up`` and ``join``), run in a child the supervisor
forks (:mod:`~minik8s.up.cluster`): issue the credentials (:mod:`~minik8s.up.credentials`),
ask the supervisor to start the components in readiness order, show progress, print how to
use the cluster, and exit. What start-up needs and the supervisor never needs again (the
certificates' cryptography, the REST client and its models, ~30 MiB) is loaded and freed with
this child, so the process that lives as long as the cluster stays small (issue #15).

Start order (k3s' "waiting for ..."): the apiserver (or, for ``join``, the remote one) must
answer ``/readyz`` before anything that talks to it starts; then the control loops and node
agents start together and ``up`` waits for every local node to be Ready before printing how
to use the cluster.

The channel to the supervisor is a pipe of JSON lines, ``{"start": [component, ...]}``
(:func:`~minik8s.up.components.to_json`); what became of the components is read back from the
state file the supervisor keeps (:class:`StateView`). Exit code 0 once the banner is printed,
1 when the cluster cannot start (the reason logged).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
from pathlib import Path
from typing import TextIO

from minik8s.api import bootstraptoken
from minik8s.client import connection, kubeconfig
from minik8s.client.rest import ApiClient
from minik8s.up import components, credentials, readiness, tlsbootstrap, uploadcerts
from minik8s.up import state as statefile
from minik8s.up.config import UpConfig
from minik8s.up.supervisor import Proc, log

__all__ = ["StateView", "run"]

NODE_READY_TIMEOUT = 120.0
CONTEXT = credentials.CONTEXT


class StateView:
    """The supervisor's components as its state file has them (what readiness reads of them)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @property
    def procs(self) -> dict[str, Proc]:
        st = statefile.read_state(self.data_dir) or {}
        out: dict[str, Proc] = {}
        for name, c in (st.get("components") or {}).items():
            comp = components.Component(name, c.get("kind", ""), c.get("module", ""), (), Path(c.get("log", "")), 0,
                                        c.get("node"))
            out[name] = Proc(comp, state=c.get("state", "pending"), pid=c.get("pid"), restarts=c.get("restarts", 0),
                             last_exit=c.get("lastExit"), message=c.get("message") or "")
        return out


def _primary_ip() -> str:
    """The source address of the default route (no packet is sent): what other hosts reach."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address: str = s.getsockname()[0]
            return address
        except OSError:
            return "127.0.0.1"


def _banner(cfg: UpConfig, ready: bool, out: TextIO, join_token: str | None = None,
            certificate_key: str | None = None) -> None:
    nodes = cfg.node_names()
    if cfg.mode == "up":
        what = f"minik8s is up: apiserver {cfg.server_url}"
    else:
        what = f"minik8s joined {cfg.server_url}"
    if nodes:
        what += f", node{'s' if len(nodes) > 1 else ''} {', '.join(nodes)} " + ("Ready" if ready else "(not Ready yet)")
    lines = [what]
    if cfg.mode == "up":
        kc = cfg.kubeconfig_path
        lines += [
            f"kubeconfig: {kc} (context {CONTEXT}); use it with:",
            f"    export KUBECONFIG={kc}",
            "    mkctl get nodes        # or: kubectl get nodes",
            f"web dashboard: {cfg.server_url}/ui/ (sign in with a token: kubectl create token SA)",
        ]
        if cfg.bind_address in ("0.0.0.0", "::") and join_token:
            ca_pin = tlsbootstrap.ca_hash((cfg.cert_dir / "ca.crt").read_bytes())
            lines.append(f"other hosts join with: minik8s join https://{_primary_ip()}:{cfg.port} "
                         f"--token {join_token} --discovery-token-ca-cert-hash {ca_pin}")
            if certificate_key:
                lines.append(f"other control-plane hosts join with: minik8s join --control-plane "
                             f"https://{_primary_ip()}:{cfg.port} --token {join_token} "
                             f"--discovery-token-ca-cert-hash {ca_pin} --certificate-key {certificate_key}")
    dd = f" --data-dir {cfg.data_dir}"
    lines.append(f"logs: {cfg.logs_dir}/   status: minik8s status{dd}   stop: Ctrl-C, or minik8s down{dd}")
    out.write("\n".join(lines) + "\n")
    out.flush()


def _ask_start(channel: int, table: list[components.Component]) -> None:
    if table:
        os.write(channel, (json.dumps({"start": [components.to_json(c) for c in table]}) + "\n").encode())


async def _start(cfg: UpConfig, channel: int, view: StateView, client: ApiClient, out: TextIO) -> None:
    table = components.build(cfg)
    _ask_start(channel, [c for c in table if c.wave == 0])
    if cfg.mode == "join" or any(c.wave == 0 for c in table):
        await readiness.wait_apiserver(client, view)
    join_token = certificate_key = None
    if cfg.mode == "up" and cfg.enabled("apiserver") and not cfg.join_control_plane:
        # what `minik8s join` needs (kubeadm's bootstrap-token phase): a fresh 24 h token and the
        # public cluster-info the bootstrap signer signs with it
        join_token = bootstraptoken.new_token()
        await tlsbootstrap.publish(client, f"https://{_primary_ip()}:{cfg.port}",
                                   (cfg.cert_dir / "ca.crt").read_bytes(), join_token)
        if cfg.highly_available:
            # and what `minik8s join --control-plane` needs (kubeadm's upload-certs phase)
            certificate_key = uploadcerts.new_key()
            await uploadcerts.upload(client, cfg.cert_dir, cfg.data_dir, _etcd_servers(table), certificate_key,
                                     join_token)
    _ask_start(channel, [c for c in table if c.wave > 0])
    ready = await readiness.wait_nodes(client, cfg.node_names(), view, timeout=NODE_READY_TIMEOUT)
    _banner(cfg, ready, out, join_token, certificate_key)


def _etcd_servers(table: list[components.Component]) -> str:
    """The etcd servers this host's apiserver is given (as its command line has them)."""
    api = next(c for c in table if c.kind == "apiserver")
    for arg in api.argv:
        if arg.startswith("--etcd-servers="):
            return arg.split("=", 1)[1]
    raise ValueError("the apiserver has no --etcd-servers")


def _join_control_plane(cfg: UpConfig) -> UpConfig:
    """``join --control-plane``: the cluster's shared keys written here, and the etcd servers
    (``--etcd-servers``, else those of the first apiserver) in the configuration."""
    etcd = uploadcerts.fetch(cfg.join_control_plane or "", cfg.token or "", list(cfg.discovery_hashes),
                             cfg.certificate_key or "", cfg.cert_dir, cfg.data_dir)
    return dataclasses.replace(cfg, etcd_servers=cfg.etcd_servers or etcd)


async def run(cfg: UpConfig, channel: int, *, out: TextIO) -> int:
    """Start the cluster through the supervisor at the other end of ``channel``; the exit code."""
    try:
        if cfg.join_control_plane:
            cfg = await asyncio.to_thread(_join_control_plane, cfg)
            log.info("joined the control plane of %s: etcd %s", cfg.join_control_plane, cfg.etcd_servers)
        # Before anything starts: the apiserver serves these, every component authenticates
        # with them, and waiting for readiness already needs the CA.
        await asyncio.to_thread(credentials.prepare, cfg)
    except (OSError, ValueError, tlsbootstrap.JoinError) as e:
        log.error("minik8s cannot issue its credentials: %s", e)
        return 1
    # This host's apiserver alone (--server): readiness is its own, never another's by failover.
    access = kubeconfig.load(str(cfg.kubeconfig_path)).resolve()
    client = ApiClient.from_connection(connection.from_access(access, server=cfg.server_url), timeout=5.0,
                                       user_agent="minik8s-up", namespace=access.namespace)
    try:
        await _start(cfg, channel, StateView(cfg.data_dir), client, out)
        return 0
    except Exception as e:  # readiness.ComponentFailed, a component that cannot start, an API error
        log.error("minik8s cannot start: %s", e)
        return 1
    finally:
        await client.close()
