"""What importing a component's code loads (issue #15, the idle footprint of ``minik8s up``):
each of these libraries costs every process that imports it several MiB for good, and the
components below have no use for them at start.

* pydantic (and the API models of ``minik8s/api/``, ~10 MiB): no module of the scheduler,
  the controller-manager or the kubelet imports it; the names they compare with live in
  :mod:`minik8s.api.wellknown`.
* cryptography (~9 MiB): the scheduler imports it nowhere; the kubelet only in
  ``kubelet.server_certificate`` (serving certificates asked of the cluster by a joined node,
  ``--rotate-server-certificates``). The control loops' secure ports serve the certificates
  ``minik8s up`` made for them (``--tls-cert-file``; ``tests/unit/test_up_config.py``).
* httpx and, through it, rich and pygments (~5 MiB): neither the scheduler nor the kubelet
  imports it at module level (the kubelet's httpGet probes import it on first use).
* PyYAML (~1.4 MiB): a component reads its kubeconfig without it
  (:mod:`minik8s.client.blockyaml`), the controller-manager's root CA publisher included.
* aiohttp (~7 MiB) in the apiserver: only port-forward's relay uses it, imported on first use.

Each check imports every module of the component's package in a fresh interpreter, so it is
about imports only: what a function imports when it runs (a lazy ``import``) is not seen here.
The footprint itself is measured by ``tests/perf/footprint_bench.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

# For each library: the modules whose import loaded it first, per package.
_PROBE = """
import importlib, json, pkgutil, sys
pkg = importlib.import_module(sys.argv[1])
heavy = sys.argv[2].split(",")
first = {}
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    before = {h for h in heavy if h in sys.modules}
    importlib.import_module(info.name)
    for h in heavy:
        if h in sys.modules and h not in before:
            first[h] = info.name
print(json.dumps(first))
"""

_HEAVY = ("pydantic", "cryptography", "httpx", "rich", "yaml")


def _first_importers(package: str) -> dict[str, str]:
    r = subprocess.run([sys.executable, "-c", _PROBE, package, ",".join(_HEAVY)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    result: dict[str, str] = json.loads(r.stdout)
    return result


@pytest.mark.parametrize(("package", "allowed"), [
    ("scheduler", {}),
    ("kubelet", {"cryptography": "kubelet.server_certificate"}),
    # the controller-manager loads cryptography at start anyway (the ServiceAccount key of the
    # tokens controller, the CA of the CSR signer), and httpx is none of its business either
    ("controllers", None),
])
def test_component_modules_load_no_heavy_library_they_do_not_use(package: str, allowed: dict[str, str] | None) -> None:
    first = _first_importers(package)
    assert "pydantic" not in first, f"{first['pydantic']} imports pydantic (the API models) into the {package}"
    if allowed is None:
        assert not {"httpx", "rich", "yaml"} & set(first), first
        return
    assert first == allowed, f"{package}: library -> the first module whose import loaded it: {first}"


def test_the_apiservers_routes_load_no_aiohttp() -> None:
    # aiohttp is port-forward's relay client and nothing else of the apiserver's: the module
    # that routes exec, attach and port-forward imports apiserver.portforward on first use.
    code = ("import sys; import apiserver.main, apiserver.app, apiserver.exec, apiserver.subresources; "
            "print('aiohttp' in sys.modules, 'apiserver.portforward' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], r.stdout + r.stderr
