"""Grading overhead: plain execution of each solution notebook (nbclient, no sandbox) vs its full
`pt2jax grade` (restore, sandboxed execute, probe, judge, record), side by side in one run.

Target (grader-engine issue): extra time <= max(5 s, 30 % of the plain run) per notebook.
Run: .venv/bin/python -m bench.grading_overhead [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def plain_run(notebook: Path) -> float:
    """Seconds to execute the notebook in a fresh kernel, nothing else."""
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return time.perf_counter() - start


def full_grade(notebook: Path, assignment: str) -> float:
    """Seconds for `pt2jax grade` on the same notebook, as a grader runs it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pt2jax", "--course", str(ROOT), "grade", str(notebook),
                    "--assignment", assignment, "--seed", "0", "--json"],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: every solution)")
    args = parser.parse_args()
    print(f"{'assignment':<14} {'plain s':>8} {'graded s':>9} {'extra s':>8} {'budget s':>9}  verdict")
    for notebook in sorted(ROOT.glob("solutions/*/*.ipynb")):
        assignment = notebook.parent.name
        if args.assignments and assignment not in args.assignments:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / notebook.name
            copy.write_bytes(notebook.read_bytes())
            for helper in notebook.parent.iterdir():
                if helper.suffix != ".ipynb":
                    (Path(tmp) / helper.name).write_bytes(helper.read_bytes())
            plain, graded = [], []
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                plain.append(plain_run(copy))
                graded.append(full_grade(copy, assignment))
        p, g = statistics.median(plain), statistics.median(graded)
        budget = max(5.0, 0.3 * p)
        verdict = "ok" if g - p <= budget else "OVER"
        print(f"{assignment:<14} {p:8.1f} {g:9.1f} {g - p:8.1f} {budget:9.1f}  {verdict}"
              f"  (medians of {args.repeat}; ratio {g / p:.2f})")


if __name__ == "__main__":
    main()
