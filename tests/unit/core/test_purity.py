"""The core is pure: every module of workflows.core imports with temporalio unavailable."""

from __future__ import annotations

import subprocess
import sys

# Runs in a fresh interpreter: temporalio is made unimportable before anything is imported,
# then every module under workflows.core is imported by walking the package.
SCRIPT = """
import importlib, importlib.abc, pkgutil, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "temporalio" or name.startswith("temporalio."):
            raise ImportError(f"the pure core imported {name}")
        return None

sys.meta_path.insert(0, Block())
import workflows.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "workflows.core.")]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("temporalio", "sqlalchemy", "httpx"))
print(len(names), leaked)
"""


def test_every_core_module_imports_without_temporalio() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    count, leaked = done.stdout.split(" ", 1)
    assert int(count) >= 20  # the walk found the package's modules
    assert leaked.strip() == "[]"
