"""Running a supervised minik8s, for ``up`` and ``join`` alike: issue the credentials
(:mod:`~minik8s.up.credentials`), start the components in readiness order, show progress,
then keep everything running until Ctrl-C / SIGTERM and stop it in order.

Start order (k3s' "waiting for ..."): the apiserver (or, for ``join``, the remote one) must
answer ``/readyz`` before anything that talks to it starts; then the control loops and node
agents start together and ``up`` waits for every local node to be Ready before printing how
to use the cluster. A second Ctrl-C kills what is still stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import socket
import sys
from typing import TextIO

from minik8s.api import bootstraptoken
from minik8s.client import connection, kubeconfig
from minik8s.client.rest import ApiClient
from minik8s.up import components, credentials, readiness, tlsbootstrap, uploadcerts
from minik8s.up.config import UpConfig
from minik8s.up.state import Lock
from minik8s.up.supervisor import Supervisor, log

__all__ = ["run"]

NODE_READY_TIMEOUT = 120.0
CONTEXT = credentials.CONTEXT


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


async def _start(cfg: UpConfig, sup: Supervisor, client: ApiClient, out: TextIO) -> None:
    table = components.build(cfg)
    for c in table:
        if c.wave == 0:
            sup.start(c)
    if cfg.mode == "join" or any(c.wave == 0 for c in table):
        await readiness.wait_apiserver(client, sup)
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
            await uploadcerts.upload(client, cfg.cert_dir, cfg.data_dir, _etcd_servers(cfg), certificate_key,
                                     join_token)
    for c in table:
        if c.wave > 0:
            sup.start(c)
    ready = await readiness.wait_nodes(client, cfg.node_names(), sup, timeout=NODE_READY_TIMEOUT)
    _banner(cfg, ready, out, join_token, certificate_key)


def _etcd_servers(cfg: UpConfig) -> str:
    """The etcd servers this host's apiserver is given (as its command line has them)."""
    api = next(c for c in components.build(cfg) if c.kind == "apiserver")
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


async def run(cfg: UpConfig, *, out: TextIO = sys.stdout) -> int:
    """Run until a signal; returns the process exit code. Preflight must have passed."""
    lock = Lock(cfg.data_dir)
    if not lock.acquire():
        log.error("minik8s is already running from %s", cfg.data_dir)
        return 1
    try:
        if cfg.join_control_plane:
            cfg = await asyncio.to_thread(_join_control_plane, cfg)
            log.info("joined the control plane of %s: etcd %s", cfg.join_control_plane, cfg.etcd_servers)
        # Before anything starts: the apiserver serves these, every component authenticates
        # with them, and waiting for readiness already needs the CA.
        await asyncio.to_thread(credentials.prepare, cfg)
    except (OSError, ValueError, tlsbootstrap.JoinError) as e:
        log.error("minik8s cannot issue its credentials: %s", e)
        lock.release()
        return 1
    # This host's apiserver alone (--server): readiness is its own, never another's by failover.
    access = kubeconfig.load(str(cfg.kubeconfig_path)).resolve()
    client = ApiClient.from_connection(connection.from_access(access, server=cfg.server_url), timeout=5.0,
                                       user_agent="minik8s-up", namespace=access.namespace)
    sup = Supervisor(cfg.data_dir, info={
        "mode": cfg.mode, "server": cfg.server_url, "dataDir": str(cfg.data_dir), "nodes": cfg.node_names(),
        "kubeconfig": str(cfg.kubeconfig_path) if cfg.mode == "up" else None})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: killing every component now", signal.Signals(signum).name)
            sup.kill_all()
            return
        log.info("%s: stopping minik8s (pods' containers keep running)", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    code = 0
    try:
        startup = asyncio.create_task(_start(cfg, sup, client, out), name="startup")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait([startup, stopper], return_when=asyncio.FIRST_COMPLETED)
        if startup.done():
            exc = startup.exception()
            if exc is not None:
                log.error("minik8s cannot start: %s", exc)
                code = 1
            else:
                await stopper
        else:
            startup.cancel()
            await asyncio.gather(startup, return_exceptions=True)
        stopper.cancel()
    finally:
        await sup.stop()
        await client.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        lock.release()
    log.info("minik8s stopped")
    return code
