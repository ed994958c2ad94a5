"""What a mkctl command imports: it runs in a fresh interpreter (as the console script does)
and reports the modules loaded beyond the interpreter's own start-up, for the import budget
tests of issue #18 (tests/unit/test_mkctl_startup.py, tests/integration/test_mkctl_import_budget.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_PROBE = """import sys
before = set(sys.modules)
from minik8s.cli import main
code = main.run(sys.argv[2:])
sys.stdout.flush()
after = set(sys.modules)
import json
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(after - before)}, f)
"""

# Never on the path of the commands measured: each costs 10-100 ms to import.
HEAVY = ("aiohttp", "pydantic", "pydantic_core", "asyncio", "orjson", "httpx", "http.client", "email",
         "urllib.request", "shutil", "tempfile", "minik8s.api.schema", "minik8s.api.core", "minik8s.api.base",
         "minik8s.patchschema", "minik8s.client.rest", "minik8s.client.informer")


def imported_by(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> tuple[int, set[str]]:
    """(exit status, modules imported) of ``mkctl ARGS`` in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="mkctl-imports-") as tmp:
        out = Path(tmp) / "modules.json"
        full_env = {**os.environ, "HOME": tmp, "KUBECACHEDIR": str(Path(tmp) / "cache"), **(env or {})}
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(out), *args], cwd=REPO, env=full_env,
                              capture_output=True, text=True, input=input, timeout=60)
        assert out.exists(), f"mkctl {' '.join(args)} did not finish: {proc.stderr[-2000:]}"
        result = json.loads(out.read_text())
    return result["code"], set(result["modules"])


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "minik8s" or m.startswith("minik8s.")}
