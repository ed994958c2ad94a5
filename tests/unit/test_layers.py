"""The layering of DESIGN.md holds: import-linter checks the contracts in pyproject.toml
(components independent of each other, the shared package importing none of them and layered
inside, no import cycle in any package beyond the listed ones, only the container runtime
speaking Docker)."""

import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))
    assert exe, "import-linter is part of the test extra (pip install -e '.[test]')"
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
