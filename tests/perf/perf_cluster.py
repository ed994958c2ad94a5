"""What the benchmarks share to run an apiserver as users run it: HTTPS with the CA and admin
credentials it makes for itself under its data dir, reached through the kubeconfig it writes."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent.parent


def start_apiserver(data_dir: Path, port: int, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "apiserver.main", "--data-dir", str(data_dir), "--port", str(port),
                             "--log-level", "warning", *extra], cwd=REPO, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)


def url(port: int) -> str:
    return f"https://127.0.0.1:{port}"


def kubeconfig(data_dir: Path) -> Path:
    """The admin kubeconfig the apiserver wrote (CA and a system:masters certificate)."""
    return Path(data_dir) / "kubeconfig"


def ssl_context(data_dir: Path) -> ssl.SSLContext:
    pki = Path(data_dir) / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def wait_ready(data_dir: Path, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kubeconfig(data_dir).exists():
            try:
                if httpx.get(f"{url(port)}/readyz", timeout=1, verify=ssl_context(data_dir)).status_code == 200:
                    return
            except (httpx.HTTPError, OSError):
                pass
        time.sleep(0.05)
    raise SystemExit(f"the apiserver on port {port} was not ready within {timeout}s")


def node_ready(data_dir: Path, port: int, node: str, timeout: float = 60) -> None:
    """Wait for ``node`` to be registered and Ready (its kubelet is up)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url(port), verify=ssl_context(data_dir), timeout=2) as c:
        while time.monotonic() < deadline:
            try:
                r = c.get(f"/api/v1/nodes/{node}")
                if r.status_code != 200:  # not registered yet: the body is a Status, whose status is a string
                    time.sleep(0.1)
                    continue
                conds = {x["type"]: x["status"] for x in (r.json().get("status") or {}).get("conditions") or []}
                if conds.get("Ready") == "True":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
    raise SystemExit(f"node {node} not Ready within {timeout}s")

