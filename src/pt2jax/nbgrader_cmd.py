"""The one way pt2jax runs an nbgrader command: ``python -m nbgrader`` of this interpreter, in a
course directory, with the virtualenv's tools on PATH (nbgrader runs ``alembic`` by name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .config import tool_env
from .errors import GradingError

__all__ = ["run_nbgrader"]


def run_nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in course ``root``; with ``check``, raise GradingError with its log on failure."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root,
                          capture_output=True, text=True, env=tool_env())
    if check and proc.returncode != 0:
        raise GradingError(f"nbgrader {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc
