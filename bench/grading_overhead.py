"""Grading overhead: plain execution of each solution notebook (nbclient, no sandbox) vs its full
`pt2jax grade` (restore, sandboxed execute, probe, judge, record), side by side in one run.

Target (grader-engine issue): extra time <= max(5 s, 30 % of the plain run) per notebook. The extra
time splits into "checks" (the student's own functions running on the grade-time inputs, which a
plain run never does: JAX compiles them for new shapes) and "engine" (everything else the grader
adds: CLI start, sandbox, kernel start/stop, pytest, probe round trips).
"Cached" is the same grade reading the compilation cache the solution warmed (read-only, as every
student's grade in a batch reads it; issue 16 item 4), for a student whose grade-time inputs differ
from the warming run's.
Run: .venv/bin/python -m bench.grading_overhead [--repeat N]
"""

from __future__ import annotations

import argparse
import json
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


def full_grade(notebook: Path, assignment: str, cache: Path | None = None) -> tuple[float, float]:
    """Seconds for `pt2jax grade` on the same notebook, as a grader runs it, and the seconds of it
    the checks spent waiting for the student's functions on grade-time inputs (the report's timings)."""
    start = time.perf_counter()
    extra = ["--compile-cache", str(cache)] if cache is not None else []
    proc = subprocess.run([sys.executable, "-m", "pt2jax", "--course", str(ROOT), "grade", str(notebook),
                           "--assignment", assignment, "--seed", "0", "--student", "bench", "--json", *extra],
                          check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, float(json.loads(proc.stdout)["timings"].get("probes_s", 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: every solution)")
    args = parser.parse_args()
    from pt2jax.config import CourseDir
    from pt2jax.grade.compile_cache import warm

    print(f"{'assignment':<14} {'plain s':>8} {'graded s':>9} {'extra s':>8} {'checks s':>9} {'engine s':>9}"
          f" {'budget s':>9}  verdict (engine) | {'cached s':>8} {'checks s':>9} {'saved':>6}")
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
            cache = warm(CourseDir(ROOT), assignment, 0, folder=Path(tmp) / "jax-cache")
            assert cache is not None, f"{assignment}: the solution did not warm a cache"
            plain, graded, checks, cached, cached_checks = [], [], [], [], []
            for _ in range(args.repeat):  # interleaved, so drift hits all alike
                plain.append(plain_run(copy))
                wall, probes = full_grade(copy, assignment)
                graded.append(wall)
                checks.append(probes)
                wall, probes = full_grade(copy, assignment, cache.path)
                cached.append(wall)
                cached_checks.append(probes)
        p, g, c = statistics.median(plain), statistics.median(graded), statistics.median(checks)
        gc, cc = statistics.median(cached), statistics.median(cached_checks)
        budget = max(5.0, 0.3 * p)
        engine = g - p - c
        verdict = "ok" if engine <= budget else "OVER"
        print(f"{assignment:<14} {p:8.1f} {g:9.1f} {g - p:8.1f} {c:9.1f} {engine:9.1f} {budget:9.1f}  {verdict:<16}"
              f" | {gc:8.1f} {cc:9.1f} {1 - gc / g:6.0%}  (medians of {args.repeat}; graded/plain {g / p:.2f})")


if __name__ == "__main__":
    main()
