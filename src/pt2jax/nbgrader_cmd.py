"""The one way pt2jax runs an nbgrader command: nbgrader's own entry point in this interpreter
(``python -m pt2jax.nbgrader_cmd ARGS``, the same as ``python -m nbgrader ARGS`` but for
:func:`skip_slow_iri_checker`), in a course directory, with the virtualenv's tools on PATH (nbgrader
runs ``alembic`` by name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .config import tool_env
from .errors import GradingError

__all__ = ["run_nbgrader", "skip_slow_iri_checker"]


def skip_slow_iri_checker() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    nbformat validates notebooks with jsonschema, whose ``_format`` module imports every format
    checker eagerly; ``rfc3987_syntax`` (the non-GPL checker of the ``iri`` formats, which no notebook
    or nbgrader schema uses) builds its Lark grammars at import: ~1.2 s of CPU in every process that
    imports nbformat, ~2 s of an nbgrader command's start on this machine (python-jsonschema/jsonschema
    issue #1428). Marked absent, jsonschema skips the ``iri`` checkers and nothing else changes.
    Call it at a process's entry, before anything imports jsonschema; it changes nothing after.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def run_nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in course ``root``; with ``check``, raise GradingError with its log on failure."""
    proc = subprocess.run([sys.executable, "-m", "pt2jax.nbgrader_cmd", *args], cwd=root,
                          capture_output=True, text=True, env=tool_env())
    if check and proc.returncode != 0:
        raise GradingError(f"nbgrader {' '.join(args)} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc


if __name__ == "__main__":
    skip_slow_iri_checker()
    from nbgrader.apps.nbgraderapp import main

    sys.argv[0] = "nbgrader"
    sys.exit(main())
